"""The compiled sampler against the teacher-forced decoder and the temperature formulas."""
import numpy as np
import pytest
import tensorflow as tf

from sketch_rnn_tf import hparams, mdn, strokes
from sketch_rnn_tf.model import SketchRNN
from sketch_rnn_tf.sampler import Sampler, draw_point, temperature_params


def model_for(overrides):
  import keras
  keras.utils.set_random_seed(0)
  m = SketchRNN(hparams.get("tiny", overrides), scale_factor=3.0)
  m.build()
  # Larger random output weights than the initial ones, so every term matters.
  rng = np.random.default_rng(0)
  for v in m.decoder.head.weights:
    v.assign(rng.normal(0, 0.3, v.shape).astype(np.float32))
  return m


@pytest.mark.parametrize("overrides", ["", "dec_model=hyper", "conditional=false,num_classes=3"])
def test_greedy_samples_are_the_teacher_forced_argmax(overrides):
  m = model_for(overrides)
  sampler = Sampler(m)
  labels = np.array([0, 2]) if m.hp.num_classes else None
  z = np.random.default_rng(1).normal(size=(2, m.hp.z_size)).astype(np.float32) \
      if m.hp.conditional else None
  s5, lengths = sampler.sample(num=2, z=z, labels=labels, greedy=True, max_len=30, seed=4)
  # Feed the drawn points back, teacher-forced, and read the greedy choices off the MDN.
  inputs = np.concatenate([np.tile(strokes.START_TOKEN, (2, 1, 1)), s5[:, :-1]], axis=1)
  y, _ = m.decoder(tf.constant(inputs), None if z is None else tf.constant(z),
                   None if labels is None else tf.constant(labels))
  p = {k: v.numpy() for k, v in mdn.split_params(y, m.hp.num_mixture).items()}
  for b in range(2):
    for t in range(int(lengths[b]) + 1 if lengths[b] < 30 else 30):
      assert s5[b, t, 2:].argmax() == p["q_logits"][b, t].argmax()
      if t == lengths[b]:
        break  # the end row: no offset
      j = p["pi_logits"][b, t].argmax()
      assert s5[b, t, 0] == pytest.approx(p["mu_x"][b, t, j], abs=1e-4)
      assert s5[b, t, 1] == pytest.approx(p["mu_y"][b, t, j], abs=1e-4)


def test_stop_handling_and_seeds():
  m = model_for("")
  sampler = Sampler(m)
  s5, lengths = sampler.sample(num=64, temperature=1.0, max_len=40, seed=7)
  for s, n in zip(s5, lengths):
    ends = np.flatnonzero(s[:, 4] > 0)
    if n < 40:
      assert ends[0] == n and (s[n:] == strokes.END_TOKEN).all()
    else:
      assert len(ends) == 0
    np.testing.assert_array_equal(s[:, 2:].sum(1), 1)
  again, _ = sampler.sample(num=64, temperature=1.0, max_len=40, seed=7)
  other, _ = sampler.sample(num=64, temperature=1.0, max_len=40, seed=8)
  np.testing.assert_array_equal(s5, again)
  assert not np.array_equal(s5, other)
  sketches = sampler.to_stroke3_pixels(s5, lengths)
  assert [len(s) for s in sketches] == list(lengths)
  np.testing.assert_allclose(sketches[0][:, :2], s5[0, :lengths[0], :2] * 3.0, rtol=1e-6)


@pytest.mark.parametrize("tau", [1.0, 0.5, 0.1])
def test_temperature_statistics(tau):
  n = 40000
  mu_x, mu_y, sx, sy, rho = 0.5, -1.0, 2.0, 0.5, 0.6
  q_logits = np.log([0.6, 0.3, 0.1])
  params = {
      "pi_logits": tf.constant(np.tile([[0.0, -50.0]], (n, 1)), tf.float32),
      "mu_x": tf.constant(np.tile([[mu_x, 9.0]], (n, 1)), tf.float32),
      "mu_y": tf.constant(np.tile([[mu_y, 9.0]], (n, 1)), tf.float32),
      "log_sx": tf.constant(np.tile([[np.log(sx), 0.0]], (n, 1)), tf.float32),
      "log_sy": tf.constant(np.tile([[np.log(sy), 0.0]], (n, 1)), tf.float32),
      "rho": tf.constant(np.tile([[rho, 0.0]], (n, 1)), tf.float32),
      "q_logits": tf.constant(np.tile(q_logits, (n, 1)), tf.float32),
  }
  pts = draw_point(temperature_params(params, tau), tf.constant([3, 5])).numpy()
  dx, dy = pts[:, 0].astype(np.float64), pts[:, 1].astype(np.float64)
  se = 4 / np.sqrt(n)  # about four standard errors
  assert dx.mean() == pytest.approx(mu_x, abs=4 * sx * np.sqrt(tau) / np.sqrt(n))
  assert dy.mean() == pytest.approx(mu_y, abs=4 * sy * np.sqrt(tau) / np.sqrt(n))
  assert dx.var() == pytest.approx(sx ** 2 * tau, rel=4 * np.sqrt(2 / n))
  assert dy.var() == pytest.approx(sy ** 2 * tau, rel=4 * np.sqrt(2 / n))
  assert np.corrcoef(dx, dy)[0, 1] == pytest.approx(rho, abs=se)
  q = np.exp(q_logits / tau) / np.exp(q_logits / tau).sum()
  np.testing.assert_allclose(pts[:, 2:].mean(0), q, atol=se)


def test_greedy_is_deterministic_and_ignores_the_seed():
  m = model_for("")
  sampler = Sampler(m)
  z = np.zeros((3, m.hp.z_size), np.float32)
  a, _ = sampler.sample(z=z, greedy=True, max_len=25, seed=1)
  b, _ = sampler.sample(z=z, greedy=True, max_len=25, seed=99)
  np.testing.assert_array_equal(a, b)
