"""Each cell variant's step against a float64 numpy implementation of the equations,
and the cell as a Keras RNN cell."""
import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

from sketch_rnn_tf.layers import lstm_math
from sketch_rnn_tf.layers.lstm_cell import make_cell, SketchLSTMCell
from sketch_rnn_tf.model import hparams
from sketch_rnn_tf.model.sketch_rnn import SketchRNN
from sketch_rnn_tf.sampling import sampler
from sketch_rnn_tf.testing import cell_weights, np_cell_step, randomise

B, D, H, HH, E = 3, 7, 6, 5, 4


def _cell(kind, keep=1.0, seed=0):
  cell = make_cell(kind, H, hyper_units=HH, hyper_embedding_size=E, keep_prob=keep, name="cell")
  cell.build((None, D))
  return cell, randomise(cell, seed)


def _masks(kind, keep, rng, shape=(B,)):
  if keep >= 1:
    return None
  main = (rng.random(shape + (H,)) < keep) * 1.0
  return (main, (rng.random(shape + (HH,)) < keep) * 1.0) if kind == "hyper" else main


@pytest.mark.parametrize("kind", lstm_math.CELL_KINDS)
@pytest.mark.parametrize("keep", [1.0, 0.7])
def test_step_matches_numpy(kind, keep):
  cell, rng = _cell(kind, keep, seed=1)
  x = rng.normal(size=(B, D))
  state = [rng.normal(size=(B, n)) for n in cell.state_size]
  masks = _masks(kind, keep, rng)
  out, new_state = cell.step(
      cell.project_inputs(tf.constant(x, tf.float32)),
      [tf.constant(v, tf.float32) for v in state],
      None if masks is None else tf.nest.map_structure(lambda m: tf.constant(m, tf.float32),
                                                        masks))
  ref_h, ref_state = np_cell_step(cell_weights(cell), x, state, kind, E, masks, keep)
  np.testing.assert_allclose(out.numpy(), ref_h, atol=3e-5)
  for got, want in zip(new_state, ref_state):
    np.testing.assert_allclose(got.numpy(), want, atol=3e-5)


@pytest.mark.parametrize("products", lstm_math.SCALE_PRODUCTS)
def test_hyper_scale_products_match_numpy(products):
  """Each way of writing the HyperLSTM's scale products (the einsum training runs, the
  batched matmul of the TF.js export) against the per-gate numpy loop."""
  cell, rng = _cell("hyper", 0.7, seed=4)
  x = rng.normal(size=(B, D))
  state = [rng.normal(size=(B, n)) for n in cell.state_size]
  masks = _masks("hyper", 0.7, rng)
  weights = lstm_math.prepare(cell.spec, cell.recurrence_weights())
  out, new_state, _ = lstm_math.step(
      cell.spec, weights, cell.project_inputs(tf.constant(x, tf.float32)),
      [tf.constant(v, tf.float32) for v in state],
      tf.nest.map_structure(lambda m: tf.constant(m, tf.float32), masks),
      scale_products=products)
  ref_h, ref_state = np_cell_step(cell_weights(cell), x, state, "hyper", E, masks, 0.7)
  np.testing.assert_allclose(out.numpy(), ref_h, atol=3e-5)
  for got, want in zip(new_state, ref_state):
    np.testing.assert_allclose(got.numpy(), want, atol=3e-5)
  with pytest.raises(ValueError, match="products must be one of"):
    lstm_math.hyper_scales(cell.spec, weights, tf.zeros([B, 12 * E]), products="loop")


@pytest.mark.parametrize("kind", lstm_math.CELL_KINDS)
def test_keras_rnn_of_the_decoder_cell_is_the_model(kind):
  """keras.layers.RNN(model.decoder.cell) + model.decoder.head = the model's fast path."""
  model = SketchRNN(hparams.get("tiny", f"conditional=false,dec_model={kind},max_seq_len=250"))
  model.build()
  randomise(model, seed=2, std=0.3)
  strokes_in = tf.constant(np.random.default_rng(3).normal(size=(2, 9, 5)), tf.float32)
  want, _ = model.decoder(strokes_in)
  got = model.decoder.head(keras.layers.RNN(model.decoder.cell,
                                            return_sequences=True)(strokes_in))
  np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)


@pytest.mark.parametrize("kind", lstm_math.CELL_KINDS)
def test_bidirectional_and_training_dropout(kind):
  cell = make_cell(kind, H, hyper_units=HH, hyper_embedding_size=E, keep_prob=0.5, name="c")
  x = tf.random.normal([B, 4, D])
  bi = keras.layers.Bidirectional(keras.layers.RNN(cell))
  assert bi(x).shape == (B, 2 * H)
  rnn = keras.layers.RNN(cell, return_sequences=True)
  plain, dropped = rnn(x), rnn(x, training=True)
  assert plain.shape == dropped.shape == (B, 4, H)
  assert not np.allclose(plain.numpy(), dropped.numpy())
  np.testing.assert_allclose(rnn(x).numpy(), plain.numpy())   # inference: deterministic


@pytest.mark.parametrize("path, kind", [("sampler", k) for k in lstm_math.CELL_KINDS] +
                         [("tfjs", "lstm")])
def test_decode_step_matches_numpy(path, kind):
  """The decode steps that are not the cell's own: sampler.decoder_step (the sampler's and
  the SavedModel's) and the TF.js graph's plain-LSTM step (stacked, transposed weights)."""
  from sketch_rnn_tf.export import tfjs_graphs
  model = SketchRNN(hparams.get("tiny", f"dec_model={kind},max_seq_len=250"))
  model.build()
  rng = randomise(model, seed=4, std=0.3)
  step = (functools.partial(sampler.decoder_step, model.decoder) if path == "sampler"
          else tfjs_graphs.TfjsGraphs(model).plain_lstm_step)
  cell, dense = model.decoder.cell, model.decoder.head.dense
  prev = rng.normal(size=(B, 5))
  cond = rng.normal(size=(B, model.hp.z_size))
  state = [rng.normal(size=(B, n)) for n in cell.state_size]
  y, new_state = step(tf.constant(cond, tf.float32), [tf.constant(v, tf.float32) for v in state],
                      tf.constant(prev, tf.float32))
  ref_h, ref_state = np_cell_step(cell_weights(cell), np.concatenate([prev, cond], 1), state,
                                  kind, model.hp.hyper_embedding_size)
  ref_y = ref_h @ dense.kernel.numpy().astype(np.float64) + dense.bias.numpy()
  np.testing.assert_allclose(y.numpy(), ref_y, atol=5e-5)
  for got, want in zip(new_state, ref_state):
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
  main, hyper = cell.dropout_masks([50, 40], key=[1, 2])
  assert main.shape == (50, 40, 64) and hyper.shape == (50, 40, 16)
  assert float(tf.reduce_mean(main)) == pytest.approx(0.9, abs=0.01)
  again = SketchLSTMCell.from_config(cell.get_config())
  assert again.get_config() == cell.get_config()
  assert again.hyper.get_config() == cell.hyper.get_config()
