"""`SketchLSTMCell`: Sketch-RNN's LSTM, layer-norm LSTM and HyperLSTM as one Keras RNN cell."""
from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from sketch_rnn_tf.layers import lstm_math
from sketch_rnn_tf.utils import streams


def per_gate_orthogonal(seed=None):
  """W_h initialiser: an independent orthogonal [H, H] block per gate."""
  def init(shape, dtype=None):
    rows, cols = shape
    gates = cols // rows
    blocks = [keras.initializers.Orthogonal(seed=None if seed is None else seed + g)(
        (rows, rows), dtype=dtype) for g in range(gates)]
    return tf.concat(blocks, axis=1)
  return init


@keras.saving.register_keras_serializable("sketch_rnn_tf")
class SketchLSTMCell(keras.layers.Layer):
  """An LSTM cell: plain, layer-normalised or HyperLSTM, with recurrent dropout.

  A Keras RNN cell: `keras.layers.RNN(cell)` and
  `keras.layers.Bidirectional(keras.layers.RNN(cell))` run it step by step.
  Sketch-RNN's own layers run it through `fast_recurrence` instead (the input
  projection for all steps as one matmul, a hand-written gradient over the
  whole sequence); both compute the equations of `lstm_math`, which the
  docstring there writes out:

      c' = c * sigmoid(f + b_f) + sigmoid(i) * drop(tanh(j)),
      h' = tanh(c'') * sigmoid(o),

  with pre-activations [i, j, f, o] = x W_x + h W_h + b (plain), per-gate layer
  norm of it and c'' = LN(c') (layer_norm), or scaled per gate by a small
  layer-norm LSTM's embeddings (hyper).

  Args:
    units: H, the cell size.
    layer_norm: per-gate layer norm on the pre-activations and LN on c.
    hyper_units: if > 0, a HyperLSTM with an auxiliary layer-norm LSTM of this
      size (implies layer_norm).
    hyper_embedding_size: E, the per-gate embedding size of the HyperLSTM.
    forget_bias: b_f, added to f before the sigmoid.
    keep_prob: recurrent dropout keep probability (1.0: none).
    recurrent_units: width of the recurrent input (default: units). The
      HyperLSTM's auxiliary cell reads [h, hyper_h].
    **kwargs: standard `keras.layers.Layer` arguments (name, dtype).

  Call arguments:
    inputs: [B, D], this step's input.
    states: list of [B, n] tensors: [c, h] or, for a HyperLSTM,
      [c, h, hyper_c, hyper_h].
    training: with keep_prob < 1, draw a fresh dropout mask.

  Returns:
    (h' [B, H], new states).

  Example:

  >>> cell = SketchLSTMCell(8, hyper_units=4, name="cell")
  >>> rnn = keras.layers.RNN(cell, return_sequences=True)
  >>> rnn(tf.zeros([2, 5, 3])).shape
  TensorShape([2, 5, 8])

  References:
    Hochreiter & Schmidhuber, "Long Short-Term Memory", 1997.
    Ba et al., "Layer Normalization", 2016.
    Ha et al., "HyperNetworks", ICLR 2017.
    Semeniuta et al., "Recurrent Dropout without Memory Loss", COLING 2016.
  """

  def __init__(self, units, layer_norm=False, hyper_units=0, hyper_embedding_size=32,
               forget_bias=lstm_math.FORGET_BIAS, keep_prob=1.0, recurrent_units=None,
               **kwargs):
    super().__init__(**kwargs)
    self.units = int(units)
    self.hyper_units = int(hyper_units)
    self.layer_norm = bool(layer_norm) or self.hyper_units > 0
    self.hyper_embedding_size = int(hyper_embedding_size)
    self.forget_bias = float(forget_bias)
    self.keep_prob = float(keep_prob)
    self.recurrent_units = int(recurrent_units or self.units)
    self.hyper = None
    if self.hyper_units:
      self.hyper = SketchLSTMCell(self.hyper_units, layer_norm=True, forget_bias=forget_bias,
                                  keep_prob=keep_prob,
                                  recurrent_units=self.units + self.hyper_units,
                                  name="hyper_cell")
    self.spec = lstm_math.CellSpec(
        self.units, self.layer_norm, self.keep_prob, self.forget_bias,
        None if self.hyper is None else self.hyper.spec, self.hyper_embedding_size)

  def set_matmul_dtype(self, dtype, fused=False, batch_parts=1):
    """The matmuls' operand dtype, "float32" or "bfloat16" (`lstm_math.matmul`),
    whether the training recurrence runs in the fused CPU kernels and in how many
    loops over slices of the batch (`CellSpec.fused`, `batch_parts`): ways of
    computing, not part of the model (weights stay float32; not in the config)."""
    if dtype not in lstm_math.MATMUL_DTYPES:
      raise ValueError(f"matmul dtype must be one of {lstm_math.MATMUL_DTYPES}, not {dtype!r}")
    hyper = None
    if self.hyper is not None:
      self.hyper.set_matmul_dtype(dtype, fused, batch_parts)
      hyper = self.hyper.spec
    self.spec = dataclasses.replace(self.spec, matmul_dtype=dtype, hyper=hyper, fused=bool(fused),
                                    batch_parts=int(batch_parts))

  @property
  def state_size(self):
    return self.spec.state_size

  @property
  def output_size(self):
    return self.units

  def build(self, input_shape):
    d = int(input_shape[-1])
    h, g4, rec = self.units, 4 * self.units, self.recurrent_units
    self.w_x = self.add_weight(name="w_x", shape=(d, g4), initializer="glorot_uniform")
    self.w_h = self.add_weight(name="w_h", shape=(rec, g4),
                               initializer=(per_gate_orthogonal() if rec == h
                                            else "glorot_uniform"))
    if self.hyper is not None or not self.layer_norm:  # LN's beta is the bias otherwise
      self.bias = self.add_weight(name="bias", shape=(g4,), initializer="zeros")
    if self.layer_norm:
      self.ln_gamma = self.add_weight(name="ln_gamma", shape=(g4,), initializer="ones")
      self.ln_beta = self.add_weight(name="ln_beta", shape=(g4,), initializer="zeros")
      self.ln_c_gamma = self.add_weight(name="ln_c_gamma", shape=(h,), initializer="ones")
      self.ln_c_beta = self.add_weight(name="ln_c_beta", shape=(h,), initializer="zeros")
    if self.hyper is not None:
      e, hh = self.hyper_embedding_size, self.hyper_units
      self.hyper.build((None, d))   # the hyper cell reads [x, h]: x here, h in its w_h
      # Embeddings for the 4 gates of the x part and of the h part (with a bias
      # starting at 1), and for the 4 gates' bias part (no bias).
      self.w_zxh = self.add_weight(name="w_zxh", shape=(hh, 8 * e), initializer="zeros")
      self.b_zxh = self.add_weight(name="b_zxh", shape=(8 * e,), initializer="ones")
      self.w_zb = self.add_weight(name="w_zb", shape=(hh, 4 * e),
                                  initializer=keras.initializers.RandomNormal(stddev=0.01))
      self.w_alpha = self.add_weight(
          name="w_alpha", shape=(8, e, h),
          initializer=keras.initializers.Constant(lstm_math.HYPER_SCALE_START / e))
      self.w_beta = self.add_weight(name="w_beta", shape=(4, e, h), initializer="zeros")
    self.built = True

  def recurrence_weights(self):
    """{name: tensor} of what the recurrence reads (all but W_x), the hyper cell's
    under "hyper", as tensors in the compute dtype of the current call."""
    w = {n: tf.convert_to_tensor(getattr(self, n)) for n in self.spec.weight_names}
    if self.hyper is not None:
      w["hyper"] = self.hyper.recurrence_weights()
    return w

  def project_inputs(self, x, const=None):
    """x W_x for all steps at once (the "projected" layout of `lstm_math.step`).

    x: [B, T, Dx] or [B, Dx]. const: optional [B, Dc] input that is the same
    at every step (Sketch-RNN's z): the cell's input is [x, const], and const's
    share of the projection is computed once per sequence, not once per step.
    """
    dx = x.shape[-1]
    w = self.w_x[:dx]
    if x.shape.rank == 3:
      # A reshape and a plain matmul, not an einsum: under XLA on CPU the einsum's
      # gradient became a broadcast multiply and a sum, ~25x slower.
      shape = tf.shape(x)
      xw = tf.reshape(tf.matmul(tf.reshape(x, [-1, dx]), w), [shape[0], shape[1], w.shape[-1]])
    else:
      xw = tf.matmul(x, w)
    if const is not None:
      cw = tf.matmul(const, self.w_x[dx:])
      xw = xw + (cw[:, None, :] if x.shape.rank == 3 else cw)
    if self.hyper is None:
      return xw
    return (xw, self.hyper.project_inputs(x, const))

  def get_initial_state(self, batch_size=None):
    return [tf.zeros([batch_size, n], self.compute_dtype) for n in self.state_size]

  def step(self, xw, state, keep_mask=None, weights=None, scale_products="einsum"):
    """One step from a precomputed input projection (`project_inputs`).

    keep_mask: [B, H] of 0/1 (a pair with the hyper cell's mask), or None.
    weights: `lstm_math.prepare(cell.spec, cell.recurrence_weights())`, to
      compute it once for a loop. scale_products: a HyperLSTM's scale products
      (`lstm_math.hyper_scales`). Returns (h', new state).
    """
    if weights is None:
      weights = lstm_math.prepare(self.spec, self.recurrence_weights())
    h, new_state, _ = lstm_math.step(self.spec, weights, xw, list(state), keep_mask,
                                     scale_products=scale_products)
    return h, new_state

  def call(self, inputs, states, training=False):
    masks = None
    if training and self.keep_prob < 1.0:
      masks = self._random_masks(tf.shape(inputs)[0])
    return self.step(self.project_inputs(inputs), states, masks)

  def _random_masks(self, batch):
    # Op-seeded, not a SeedGenerator: a generator's state variable would change the
    # checkpoints. Sketch-RNN's own layers draw stateless masks (`dropout_masks`).
    main = tf.cast(tf.random.uniform([batch, self.units]) < self.keep_prob, self.compute_dtype)
    return main if self.hyper is None else (main, self.hyper._random_masks(batch))

  def dropout_masks(self, shape_prefix, key):
    """Keep masks for `step`, drawn at once for shape_prefix = [T, B] from a stateless
    key [2] (the hyper cell's from the key folded with its stream id)."""
    if self.keep_prob >= 1.0:
      return None
    key = tf.cast(key, tf.int32)
    main = tf.cast(tf.random.stateless_uniform(list(shape_prefix) + [self.units], key)
                   < self.keep_prob, self.compute_dtype)
    if self.hyper is None:
      return main
    return (main, self.hyper.dropout_masks(
        shape_prefix, streams.fold(key, streams.HYPER)))

  def get_config(self):
    config = super().get_config()
    config.update(units=self.units, layer_norm=self.layer_norm, hyper_units=self.hyper_units,
                  hyper_embedding_size=self.hyper_embedding_size,
                  forget_bias=self.forget_bias, keep_prob=self.keep_prob,
                  recurrent_units=self.recurrent_units)
    return config


def make_cell(kind, units, hyper_units=0, hyper_embedding_size=32, keep_prob=1.0, name=None):
  """A SketchLSTMCell for a cell kind name (one of lstm_math.CELL_KINDS)."""
  if kind not in lstm_math.CELL_KINDS:
    raise ValueError(f"unknown cell kind {kind!r}: use one of {', '.join(lstm_math.CELL_KINDS)}")
  return SketchLSTMCell(units, layer_norm=kind == "layer_norm",
                        hyper_units=hyper_units if kind == "hyper" else 0,
                        hyper_embedding_size=hyper_embedding_size, keep_prob=keep_prob,
                        name=name)
