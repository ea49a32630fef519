"""MDN likelihood, KL, masking, N_max normalisation and schedules vs float64 references."""
import math

import numpy as np
import pytest
import tensorflow as tf

from sketch_rnn_tf.data import strokes
from sketch_rnn_tf.layers import mdn
from sketch_rnn_tf.model import hparams, losses
from sketch_rnn_tf.model.optimizer import DecayToMinimum
from sketch_rnn_tf.model.sketch_rnn import SketchRNN

M = 4


def np_density(y, dx, dy):
  """float64 mixture density written out term by term (no log-sum-exp)."""
  y = np.asarray(y, np.float64)
  pi_logits, mu_x, mu_y, s_x, s_y, r = np.split(y[3:], 6)
  pi = np.exp(pi_logits) / np.exp(pi_logits).sum()
  sx, sy, rho = np.exp(s_x), np.exp(s_y), np.tanh(r)
  total = 0.0
  for j in range(M):
    zx, zy = (dx - mu_x[j]) / sx[j], (dy - mu_y[j]) / sy[j]
    z = zx * zx + zy * zy - 2 * rho[j] * zx * zy
    norm = 2 * math.pi * sx[j] * sy[j] * math.sqrt(1 - rho[j] ** 2)
    total += pi[j] * math.exp(-z / (2 * (1 - rho[j] ** 2))) / norm
  return total


def test_offset_and_pen_log_likelihood_match_direct_formulas():
  rng = np.random.default_rng(0)
  y = rng.normal(0, 0.7, (2, 5, 3 + 6 * M))
  dx, dy = rng.normal(0, 1, (2, 5)), rng.normal(0, 1, (2, 5))
  pen = np.eye(3)[rng.integers(0, 3, (2, 5))]
  params = mdn.split_params(tf.constant(y, tf.float32), M)
  got = mdn.offset_log_likelihood(params, tf.constant(dx, tf.float32), tf.constant(dy, tf.float32))
  got_pen = mdn.pen_log_likelihood(params, tf.constant(pen, tf.float32))
  for b in range(2):
    for t in range(5):
      assert float(got[b, t]) == pytest.approx(math.log(np_density(y[b, t], dx[b, t], dy[b, t])), abs=2e-5)
      q = np.exp(y[b, t, :3]) / np.exp(y[b, t, :3]).sum()
      assert float(got_pen[b, t]) == pytest.approx(float(pen[b, t] @ np.log(q)), abs=2e-6)


def test_far_off_point_stays_finite():
  y = np.zeros((1, 1, 3 + 6 * M), np.float32)
  y[..., 3 + 3 * M:3 + 5 * M] = -4.0  # tiny sigmas
  params = mdn.split_params(tf.constant(y), M)
  ll = mdn.offset_log_likelihood(params, tf.constant([[50.0]]), tf.constant([[-50.0]]))
  assert np.isfinite(ll.numpy()).all() and ll.numpy()[0, 0] < -1e5


@pytest.mark.parametrize("spread", [1.0, 8.0])   # 8: points far off, p << 1e-6
def test_reference_epsilon_is_log_of_density_plus_epsilon(spread):
  rng = np.random.default_rng(2)
  y = rng.normal(0, 0.7, (2, 5, 3 + 6 * M))
  dx, dy = rng.normal(0, spread, (2, 5)), rng.normal(0, spread, (2, 5))
  params = mdn.split_params(tf.constant(y, tf.float32), M)
  got = mdn.offset_log_likelihood(params, tf.constant(dx, tf.float32),
                                  tf.constant(dy, tf.float32), epsilon=1e-6)
  for b in range(2):
    for t in range(5):
      want = math.log(np_density(y[b, t], dx[b, t], dy[b, t]) + 1e-6)
      assert float(got[b, t]) == pytest.approx(want, abs=2e-5)
  assert float(tf.reduce_min(got)) >= math.log(1e-6) - 1e-5


def test_kl_matches_closed_form():
  rng = np.random.default_rng(1)
  mu, presig = rng.normal(size=(3, 6)), rng.normal(size=(3, 6))
  var = np.exp(presig)
  # KL(N(mu, var) || N(0, 1)) = 0.5 (var + mu^2 - 1 - log var), averaged over dims.
  expected = (0.5 * (var + mu ** 2 - 1 - np.log(var))).mean(axis=1)
  np.testing.assert_allclose(losses.kl_divergence(tf.constant(mu), tf.constant(presig)).numpy(),
                             expected, rtol=1e-12)


def test_schedules():
  hp = hparams.get("magenta")
  for step in (0, 1, 1000, 50000):
    w = hp.kl_weight - (hp.kl_weight - hp.kl_weight_start) * hp.kl_decay_rate ** step
    assert float(losses.kl_weight(step, hp)) == pytest.approx(w, rel=1e-5)
    lr = (hp.learning_rate - hp.min_learning_rate) * hp.decay_rate ** step + hp.min_learning_rate
    assert float(DecayToMinimum(hp.learning_rate, hp.decay_rate, hp.min_learning_rate)(step)) == \
        pytest.approx(lr, rel=1e-5)


def np_recon(y, s5_targets, length, n_max):
  """Per-sketch (L_s, L_p) from the density above: masked offsets, all pen steps."""
  l_s = -sum(math.log(np_density(y[t], *s5_targets[t, :2])) for t in range(length)) / n_max
  l_p = 0.0
  for t in range(len(s5_targets)):
    q = np.exp(y[t, :3]) / np.exp(y[t, :3]).sum()
    l_p -= float(s5_targets[t, 2:] @ np.log(q))
  return l_s, l_p / n_max


def test_reconstruction_masks_offsets_and_divides_by_n_max():
  rng = np.random.default_rng(2)
  lengths = [3, 6]
  targets = np.stack([strokes.to_stroke5(np.c_[rng.normal(size=(n, 2)), np.r_[np.zeros(n - 1), 1]], 8)
                      for n in lengths])
  y = rng.normal(0, 0.5, (2, 8, 3 + 6 * M))
  l_s, l_p, l_p_real = losses.reconstruction(tf.constant(y, tf.float32), tf.constant(targets),
                                              tf.constant(lengths), M, 250)
  for b, n in enumerate(lengths):
    ref_s, ref_p = np_recon(y[b], targets[b], n, 250)
    _, ref_p_real = np_recon(y[b], targets[b][:n], n, 250)
    assert float(l_s[b]) == pytest.approx(ref_s, abs=1e-6)
    assert float(l_p[b]) == pytest.approx(ref_p, abs=1e-6)
    assert float(l_p_real[b]) == pytest.approx(ref_p_real, abs=1e-6)


def test_bucketed_batch_equals_n_max_padding_but_for_padding_pen_terms():
  """The same sketches through the model padded to the batch's length and to N_max."""
  hp = hparams.get("tiny", "use_recurrent_dropout=false,max_seq_len=40")
  model = SketchRNN(hp)
  model.build()
  rng = np.random.default_rng(3)
  sk = [np.c_[rng.normal(0, 1, (n, 2)), np.r_[np.zeros(n - 1), 1]] for n in (5, 9, 12)]
  short = np.stack([strokes.to_stroke5(s, 13, start_token=True) for s in sk])
  full = np.stack([strokes.to_stroke5(s, 40, start_token=True) for s in sk])
  lengths = tf.constant([5, 9, 12])
  mu, presig = model.encoder(tf.constant(short[:, 1:]), lengths)
  mu_full, presig_full = model.encoder(tf.constant(full[:, 1:]), lengths)
  np.testing.assert_allclose(mu.numpy(), mu_full.numpy(), atol=1e-6)  # padding never read
  z = mu
  y_short, _ = model.decoder(tf.constant(short[:, :-1]), z)
  y_full, _ = model.decoder(tf.constant(full[:, :-1]), z)
  s_short, p_short, r_short = losses.reconstruction(y_short, short[:, 1:], lengths,
                                                    hp.num_mixture, 40)
  s_full, p_full, r_full = losses.reconstruction(y_full, full[:, 1:], lengths, hp.num_mixture, 40)
  np.testing.assert_allclose(r_short.numpy(), r_full.numpy(), atol=1e-6)
  np.testing.assert_allclose(s_short.numpy(), s_full.numpy(), atol=1e-6)
  # L_p differs exactly by the pen terms of the steps past the short batch's length.
  params = mdn.split_params(y_full[:, 13:], hp.num_mixture)
  extra = -tf.reduce_sum(mdn.pen_log_likelihood(params, full[:, 14:, 2:]), axis=1) / 40
  np.testing.assert_allclose(p_full.numpy(), (p_short + extra).numpy(), atol=1e-6)
  assert (extra.numpy() > 0).all()
