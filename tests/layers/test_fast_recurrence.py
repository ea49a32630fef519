"""fast_recurrence.unroll_fast against recurrence.unroll_autodiff: values and every gradient.

The plain LSTM's fused CPU kernel (`layers/kernels`, `CellSpec.fused`) is held to
the same references: autodiff of TensorFlow's ops and the float64 equations.
"""
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from sketch_rnn_tf.layers import kernels, lstm_math, recurrence
from sketch_rnn_tf.layers.fast_recurrence import unroll_fast
from sketch_rnn_tf.layers.lstm_cell import make_cell
from sketch_rnn_tf.testing import cell_weights, np_unroll, require_kernels

B, T, H, HH, E, D = 3, 7, 6, 5, 4, 5
KEEP = 0.8


def make(kind, keep=1.0, seed=0, fused=False, precision="float32", batch_parts=1):
  cell = make_cell(kind, H, hyper_units=HH, hyper_embedding_size=E, keep_prob=keep,
                   name=f"{kind}_rnn")
  cell.build((None, D))
  if fused:
    require_kernels()
  cell.set_matmul_dtype(precision, fused, batch_parts)
  rng = np.random.default_rng(seed)
  for v in cell.weights:  # random, non-initial weights: every term matters
    v.assign(rng.normal(0, 0.5, v.shape).astype(np.float32))
  return cell, rng


def inputs(cell, rng):
  g = 4 * H
  xw = tf.constant(rng.normal(0, 1, (B, T, g)), tf.float32)
  if cell.hyper is not None:
    xw = (xw, tf.constant(rng.normal(0, 1, (B, T, 4 * HH)), tf.float32))
  init = [tf.constant(rng.normal(0, 1, (B, n)), tf.float32) for n in cell.state_size]
  return xw, init


def loss_and_grads(fn, cell, xw, init, lengths, masks, up_out, up_state):
  """A random linear function of the outputs AND of the final state, and its gradients."""
  flat_xw = tf.nest.flatten(xw)
  with tf.GradientTape() as tape:
    tape.watch(flat_xw + init)
    out, state = fn(cell, xw, init, lengths, masks)
    loss = tf.reduce_sum(out * up_out) + tf.add_n(
        [tf.reduce_sum(s * u) for s, u in zip(state, up_state)])
  weights = cell.trainable_weights
  grads = tape.gradient(loss, flat_xw + init + weights)
  return out, state, grads, [v.path for v in weights]


def check(kind, use_lengths, use_masks, seed, fused=False, batch_parts=1):
  cell, rng = make(kind, KEEP if use_masks else 1.0, seed, fused, batch_parts=batch_parts)
  xw, init = inputs(cell, rng)
  lengths = tf.constant([T, 3, 5], tf.int32) if use_lengths else None
  masks = cell.dropout_masks([T, B], key=[seed, 3]) if use_masks else None
  up_out = tf.constant(rng.normal(0, 1, (B, T, H)), tf.float32)
  up_state = [tf.constant(rng.normal(0, 1, (B, n)), tf.float32) for n in cell.state_size]
  cell.set_matmul_dtype("float32")   # the reference: TensorFlow's ops
  ref = loss_and_grads(recurrence.unroll_autodiff, cell, xw, init, lengths, masks, up_out, up_state)
  cell.set_matmul_dtype("float32", fused, batch_parts)
  got = loss_and_grads(unroll_fast, cell, xw, init, lengths, masks, up_out, up_state)
  np.testing.assert_allclose(got[0].numpy(), ref[0].numpy(), atol=1e-5)
  assert len(got[1]) == len(ref[1])
  for a, b in zip(got[1], ref[1]):
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
  n_in = len(tf.nest.flatten(xw)) + len(init)
  labels = [f"input {i}" for i in range(n_in)] + ref[3]
  checked = 0
  for label, a, b in zip(labels, got[2], ref[2]):
    assert (a is None) == (b is None), label
    if b is None:  # w_x: used by project_inputs, not by the recurrence
      assert "w_x" in label, label
      continue
    a, b = tf.convert_to_tensor(a).numpy(), tf.convert_to_tensor(b).numpy()
    scale = max(1.0, float(np.abs(b).max()))
    assert np.abs(a - b).max() <= 1e-4 * scale, (label, np.abs(a - b).max(), scale)
    checked += 1
  return checked


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("kind", ["lstm", "layer_norm", "hyper"])
@pytest.mark.parametrize("use_lengths", [False, True])
@pytest.mark.parametrize("use_masks", [False, True])
def test_values_and_gradients_match_autodiff(kind, fused, use_lengths, use_masks):
  seed = ["lstm", "layer_norm", "hyper"].index(kind) * 4 + 2 * use_lengths + use_masks
  checked = check(kind, use_lengths, use_masks, seed, fused)
  # Inputs (xw, initial state) and every weight the recurrence uses.
  expected = {"lstm": 1 + 2 + 2, "layer_norm": 1 + 2 + 5, "hyper": 2 + 4 + 11 + 5}[kind]
  assert checked == expected


@pytest.mark.parametrize("kind", ["lstm", "layer_norm", "hyper"])
def test_batch_in_parts_matches_autodiff(kind):
  """The fused recurrence as two loops over slices of the batch (B = 3: rows 0 and 1-2),
  with lengths and dropout: the same values and gradients as one loop of the ops."""
  checked = check(kind, True, True, 40 + len(kind), fused=True, batch_parts=2)
  assert checked == {"lstm": 1 + 2 + 2, "layer_norm": 1 + 2 + 5, "hyper": 2 + 4 + 11 + 5}[kind]


def test_gradients_reach_the_input_projection_weights():
  """Through project_inputs (with a constant input, as the decoder's z)."""
  cell, rng = make("hyper", KEEP, 5)
  x = tf.constant(rng.normal(0, 1, (B, T, D - 2)), tf.float32)
  z = tf.constant(rng.normal(0, 1, (B, 2)), tf.float32)
  masks = cell.dropout_masks([T, B], key=[1, 2])
  results = []
  for fn in (recurrence.unroll_autodiff, unroll_fast):
    with tf.GradientTape() as tape:
      out, state = fn(cell, cell.project_inputs(x, z), cell.get_initial_state(B), None, masks)
      loss = tf.reduce_sum(tf.sin(out)) + tf.reduce_sum(state[1] ** 2)
    results.append(tape.gradient(loss, cell.trainable_weights))
  for v, a, b in zip(cell.trainable_weights, *results):
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-4 * max(1, np.abs(b).max()),
                               err_msg=v.path)


@pytest.mark.parametrize("kind,jit", [("lstm", True), ("hyper", True), ("layer_norm", False)])
def test_in_tf_function(kind, jit):
  """Inside tf.function, with XLA (jit_compile=True) and without."""
  cell, rng = make(kind, KEEP, 7)
  xw, init = inputs(cell, rng)
  lengths = tf.constant([4, T, 2], tf.int32)
  masks = cell.dropout_masks([T, B], key=[4, 4])
  up_out = tf.constant(rng.normal(0, 1, (B, T, H)), tf.float32)

  def run(fn):
    def f(xw, init):
      with tf.GradientTape() as tape:
        tape.watch(tf.nest.flatten(xw) + init)
        out, state = fn(cell, xw, init, lengths, masks)
        loss = tf.reduce_sum(out * up_out) + tf.reduce_sum(tf.square(state[0]))
      return [out] + state + tape.gradient(loss, tf.nest.flatten(xw) + init +
                                           cell.trainable_weights)
    return f

  want = run(recurrence.unroll_autodiff)(xw, init)
  got = tf.function(run(unroll_fast), jit_compile=jit)(xw, init)
  for a, b in zip(got, want):
    if b is None:
      assert a is None
      continue
    b = tf.convert_to_tensor(b).numpy()
    np.testing.assert_allclose(tf.convert_to_tensor(a).numpy(), b,
                               atol=1e-4 * max(1, np.abs(b).max()))


def test_unroll_uses_the_fast_path():
  cell = make_cell("lstm", 4, name="c")
  cell.build((None, 3))
  xw = cell.project_inputs(tf.random.normal([2, 5, 3]))
  init = cell.get_initial_state(2)
  with tf.GradientTape() as tape:
    tape.watch(xw)
    out, _ = recurrence.unroll(cell, xw, init)
  # The fast path's gradient is a custom one: its op names say so.
  grad = tape.gradient(out, xw)
  want, _ = recurrence.unroll_autodiff(cell, xw, init)
  np.testing.assert_allclose(out.numpy(), want.numpy(), atol=1e-6)
  assert recurrence.IMPLEMENTATION == "fast" and grad is not None


def _np_loss(w, x, init, kind, lengths, masks, keep, up_out, up_state):
  out, state = np_unroll(w, x, init, kind, E, lengths, masks, keep)
  return float((out * up_out).sum() + sum((s * u).sum() for s, u in zip(state, up_state)))


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("kind", lstm_math.CELL_KINDS)
def test_training_recurrence_matches_numpy(kind, fused):
  """The decoder's training path (project_inputs + unroll) against the float64 equations:
  outputs and final state, and every gradient as a directional derivative (central
  differences of the numpy loss along a random direction of each tensor)."""
  cell, rng = make(kind, KEEP, seed=11, fused=fused)
  x = rng.normal(0, 1, (B, T, D))
  init = [rng.normal(0, 1, (B, n)) for n in cell.state_size]
  lengths = np.array([T, 3, 5])
  masks = cell.dropout_masks([T, B], key=[7, 7])
  np_masks = tf.nest.map_structure(lambda m: m.numpy().astype(np.float64), masks)
  up_out = rng.normal(0, 1, (B, T, H))
  up_state = [rng.normal(0, 1, (B, n)) for n in cell.state_size]

  x_t = tf.constant(x, tf.float32)
  init_t = [tf.constant(v, tf.float32) for v in init]
  with tf.GradientTape() as tape:
    tape.watch([x_t] + init_t)
    out, state = recurrence.unroll(cell, cell.project_inputs(x_t), init_t,
                                   tf.constant(lengths, tf.int32), masks)
    loss = tf.reduce_sum(out * up_out) + tf.add_n(
        [tf.reduce_sum(s * u) for s, u in zip(state, up_state)])
  grads = tape.gradient(loss, [x_t] + init_t + cell.trainable_weights)

  w = cell_weights(cell)
  want_out, want_state = np_unroll(w, x, init, kind, E, lengths, np_masks, KEEP)
  np.testing.assert_allclose(out.numpy(), want_out, atol=3e-5)
  for got, want in zip(state, want_state):
    np.testing.assert_allclose(got.numpy(), want, atol=3e-5)

  def perturbed(which, direction, eps):
    """The numpy loss with tensor `which` moved by eps * direction."""
    xs, inits = x, [v.copy() for v in init]
    ws = {k: (dict(v) if isinstance(v, dict) else v) for k, v in w.items()}
    if which == 0:
      xs = x + eps * direction
    elif which <= len(init):
      inits[which - 1] = inits[which - 1] + eps * direction
    else:
      var = cell.trainable_weights[which - 1 - len(init)]
      owner, name = var.path.split("/")[-2:]
      target = ws["hyper"] if owner == "hyper_cell" else ws
      if owner == "hyper_cell":
        ws["hyper"] = target = dict(ws["hyper"])
      target[name] = target[name] + eps * direction
    return _np_loss(ws, xs, inits, kind, lengths, np_masks, KEEP, up_out, up_state)

  tensors = [x] + init + [v.numpy() for v in cell.trainable_weights]
  labels = ["x"] + [f"state {i}" for i in range(len(init))] + [
      v.path for v in cell.trainable_weights]
  eps = 1e-5
  for which, (value, grad, label) in enumerate(zip(tensors, grads, labels)):
    direction = rng.normal(size=np.shape(value))
    numeric = (perturbed(which, direction, eps) - perturbed(which, direction, -eps)) / (2 * eps)
    analytic = float(np.sum(tf.convert_to_tensor(grad).numpy() * direction))
    assert abs(analytic - numeric) <= 1e-3 * max(1.0, abs(numeric)), (label, analytic, numeric)


def _op_types(concrete):
  """Every op type in a concrete function's graph and the functions it calls (loop bodies)."""
  graph_def = concrete.graph.as_graph_def()
  types = {n.op for n in graph_def.node}
  for f in graph_def.library.function:
    types |= {n.op for n in f.node_def}
  return types


KERNEL_OPS = {"lstm": {"SketchRnnLstmSequenceForward", "SketchRnnLstmSequenceBackward"},
              "layer_norm": {"SketchRnnLnLstmForward", "SketchRnnLnLstmBackward"}}
KERNEL_OPS["hyper"] = {"SketchRnnHyperSequenceForward", "SketchRnnHyperSequenceBackward"}


@pytest.mark.parametrize("kind", lstm_math.CELL_KINDS)
@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_fused_kernel_is_taken_and_agrees_with_the_ops(kind, precision):
  """With `fused` the loops run the kernels (their ops are in the graph, forward and
  backward). In bfloat16 the layer-norm cell's kernels round as TensorFlow's ops do (the
  same matmul operands), so they match the unfused bfloat16 path far closer than float32
  does; the plain LSTM's and the HyperLSTM's sequence ops multiply bfloat16 operands
  inside the loop and keep the float32 sums (TensorFlow rounds a bfloat16 matmul's
  result), so they are held to float32 within bfloat16's error and must differ from it
  (bfloat16 taken)."""
  cell, rng = make(kind, KEEP, 21, fused=True, precision=precision)
  xw, init = inputs(cell, rng)
  lengths = tf.constant([T, 2, 6], tf.int32)
  masks = cell.dropout_masks([T, B], key=[2, 9])
  up_out = tf.constant(rng.normal(0, 1, (B, T, H)), tf.float32)
  up_state = [tf.constant(rng.normal(0, 1, (B, n)), tf.float32) for n in cell.state_size]

  def run(fused, dtype):
    cell.set_matmul_dtype(dtype, fused)
    fn = tf.function(lambda xw, init: loss_and_grads(unroll_fast, cell, xw, init, lengths,
                                                     masks, up_out, up_state)[:3])
    concrete = fn.get_concrete_function(xw, init)
    out, state, grads = fn(xw, init)
    return _op_types(concrete), [out] + state + [g for g in grads if g is not None]

  types, got = run(True, precision)
  assert KERNEL_OPS[kind] <= types
  unfused_types, want = run(False, precision)
  assert not any(t.startswith("SketchRnn") for t in unfused_types)
  _, full = run(False, "float32")
  for a, b, f in zip(got, want, full):
    a, b, f = (tf.convert_to_tensor(v).numpy() for v in (a, b, f))
    scale = max(1.0, float(np.abs(b).max()))
    if precision == "bfloat16" and kind != "layer_norm":
      assert 1e-4 * scale < np.abs(a - f).max() <= 0.03 * scale
      continue
    assert np.abs(a - b).max() <= 1e-4 * scale
    if precision == "bfloat16":
      assert np.abs(a - f).max() > 30 * max(np.abs(a - b).max(), 1e-7)


@pytest.mark.parametrize("kind", ["lstm", "hyper"])
def test_fused_spec_under_xla_takes_the_ops(kind):
  """XLA cannot run the kernels: a jit-compiled caller gets TensorFlow's ops, same values."""
  cell, rng = make(kind, 1.0, 23, fused=True)
  xw, init = inputs(cell, rng)
  fn = tf.function(lambda xw, init: unroll_fast(cell, xw, init)[0], jit_compile=True)
  assert not any(t.startswith("SketchRnn") for t in _op_types(fn.get_concrete_function(xw, init)))
  want, _ = recurrence.unroll_autodiff(cell, xw, init)
  np.testing.assert_allclose(fn(xw, init).numpy(), want.numpy(), atol=1e-5)


def test_fused_kernel_names_a_bad_shape():
  ops = require_kernels()
  lengths = tf.zeros([0], tf.int32)
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"xw \[B, T, 4H\].*got xw \[3,5,10\]"):
    ops.sketch_rnn_lstm_sequence_forward(
        tf.zeros([3, 5, 10]), tf.zeros([3, 4]), tf.zeros([3, 4]), tf.zeros([4, 16]),
        tf.zeros([16]), tf.zeros([0]), lengths)
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"dropout masks must be \[T, B, H\]"):
    ops.sketch_rnn_lstm_sequence_forward(
        tf.zeros([3, 5, 16]), tf.zeros([3, 4]), tf.zeros([3, 4]), tf.zeros([4, 16]),
        tf.zeros([16]), tf.zeros([2, 4]), lengths)
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"lengths must be \[B\]"):
    ops.sketch_rnn_lstm_sequence_backward(
        tf.zeros([3, 5, 4]), tf.zeros([3, 4]), tf.zeros([3, 4]), tf.zeros([3, 5, 16]),
        tf.zeros([3, 5, 4]), tf.zeros([3, 5, 4]), tf.zeros([4, 16]), tf.zeros([0]),
        tf.zeros([2], tf.int32))
  # The HyperLSTM's: H = 4, HH = 2, E = 2, a W_z of the wrong width named by its input.
  b, t, h, hh, e = 3, 5, 4, 2, 2
  args = [tf.zeros([b, t, 4 * h]), tf.zeros([b, t, 4 * hh]), tf.zeros([b, h]), tf.zeros([b, h]),
          tf.zeros([b, hh]), tf.zeros([b, hh]), tf.zeros([h, 4 * h]), tf.zeros([4 * h]),
          tf.ones([4 * h]), tf.zeros([4 * h]), tf.ones([h]), tf.zeros([h]),
          tf.zeros([h + hh, 4 * hh]), tf.ones([4 * hh]), tf.zeros([4 * hh]), tf.ones([hh]),
          tf.zeros([hh]), tf.zeros([hh, 12 * e + 1]), tf.zeros([12 * e]), tf.zeros([12, e, h]),
          tf.zeros([0]), tf.zeros([0]), lengths]
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"input 17 must be \[2,24\], got \[2,25\]"):
    ops.sketch_rnn_hyper_sequence_forward(*args, epsilon=1e-3)
  args[17] = tf.zeros([hh, 12 * e])
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"hyper cell's dropout masks must be"):
    ops.sketch_rnn_hyper_sequence_forward(*args[:21], tf.zeros([t, b, h]), lengths, epsilon=1e-3)
  out = ops.sketch_rnn_hyper_sequence_forward(*args, epsilon=1e-3)   # well formed
  assert out[0].shape == (b, t, h) and out[18].shape == (b, t, 12 * e)


def test_kernel_library_is_named_by_its_source_and_rebuilt_when_missing(tmp_path, monkeypatch):
  """A library built elsewhere (another source, TensorFlow or CPU) is never loaded: the
  name hashes them; a missing one is compiled, written whole under its final name, and
  earlier builds beside it go."""
  require_kernels()
  monkeypatch.setenv(kernels.ENV_DIR, str(tmp_path))
  path = kernels.library_path()
  assert os.path.dirname(path) == str(tmp_path) and not os.path.exists(path)
  stale = tmp_path / (kernels.PREFIX + "0123456789abcdef.so")   # an earlier source's build
  stale.write_bytes(b"old")
  assert kernels.build() == path and os.path.getsize(path) > 0
  # No temporary left behind, and the earlier build removed.
  assert os.listdir(tmp_path) == [os.path.basename(path)]
  # It loads (in another process: a second copy of the kernels in this one would
  # register every kernel twice, and TensorFlow then refuses to run them).
  done = subprocess.run([sys.executable, "-c", "import sys, tensorflow as tf; "
                         "print(hasattr(tf.load_op_library(sys.argv[1]), 'sketch_rnn_lstm_sequence_forward'))",
                         path],
                        capture_output=True, text=True, timeout=300,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr[-2000:]
