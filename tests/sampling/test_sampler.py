"""The compiled sampler against the teacher-forced decoder and the temperature formulas."""
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from sketch_rnn_tf.data import strokes
from sketch_rnn_tf.layers import mdn
from sketch_rnn_tf.model import hparams
from sketch_rnn_tf.model.sketch_rnn import SketchRNN
from sketch_rnn_tf.sampling.sampler import draw_point, make_noise, Sampler, temperature_params
from sketch_rnn_tf.testing import require_kernels, tiny_model as model_for


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
  pts = draw_point(temperature_params(params, tau), make_noise(3, 1, n)[0]).numpy()
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


def _softmax64(v):
  v = np.asarray(v, np.float64)
  e = np.exp(v - v.max())
  return e / e.sum()


def _numpy_draw(p, noise, tau):
  """One point from MDN parameters and noise, in float64, from the paper's formulas."""
  u_mix, u_pen, e1, e2 = np.asarray(noise, np.float64)
  j = min(int(np.searchsorted(np.cumsum(_softmax64(p["pi_logits"] / tau)), u_mix, "right")),
          len(p["pi_logits"]) - 1)
  pen = min(int(np.searchsorted(np.cumsum(_softmax64(p["q_logits"] / tau)), u_pen, "right")), 2)
  sx, sy = np.exp(p["log_sx"][j]) * np.sqrt(tau), np.exp(p["log_sy"][j]) * np.sqrt(tau)
  rho = p["rho"][j]
  return (p["mu_x"][j] + sx * e1, p["mu_y"][j] + sy * (rho * e1 + np.sqrt(1 - rho ** 2) * e2),
          pen)


@pytest.mark.parametrize("loop", ["xla", "fused"])
@pytest.mark.parametrize("overrides", ["", "dec_model=hyper", "dec_model=layer_norm",
                                       "conditional=false,num_classes=3"])
def test_each_sampled_point_follows_the_teacher_forced_mixture(overrides, loop):
  """Every step of the loop (compiled by XLA, or the fused drawing op) draws, with its
  noise, exactly what a float64 draw from the teacher-forced decoder's parameters
  gives: the loop's per-step mixture parameters are the model's."""
  from sketch_rnn_tf.sampling import sampler as sampler_lib
  if loop == "fused":
    require_kernels()
  m = model_for(overrides)
  bias = m.decoder.head.weights[-1]
  bias.assign(bias.numpy() - 3.0 * (np.arange(bias.shape[0]) == 2))  # end-of-sketch rarer
  sampler = Sampler(m, fused=loop == "fused")
  batch, steps, tau, seed = 8, 25, 0.7, 11
  labels = np.arange(batch) % 3 if m.hp.num_classes else None
  z = np.random.default_rng(2).normal(size=(batch, m.hp.z_size)).astype(np.float32) \
      if m.hp.conditional else None
  s5, lengths = sampler.sample(num=batch, z=z, labels=labels, temperature=tau, max_len=steps,
                               seed=seed)
  noise = sampler_lib.make_noise(seed, steps, batch).numpy()
  inputs = np.concatenate([np.tile(strokes.START_TOKEN, (batch, 1, 1)), s5[:, :-1]], axis=1)
  y, _ = m.decoder(tf.constant(inputs), None if z is None else tf.constant(z),
                   None if labels is None else tf.constant(labels))
  p = {k: v.numpy().astype(np.float64) for k, v in mdn.split_params(y, m.hp.num_mixture).items()}
  checked = 0
  for b in range(batch):
    for t in range(min(int(lengths[b]) + 1, steps)):
      dx, dy, pen = _numpy_draw({k: v[b, t] for k, v in p.items()}, noise[t, b], tau)
      assert s5[b, t, 2:].argmax() == pen, (b, t)
      if pen == 2:
        break
      np.testing.assert_allclose(s5[b, t, :2], [dx, dy], atol=1e-4 * (1 + abs(dx) + abs(dy)))
      checked += 1
  assert checked >= 20


@pytest.mark.parametrize("tau", [1.0, 0.4])
def test_mixture_and_pen_choices_follow_the_tempered_softmax(tau):
  n = 40000
  pi_logits = np.log([0.5, 0.3, 0.15, 0.05])
  params = {k: tf.zeros([n, 4]) for k in ("mu_x", "mu_y", "log_sx", "log_sy", "rho")}
  params["mu_x"] = tf.constant(np.tile([[0.0, 1.0, 2.0, 3.0]], (n, 1)), tf.float32)
  params["pi_logits"] = tf.constant(np.tile(pi_logits, (n, 1)), tf.float32)
  params["q_logits"] = tf.constant(np.tile(np.log([0.2, 0.7, 0.1]), (n, 1)), tf.float32)
  pts = draw_point(temperature_params(params, tau), make_noise(5, 1, n)[0], greedy=False).numpy()
  se = 4 * np.sqrt(0.25 / n)
  expected_pen = _softmax64(np.log([0.2, 0.7, 0.1]) / tau)
  np.testing.assert_allclose(pts[:, 2:].mean(0), expected_pen, atol=se)
  # Mixture frequencies: with all sigmas ~0 the offset is the chosen mean itself.
  params["log_sx"] = tf.fill([n, 4], -30.0)
  params["log_sy"] = tf.fill([n, 4], -30.0)
  pts = draw_point(temperature_params(params, tau), make_noise(6, 1, n)[0]).numpy()
  freq = np.bincount(np.rint(pts[:, 0]).astype(int), minlength=4) / n
  np.testing.assert_allclose(freq, _softmax64(pi_logits / tau), atol=se)


def test_a_longer_max_len_extends_the_same_drawing():
  m = model_for("")
  sampler = Sampler(m)
  short, _ = sampler.sample(num=8, temperature=0.8, max_len=15, seed=3)
  long, _ = sampler.sample(num=8, temperature=0.8, max_len=40, seed=3)
  np.testing.assert_allclose(long[:, :15], short, atol=1e-5)


@pytest.mark.parametrize("overrides", ["", "dec_model=hyper,conditional=false"])
def test_priming_gives_the_teacher_forced_state(overrides):
  """After prime(partial), one step from (state, prev) yields the MDN output that the
  teacher-forced decoder produces at that position of the whole sketch."""
  from sketch_rnn_tf.sampling import sampler as sampler_lib
  m = model_for(overrides)
  sampler = Sampler(m)
  rng = np.random.default_rng(3)
  full = np.concatenate([rng.normal(0, 6, (30, 2)), (rng.random((30, 1)) < 0.2)], 1)
  full = full.astype(np.float32)
  n = 17
  z = rng.normal(size=(1, m.hp.z_size)).astype(np.float32) if m.hp.conditional else None
  state, prev = sampler.prime([full[:n]], z=z)
  cond = m.decoder.conditioning(None if z is None else tf.constant(z), None)
  y_step, _ = sampler_lib.decoder_step(m.decoder, cond, state, tf.constant(prev))
  s5 = strokes.to_stroke5(strokes.normalize(full, m.scale_factor), 30, start_token=True)
  y_full, _ = m.decoder(tf.constant(s5[None, :-1]), None if z is None else tf.constant(z))
  np.testing.assert_allclose(y_step.numpy()[0], y_full.numpy()[0, n], atol=1e-5)
  endings = sampler.complete(full[:n], num=3, temperature=0.5, seed=1, z=z)
  assert len(endings) == 3
  for e in endings:
    np.testing.assert_array_equal(e[:n], full[:n])
  assert len({len(e) for e in endings} | {e[n:].tobytes() for e in endings}) > 1


@pytest.mark.parametrize("loop", ["xla", "graph", "fused"])
def test_bfloat16_weights_draw_with_the_same_statistics(loop):
  """The drawing path of CPUs (the fused loop) and GPUs: each step reads its matmul
  weights in bfloat16. The same noise must give sketches whose statistics agree with
  float32 to within sampling error, while the drawings are not bit-identical."""
  if loop == "fused":
    require_kernels()
  m = model_for("dec_model=hyper")
  kernel, bias = m.decoder.head.weights
  # A rare end of sketch (p ~ 2% a step), so that sketches run for tens of steps
  # and bfloat16's rounding has time to act on the recurrence.
  kernel.assign(tf.concat([kernel[:, :2], tf.zeros_like(kernel[:, 2:3]), kernel[:, 3:]], 1))
  bias.assign(tf.tensor_scatter_nd_update(bias, [[2]], [-4.0]))
  n, steps = 512, 50
  draws = {}
  for precision in ("float32", "bfloat16"):
    m.set_precision(precision)
    sampler = Sampler(m, jit_compile=loop == "xla", fused=loop == "fused")
    draws[precision] = sampler.sample(num=n, temperature=0.8, max_len=steps, seed=11)
  m.set_precision("float32")
  (a, la), (b, lb) = draws["float32"], draws["bfloat16"]
  assert not np.array_equal(a, b)
  assert la.mean() > 20

  def stats(s5, lengths):
    live = np.arange(steps)[None] < lengths[:, None]
    pts = s5[live]
    return {"length": lengths.mean(), "pen_up": pts[:, 3].mean(), "dx": pts[:, 0].mean(),
            "dy": pts[:, 1].mean(), "sx": pts[:, 0].std(), "sy": pts[:, 1].std()}, pts

  (sa, pa), (sb, pb) = stats(a, la), stats(b, lb)
  # Five standard errors of a difference of two independent estimates.
  se = {"length": np.sqrt(2 * la.var() / n), "pen_up": np.sqrt(2 * pa[:, 3].var() / len(pa)),
        "dx": np.sqrt(2 * pa[:, 0].var() / len(pa)), "dy": np.sqrt(2 * pa[:, 1].var() / len(pa)),
        "sx": pa[:, 0].std() * np.sqrt(1 / len(pa)), "sy": pa[:, 1].std() * np.sqrt(1 / len(pa))}
  for k in sa:
    assert abs(sa[k] - sb[k]) <= 5 * se[k] + 1e-6, (k, sa[k], sb[k], se[k])


def _fused_and_reference(m, batch, steps, greedy, threads, primed, seed=4):
  """decode_loop (TensorFlow's ops, graph mode) and fused_decode_loop on the same inputs."""
  from sketch_rnn_tf.sampling import sampler as sampler_lib
  rng = np.random.default_rng(seed)
  z = (tf.constant(rng.normal(size=(batch, m.hp.z_size)), tf.float32) if m.hp.conditional
       else None)
  labels = tf.constant(np.arange(batch) % m.hp.num_classes) if m.hp.num_classes else None
  cond = m.decoder.conditioning(z, labels)
  state = [tf.cast(v, tf.float32) for v in m.decoder.initial_state(z, batch)]
  prev = tf.tile(tf.constant(strokes.START_TOKEN)[None], [batch, 1])
  if primed:   # a state in mid-drawing (as `complete` starts from), and a pen-down point
    state = [v + tf.constant(rng.normal(0, 0.3, v.shape), tf.float32) for v in state]
    prev = tf.constant([[0.4, -0.2, 1, 0, 0]] * batch, tf.float32)
  noise = make_noise(seed, steps, batch)
  ref = tf.function(sampler_lib.decode_loop, autograph=False)(
      m.decoder, cond, state, prev, 0.7, steps, noise, greedy)
  fused = tf.function(sampler_lib.fused_decode_loop, autograph=False)(
      m.decoder, cond, state, prev, 0.7, steps, noise, greedy, threads)
  return ref, fused


@pytest.mark.parametrize("overrides", ["", "dec_model=hyper", "dec_model=layer_norm",
                                       "dec_model=hyper,conditional=false,num_classes=3"])
def test_fused_loop_draws_what_decode_loop_draws(overrides):
  """The fused drawing op (float32 weights) against the loop of TensorFlow ops: the same
  points, lengths and final state, whether the batch is split between threads
  (threads <= batch), one sketch's products are shared by them, or one thread runs
  all; greedy or not; from the start token or from a primed state."""
  require_kernels()
  m = model_for(overrides)
  bias = m.decoder.head.weights[-1]
  bias.assign(bias.numpy() - 3.0 * (np.arange(bias.shape[0]) == 2))  # end-of-sketch rarer
  cases = [(7, 2, False, False), (1, 2, False, True), (5, 1, True, False), (2, 3, False, True)]
  for batch, threads, greedy, primed in cases:
    (s_ref, l_ref, st_ref), (s_fused, l_fused, st_fused) = _fused_and_reference(
        m, batch, 30, greedy, threads, primed)
    case = (batch, threads, greedy, primed)
    np.testing.assert_array_equal(l_fused.numpy(), l_ref.numpy(), err_msg=str(case))
    np.testing.assert_allclose(s_fused.numpy(), s_ref.numpy(), atol=2e-5, err_msg=str(case))
    assert len(st_fused) == len(st_ref)
    for a, b in zip(st_fused, st_ref):   # float32 rounding, summed over 30 steps
      np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-4, err_msg=str(case))
    assert l_ref.numpy().max() > 5, case   # sketches long enough for the state to matter


def test_fused_loop_refuses_bad_inputs_by_name():
  from sketch_rnn_tf.sampling import sampler as sampler_lib
  ops = require_kernels()
  m = model_for("dec_model=hyper")
  batch, steps = 2, 4
  state = [tf.zeros([batch, n]) for n in m.decoder.cell.state_size]
  prev = tf.tile(tf.constant(strokes.START_TOKEN)[None], [batch, 1])
  z = tf.zeros([batch, m.hp.z_size])
  cond = m.decoder.conditioning(z, None)
  with pytest.raises(tf.errors.InvalidArgumentError, match="temperature must be in"):
    sampler_lib.fused_decode_loop(m.decoder, cond, state, prev, 1.5, steps,
                                  make_noise(0, steps, batch))
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"noise must be \[T, B, 4\]"):
    sampler_lib.fused_decode_loop(m.decoder, cond, state, prev, 0.5, steps,
                                  make_noise(0, steps, batch + 1))
  # The op itself: a w_h of the wrong shape is named.
  args = [tf.zeros([1, 5]), tf.zeros([1, 4]), tf.zeros([1, 4]), tf.zeros([1, 0]),
          tf.zeros([1, 0]), tf.zeros([1, 16]), tf.zeros([1, 0]), tf.zeros([3, 1, 4]), 0.5,
          tf.zeros([5, 16]), tf.zeros([3, 16]), tf.zeros([16]), *[tf.zeros([0])] * 4,
          tf.zeros([5, 0]), *[tf.zeros([0])] * 8, tf.zeros([4, 9]), tf.zeros([9])]
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"w_h must be \[4,16\], got \[3,16\]"):
    ops.sketch_rnn_draw_loop(*args, kind="lstm")
  args[10] = tf.zeros([4, 16])
  s5, lengths, *_ = ops.sketch_rnn_draw_loop(*args, kind="lstm")   # the same, well formed
  assert s5.shape == (1, 3, 5) and lengths.shape == (1,)


def _bf16_64(x):
  """x rounded to bfloat16 (nearest even, as TensorFlow's Cast), in float64."""
  return tf.cast(tf.cast(tf.constant(x, tf.float32), tf.bfloat16), tf.float64).numpy()


def _greedy_lstm_reference(args, inputs, round_activations):
  """The plain LSTM decoder and mixture head of the fused loop, teacher-forced on
  `inputs` [B, T, 5], in float64 from the equations, every product's weights
  rounded to bfloat16 and, if asked, its activations too: the greedy point of
  each step [B, T, 5] and the margin of each argmax (pi, pen) [B, T, 2]."""
  c, h, const, w_x, w_h, bias, w_out, b_out = (np.asarray(a, np.float64) for a in args)
  w_h, w_out = _bf16_64(w_h), _bf16_64(w_out)
  act = _bf16_64 if round_activations else (lambda v: v)
  sig = lambda v: 1 / (1 + np.exp(-v))
  units, mix = c.shape[1], (w_out.shape[1] - 3) // 6
  points, margins = [], []
  for t in range(inputs.shape[1]):
    i, j, f, o = np.split(const + inputs[:, t] @ w_x + bias + act(h) @ w_h, 4, axis=1)
    c = c * sig(f + 1.0) + sig(i) * np.tanh(j)
    h = np.tanh(c) * sig(o)
    y = act(h) @ w_out + b_out
    q, pi = y[:, :3], y[:, 3:3 + mix]
    k, pen = pi.argmax(1), q.argmax(1)
    rows = np.arange(len(y))
    point = np.zeros((len(y), 5))
    point[:, 0], point[:, 1] = y[rows, 3 + mix + k], y[rows, 3 + 2 * mix + k]
    point[rows, 2 + pen] = 1
    points.append(point)
    margins.append([np.sort(pi, 1)[:, -1] - np.sort(pi, 1)[:, -2],
                    np.sort(q, 1)[:, -1] - np.sort(q, 1)[:, -2]])
  return np.stack(points, 1), np.moveaxis(np.array(margins), [0, 1], [1, 2])


@pytest.mark.parametrize("batch, threads", [(5, 1), (40, 1), (40, 2)])
def test_bfloat16_products_of_the_fused_loop_are_float32_sums_of_bfloat16_products(batch, threads):
  """The fused loop's bfloat16 products on this CPU (the AMX tiles for a loop of at least
  16 sketches where the CPU has them, else AVX512-BF16 dot products, both rounding the
  activations to bfloat16 too; elsewhere widened weights times float32 activations)
  against float64 from the equations with the same roundings: every greedy point
  of every sketch, teacher-forced on the op's own points."""
  from sketch_rnn_tf.layers import kernels
  from sketch_rnn_tf.utils.compute_path import read_cpuinfo
  ops = require_kernels()
  round_activations = ("avx512_bf16" in read_cpuinfo()[1]
                       and "-mno-avx512bf16" not in os.environ.get(kernels.ENV_FLAGS, ""))
  rng = np.random.default_rng(7)
  units, mix, steps = 40, 3, 12    # K = 40: 20 pairs, padded to whole tiles; 4H = 160: a partial panel
  normal = lambda scale, *shape: rng.normal(0, scale, shape).astype(np.float32)
  b_out = normal(0.1, 3 + 6 * mix)
  b_out[2] -= 2.0     # end of sketch rarer
  args = [normal(0.5, batch, units), normal(0.5, batch, units), normal(0.3, batch, 4 * units),
          normal(0.3, 5, 4 * units), normal(0.3, units, 4 * units), normal(0.1, 4 * units),
          normal(0.5, units, 3 + 6 * mix), b_out]
  c0, h0, const, w_x, w_h, bias, w_out, b_out = args
  empty, none = tf.zeros([0]), tf.zeros([batch, 0])
  s5, lengths, *_ = ops.sketch_rnn_draw_loop(
      tf.tile(tf.constant(strokes.START_TOKEN)[None], [batch, 1]), c0, h0, none, none, const,
      none, tf.zeros([steps, batch, 4]), 1.0, w_x, w_h, bias, *[empty] * 4, tf.zeros([5, 0]),
      *[empty] * 8, w_out, b_out, kind="lstm", bf16_weights=True, greedy=True, threads=threads)
  s5, lengths = s5.numpy(), lengths.numpy()
  inputs = np.concatenate([np.tile(strokes.START_TOKEN, (batch, 1, 1)), s5[:, :-1]], 1)
  ref, margins = _greedy_lstm_reference(args, inputs, round_activations)
  other, _ = _greedy_lstm_reference(args, inputs, not round_activations)
  checked, off, other_off = 0, [], 0
  for b in range(batch):
    for t in range(min(lengths[b] + 1, steps)):
      if margins[b, t].min() < 1e-4:    # a near tie: float32 sums may pick either
        continue
      np.testing.assert_array_equal(s5[b, t, 2:], ref[b, t, 2:], err_msg=str((b, t)))
      checked += 1
      if ref[b, t, 4] != 1:
        error = np.abs(s5[b, t, :2] - ref[b, t, :2]).max()
        if error > 2e-5:
          off.append((b, t, error))
        other_off += np.abs(s5[b, t, :2] - other[b, t, :2]).max() > 2e-5
  assert checked >= 0.9 * min(lengths.sum() + batch, batch * steps) and lengths.max() > 3
  # Within float32's sums, but for the rare activation within float32's error of a
  # bfloat16 rounding midpoint (rounded the other way: one bfloat16 step in one product).
  assert len(off) <= max(2, checked // 100) and all(e < 5e-3 for *_, e in off), off
  assert other_off > checked // 2   # the other rounding is told apart: the test sees which ran


# Run in a child process: it builds and loads a second kernel library, which
# must not meet this process's copy (every op would be registered twice).
WIDENING_CHECK = r"""
import numpy as np, tensorflow as tf
from sketch_rnn_tf.data import strokes
from sketch_rnn_tf.layers import kernels
from sketch_rnn_tf.sampling import sampler as sampler_lib
from sketch_rnn_tf.testing import tiny_model
assert kernels.load()[0] is not None, kernels.load()[1]
for overrides in ("", "dec_model=hyper", "dec_model=layer_norm"):
  m = tiny_model(overrides)
  bias = m.decoder.head.weights[-1]
  bias.assign(bias.numpy() - 3.0 * (np.arange(bias.shape[0]) == 2))
  batch, steps = 5, 30
  z = tf.constant(np.random.default_rng(1).normal(size=(batch, m.hp.z_size)), tf.float32)
  cond = m.decoder.conditioning(z, None)
  state = [tf.cast(v, tf.float32) for v in m.decoder.initial_state(z, batch)]
  prev = tf.tile(tf.constant(strokes.START_TOKEN)[None], [batch, 1])
  noise = sampler_lib.make_noise(3, steps, batch)
  m.set_precision("bfloat16")
  fused = sampler_lib.fused_decode_loop(m.decoder, cond, state, prev, 0.7, steps, noise)
  # The reference: TensorFlow's float32 loop on the weights the op multiplies, rounded.
  m.set_precision("float32")
  cell = m.decoder.cell
  rounded = [cell.w_h, m.decoder.head.dense.kernel]
  if cell.hyper is not None:
    rounded += [cell.hyper.w_h, cell.w_zxh, cell.w_zb, cell.w_alpha, cell.w_beta]
  for v in rounded:
    v.assign(tf.cast(tf.cast(v, tf.bfloat16), tf.float32))
  ref = tf.function(sampler_lib.decode_loop, autograph=False)(
      m.decoder, cond, state, prev, 0.7, steps, noise)
  np.testing.assert_array_equal(fused[1].numpy(), ref[1].numpy())
  np.testing.assert_allclose(fused[0].numpy(), ref[0].numpy(), atol=2e-5)
  assert ref[1].numpy().max() > 5
  print(overrides or "lstm", "lengths", ref[1].numpy())
print("OK")
"""


@pytest.mark.slow
def test_bfloat16_weights_without_the_dot_instruction_are_the_rounded_weights(tmp_path):
  """Where the CPU has no AVX512-BF16 (built here without it), the fused loop widens its
  bfloat16 weights to float32 and multiplies float32 activations: it must draw exactly
  what TensorFlow's float32 loop draws with those weights rounded to bfloat16."""
  require_kernels()
  from sketch_rnn_tf.layers import kernels
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  env[kernels.ENV_DIR] = str(tmp_path)
  env[kernels.ENV_FLAGS] = "-mno-avx512bf16"
  done = subprocess.run([sys.executable, "-c", WIDENING_CHECK], env=env, capture_output=True,
                        text=True, timeout=600, check=False)
  assert done.returncode == 0 and done.stdout.endswith("OK\n"), done.stdout + done.stderr[-3000:]
