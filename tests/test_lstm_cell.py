"""Each cell variant's step against a float64 numpy implementation of the equations."""
import numpy as np
import pytest
import tensorflow as tf

from sketch_rnn_tf.lstm_cell import SketchLSTMCell

B, D, H, HH, E = 3, 7, 6, 5, 4


def sigmoid(v):
  return 1 / (1 + np.exp(-v))


def ln(v, gamma, beta):
  """Layer norm over the last axis, epsilon 1e-3."""
  mu = v.mean(-1, keepdims=True)
  var = ((v - mu) ** 2).mean(-1, keepdims=True)
  return gamma * (v - mu) / np.sqrt(var + 1e-3) + beta


def np_ln_gates(a, gamma, beta):
  gates = np.split(a, 4, axis=1)
  return np.concatenate([ln(g, gm, bt) for g, gm, bt in
                         zip(gates, np.split(gamma, 4), np.split(beta, 4))], axis=1)


def np_lstm(w, x, rec, c, mask, keep, layer_norm, pre=None):
  """float64 reference; `pre` overrides the pre-activations (HyperLSTM)."""
  if pre is None:
    a = x @ w["w_x"] + rec @ w["w_h"]
    a = np_ln_gates(a, w["ln_gamma"], w["ln_beta"]) if layer_norm else a + w["bias"]
  else:
    a = pre
  i, j, f, o = np.split(a, 4, axis=1)
  g = np.tanh(j)
  if mask is not None:
    g = g * mask / keep
  new_c = c * sigmoid(f + 1.0) + sigmoid(i) * g
  c_out = ln(new_c, w["ln_c_gamma"], w["ln_c_beta"]) if layer_norm else new_c
  return np.tanh(c_out) * sigmoid(o), new_c


def randomise(layer, rng):
  """Random weights (not the initial ones) so every term of the equations matters."""
  for v in layer.weights:
    v.assign(rng.normal(0, 0.5, v.shape).astype(np.float32))


def weights_of(layer):
  return {v.path.split("/")[-1]: v.numpy().astype(np.float64) for v in layer.weights
          if v.path.split("/")[-2] == layer.name}


@pytest.mark.parametrize("layer_norm", [False, True])
@pytest.mark.parametrize("keep", [1.0, 0.8])
def test_lstm_and_layer_norm_step(layer_norm, keep):
  rng = np.random.default_rng(0)
  cell = SketchLSTMCell(H, layer_norm=layer_norm, keep_prob=keep, name="cell")
  cell.build((None, D))
  randomise(cell, rng)
  x, c, h = rng.normal(size=(B, D)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
  mask = (rng.random((B, H)) < keep).astype(np.float64) if keep < 1 else None
  out, state = cell.step(cell.project_inputs(tf.constant(x, tf.float32)),
                         [tf.constant(c, tf.float32), tf.constant(h, tf.float32)],
                         None if mask is None else tf.constant(mask, tf.float32))
  ref_h, ref_c = np_lstm(weights_of(cell), x, h, c, mask, keep, layer_norm)
  np.testing.assert_allclose(out.numpy(), ref_h, atol=2e-5)
  np.testing.assert_allclose(state[0].numpy(), ref_c, atol=2e-5)
  np.testing.assert_allclose(state[1].numpy(), ref_h, atol=2e-5)


@pytest.mark.parametrize("keep", [1.0, 0.7])
def test_hyper_lstm_step(keep):
  rng = np.random.default_rng(1)
  cell = SketchLSTMCell(H, hyper_units=HH, hyper_embedding_size=E, keep_prob=keep, name="main")
  cell.build((None, D))
  randomise(cell, rng)
  w, wh = weights_of(cell), weights_of(cell.hyper)
  x = rng.normal(size=(B, D))
  c, h, hc, hh = (rng.normal(size=(B, n)) for n in (H, H, HH, HH))
  masks = None
  if keep < 1:
    masks = ((rng.random((B, H)) < keep) * 1.0, (rng.random((B, HH)) < keep) * 1.0)
  out, state = cell.step(
      cell.project_inputs(tf.constant(x, tf.float32)),
      [tf.constant(v, tf.float32) for v in (c, h, hc, hh)],
      None if masks is None else tuple(tf.constant(m, tf.float32) for m in masks))

  # Hyper cell: a layer-norm LSTM reading [x, h] with recurrent input [h, hyper_h].
  hyper_in = np.concatenate([x, h], 1)
  w_in = np.concatenate([wh["w_x"], wh["w_h"][:H]], 0)
  a_hyper = np_ln_gates(hyper_in @ w_in + hh @ wh["w_h"][H:], wh["ln_gamma"], wh["ln_beta"])
  hyper_h, hyper_c = np_lstm(wh, None, None, hc, None if masks is None else masks[1], keep,
                             True, pre=a_hyper)
  # Per-gate scales and bias from the hyper output, one gate at a time.
  xw, hw = x @ w["w_x"], h @ w["w_h"]
  pre = []
  for g in range(4):
    sl = slice(g * H, (g + 1) * H)
    z_x = hyper_h @ w["w_zxh"][:, g * E:(g + 1) * E] + w["b_zxh"][g * E:(g + 1) * E]
    z_h = hyper_h @ w["w_zxh"][:, (4 + g) * E:(5 + g) * E] + w["b_zxh"][(4 + g) * E:(5 + g) * E]
    z_b = hyper_h @ w["w_zb"][:, g * E:(g + 1) * E]
    alpha_x, alpha_h = z_x @ w["w_alpha"][g], z_h @ w["w_alpha"][4 + g]
    beta = z_b @ w["w_beta"][g]
    pre.append(alpha_x * xw[:, sl] + alpha_h * hw[:, sl] + w["bias"][sl] + beta)
  a = np_ln_gates(np.concatenate(pre, 1), w["ln_gamma"], w["ln_beta"])
  ref_h, ref_c = np_lstm(w, None, None, c, None if masks is None else masks[0], keep, True, pre=a)
  np.testing.assert_allclose(out.numpy(), ref_h, atol=3e-5)
  for got, want in zip(state, (ref_c, ref_h, hyper_c, hyper_h)):
    np.testing.assert_allclose(got.numpy(), want, atol=3e-5)


def test_hyper_initial_scales_are_point_one():
  cell = SketchLSTMCell(H, hyper_units=HH, hyper_embedding_size=E, name="c")
  cell.build((None, D))
  hyper_h = tf.random.normal([B, HH])
  z = tf.matmul(hyper_h, cell.w_zxh) + cell.b_zxh  # zero weights, unit bias
  alpha = tf.einsum("bge,geh->bgh", tf.reshape(z, [B, 8, E]), cell.w_alpha)
  np.testing.assert_allclose(alpha.numpy(), 0.1, atol=1e-7)


def test_recurrent_weights_are_orthogonal_per_gate():
  cell = SketchLSTMCell(H, name="c")
  cell.build((None, D))
  w = cell.w_h.numpy()
  for g in range(4):
    block = w[:, g * H:(g + 1) * H]
    np.testing.assert_allclose(block.T @ block, np.eye(H), atol=1e-5)


def test_dropout_masks_rate_and_config_round_trip():
  cell = SketchLSTMCell(64, hyper_units=16, keep_prob=0.9, name="c")
  main, hyper = cell.dropout_masks([50, 40], seed=[1, 2])
  assert main.shape == (50, 40, 64) and hyper.shape == (50, 40, 16)
  assert float(tf.reduce_mean(main)) == pytest.approx(0.9, abs=0.01)
  again = SketchLSTMCell.from_config(cell.get_config())
  assert again.get_config() == cell.get_config()
