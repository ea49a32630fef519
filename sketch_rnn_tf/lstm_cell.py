"""One LSTM cell for Sketch-RNN: plain, layer-normalised, or HyperLSTM.

All three share the LSTM update (gates i, j, f, o; forget bias b_f = 1.0):

    c' = c * sigmoid(f + b_f) + sigmoid(i) * drop(tanh(j))
    h' = tanh(c'') * sigmoid(o)

and differ in how the gate pre-activations a = [i, j, f, o] are made:

- plain:      a = x W_x + h W_h + b;                         c'' = c'
- layer_norm: a_g = LN_g(x W_x + h W_h) per gate g;          c'' = LN_c(c')
- hyper:      a_g = LN_g(alpha_x,g * (x W_x)_g + alpha_h,g * (h W_h)_g + b_g + beta_g)
              c'' = LN_c(c')

LN(v) = gamma * (v - mean(v)) / sqrt(var(v) + 1e-3) + beta over the H units of
each gate (gamma starts at 1, beta at 0). In the HyperLSTM (Ha et al. 2016) a small layer-norm LSTM reads
[x, h] each step; from its output h^ it makes, per gate, embeddings
z = h^ W_z + b_z (size E = 32) and from them the scales
alpha = z W_alpha (b_z = 1 and W_alpha = 0.1 / E at the start, so every scale
starts at 0.1) and the bias beta = (h^ W_zb) W_beta (W_beta = 0 at the start).

"drop" is recurrent dropout without memory loss (Semeniuta et al. 2016):
inverted dropout on tanh(j) only, with keep probability `keep_prob`; the
masks are passed in (one [B, H] mask per step) so they can be drawn for a
whole sequence at once.

For speed, x W_x is not computed here: `project_inputs` does it for all steps
in one matmul outside the recurrence, and `step` takes that projection.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

LN_EPSILON = 1e-3
HYPER_SCALE_START = 0.1


def per_gate_orthogonal(seed=None):
  """W_h initialiser: an independent orthogonal [H, H] block per gate."""
  def init(shape, dtype=None):
    rows, cols = shape
    gates = cols // rows
    blocks = [keras.initializers.Orthogonal(seed=None if seed is None else seed + g)(
        (rows, rows), dtype=dtype) for g in range(gates)]
    return tf.concat(blocks, axis=1)
  return init


def _layer_norm_gates(a, gamma, beta, gates):
  """LN over the units of each gate: a [B, gates*H] -> [B, gates*H]."""
  shape = tf.shape(a)
  g = tf.reshape(a, [shape[0], gates, -1])
  mean, var = tf.nn.moments(g, axes=[2], keepdims=True)
  g = (g - mean) * tf.math.rsqrt(var + LN_EPSILON)
  return tf.reshape(g, shape) * gamma + beta


class SketchLSTMCell(keras.layers.Layer):
  """LSTM cell with options for layer norm and HyperLSTM weight scaling.

  Args:
    units: H, the cell size.
    layer_norm: per-gate layer norm on the pre-activations and LN on c.
    hyper_units: if > 0, a HyperLSTM with an auxiliary layer-norm LSTM of this
      size (implies layer_norm).
    hyper_embedding_size: E, the per-gate embedding size of the HyperLSTM.
    forget_bias: added to f before the sigmoid.
    keep_prob: recurrent dropout keep probability (1.0: none).

  State: (c, h) or, for a HyperLSTM, (c, h, hyper_c, hyper_h).
  """

  def __init__(self, units, layer_norm=False, hyper_units=0, hyper_embedding_size=32,
               forget_bias=1.0, keep_prob=1.0, **kwargs):
    super().__init__(**kwargs)
    self.units = int(units)
    self.hyper_units = int(hyper_units)
    self.layer_norm = bool(layer_norm) or self.hyper_units > 0
    self.hyper_embedding_size = int(hyper_embedding_size)
    self.forget_bias = float(forget_bias)
    self.keep_prob = float(keep_prob)
    self.hyper = None
    if self.hyper_units:
      self.hyper = SketchLSTMCell(self.hyper_units, layer_norm=True, forget_bias=forget_bias,
                                  keep_prob=keep_prob, name="hyper_cell")

  @property
  def state_size(self):
    sizes = [self.units, self.units]
    if self.hyper is not None:
      sizes += [self.hyper_units, self.hyper_units]
    return sizes

  def build(self, input_shape, recurrent_dim=None):
    """input_shape: [..., D]. recurrent_dim: width of the recurrent input (default H)."""
    d = int(input_shape[-1])
    h, g4 = self.units, 4 * self.units
    rec = self.units if recurrent_dim is None else recurrent_dim
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
      # The hyper cell reads [x, h]; its recurrent input is [h, hyper_h].
      self.hyper.build((None, d), recurrent_dim=h + hh)
      # Embeddings for the 4 gates of the x part and of the h part (with a bias
      # starting at 1), and for the 4 gates' bias part (no bias).
      self.w_zxh = self.add_weight(name="w_zxh", shape=(hh, 8 * e), initializer="zeros")
      self.b_zxh = self.add_weight(name="b_zxh", shape=(8 * e,), initializer="ones")
      self.w_zb = self.add_weight(name="w_zb", shape=(hh, 4 * e),
                                  initializer=keras.initializers.RandomNormal(stddev=0.01))
      self.w_alpha = self.add_weight(
          name="w_alpha", shape=(8, e, h),
          initializer=keras.initializers.Constant(HYPER_SCALE_START / e))
      self.w_beta = self.add_weight(name="w_beta", shape=(4, e, h), initializer="zeros")
    self.built = True

  def project_inputs(self, x, const=None):
    """Input projections for all steps at once, for `step`.

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

  def initial_state(self, batch_size, dtype=None):
    return [tf.zeros([batch_size, n], dtype or self.compute_dtype) for n in self.state_size]

  def step(self, xw, state, keep_mask=None, recurrent=None):
    """One step from a precomputed input projection.

    xw: from `project_inputs` for this step. state: see the class docstring.
    keep_mask: [B, H] of 0/1 (or a tuple with the hyper cell's mask), or None.
    recurrent: the recurrent input; defaults to this cell's h (used by a
      HyperLSTM for its hyper cell, which reads [h, hyper_h]).
    Returns (h', new state).
    """
    c, h = state[0], state[1]
    rec = h if recurrent is None else recurrent
    hw = tf.matmul(rec, self.w_h)
    if self.hyper is None:
      main_mask = keep_mask
      a = xw + hw
      a = (_layer_norm_gates(a, self.ln_gamma, self.ln_beta, 4) if self.layer_norm
           else a + self.bias)
      new_hyper_state = []
    else:
      xw, hyper_xw = xw
      main_mask, hyper_mask = keep_mask if keep_mask is not None else (None, None)
      hyper_h, hyper_state = self.hyper.step(
          hyper_xw, state[2:], hyper_mask, recurrent=tf.concat([h, state[3]], axis=1))
      a = self._hyper_preactivations(xw, hw, hyper_h)
      a = _layer_norm_gates(a, self.ln_gamma, self.ln_beta, 4)
      new_hyper_state = list(hyper_state)
    i, j, f, o = tf.split(a, 4, axis=1)
    g = tf.tanh(j)
    if main_mask is not None and self.keep_prob < 1.0:
      g = g * main_mask / self.keep_prob
    new_c = c * tf.sigmoid(f + self.forget_bias) + tf.sigmoid(i) * g
    c_out = (_layer_norm_gates(new_c, self.ln_c_gamma, self.ln_c_beta, 1) if self.layer_norm
             else new_c)
    new_h = tf.tanh(c_out) * tf.sigmoid(o)
    return new_h, [new_c, new_h] + new_hyper_state

  def _hyper_preactivations(self, xw, hw, hyper_h):
    e, units = self.hyper_embedding_size, self.units
    batch = tf.shape(hyper_h)[0]
    z_xh = tf.reshape(tf.matmul(hyper_h, self.w_zxh) + self.b_zxh, [batch, 8, e])
    z_b = tf.reshape(tf.matmul(hyper_h, self.w_zb), [batch, 4, e])
    alpha = tf.einsum("bge,geh->bgh", z_xh, self.w_alpha)  # [B, 8, H]: 4 x-gates, 4 h-gates
    beta = tf.einsum("bge,geh->bgh", z_b, self.w_beta)      # [B, 4, H]
    x4 = tf.reshape(xw, [batch, 4, units])
    h4 = tf.reshape(hw, [batch, 4, units])
    a = alpha[:, :4] * x4 + alpha[:, 4:] * h4 + tf.reshape(self.bias, [4, units]) + beta
    return tf.reshape(a, [batch, 4 * units])

  def dropout_masks(self, shape_prefix, seed):
    """Keep masks for `step`, drawn at once for shape_prefix = [T, B] (stateless)."""
    if self.keep_prob >= 1.0:
      return None
    seed = tf.cast(seed, tf.int32)
    main = tf.cast(tf.random.stateless_uniform(list(shape_prefix) + [self.units], seed)
                   < self.keep_prob, self.compute_dtype)
    if self.hyper is None:
      return main
    return (main, self.hyper.dropout_masks(shape_prefix, seed + 1))

  def get_config(self):
    config = super().get_config()
    config.update(units=self.units, layer_norm=self.layer_norm, hyper_units=self.hyper_units,
                  hyper_embedding_size=self.hyper_embedding_size,
                  forget_bias=self.forget_bias, keep_prob=self.keep_prob)
    return config


def make_cell(kind, units, hyper_units=0, hyper_embedding_size=32, keep_prob=1.0, name=None):
  """A SketchLSTMCell for a cell kind name: lstm, layer_norm or hyper."""
  if kind not in ("lstm", "layer_norm", "hyper"):
    raise ValueError(f"unknown cell kind {kind!r}: use lstm, layer_norm or hyper")
  return SketchLSTMCell(units, layer_norm=kind == "layer_norm",
                        hyper_units=hyper_units if kind == "hyper" else 0,
                        hyper_embedding_size=hyper_embedding_size, keep_prob=keep_prob,
                        name=name)
