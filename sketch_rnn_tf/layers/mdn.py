"""Mixture density output of Sketch-RNN and its log-likelihood.

The decoder's output y = W h + b (3 + 6M values per step) is read, in the
reference code's (and @magenta/sketch's) column order, as

    [q_logits (3) | pi_logits (M) | mu_x (M) | mu_y (M) | s_x (M) | s_y (M) | r (M)]

with sigma_x = exp(s_x), sigma_y = exp(s_y), rho = tanh(r), pi = softmax(pi_logits)
and pen-state probabilities q = softmax(q_logits). The offset density is

    p(dx, dy) = sum_j pi_j N(dx, dy | mu_x,j, mu_y,j, sigma_x,j, sigma_y,j, rho_j),
    log N = -log(2 pi sigma_x sigma_y sqrt(1 - rho^2)) - Z / (2 (1 - rho^2)),
    Z = zx^2 + zy^2 - 2 rho zx zy,  zx = (dx - mu_x) / sigma_x,  zy = (dy - mu_y) / sigma_y,

evaluated as a log-sum-exp over the mixtures (the reference adds 1e-6 inside
a log of the plain sum instead, which underflows for far-off points).
"""
from __future__ import annotations

import math

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable("sketch_rnn_tf")
class MixtureDensityHead(keras.layers.Layer):
  """The decoder's output layer: y = W h + b, the 3 + 6M mixture parameters per step.

  The columns are read as the module docstring says (`split_params`): pen-state
  logits, mixture logits, then mu_x, mu_y, log sigma_x, log sigma_y and
  atanh rho of each of the M bivariate normals.

  Args:
    num_mixtures: M.
    **kwargs: standard `keras.layers.Layer` arguments.

  Call arguments:
    h: [..., H] decoder outputs.

  Returns:
    y [..., 3 + 6M].

  Example:

  >>> head = MixtureDensityHead(num_mixtures=20)
  >>> head(tf.zeros([2, 5, 16])).shape
  TensorShape([2, 5, 123])

  References:
    Bishop, "Mixture Density Networks", 1994; Graves, "Generating Sequences With
    Recurrent Neural Networks", 2013, section 4.2.
  """

  def __init__(self, num_mixtures=20, **kwargs):
    super().__init__(**kwargs)
    self.num_mixtures = int(num_mixtures)
    self.dense = keras.layers.Dense(3 + 6 * self.num_mixtures, name="output")

  def build(self, input_shape):
    self.dense.build(input_shape)
    self.built = True

  def call(self, h):
    return self.dense(h)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (3 + 6 * self.num_mixtures,)

  def get_config(self):
    config = super().get_config()
    config.update(num_mixtures=self.num_mixtures)
    return config


def split_params(y, num_mixtures):
  """Raw output [..., 3 + 6M] -> dict of q_logits, pi_logits, mu_x, mu_y, log_sx, log_sy, rho."""
  q_logits = y[..., :3]
  pi, mu_x, mu_y, log_sx, log_sy, r = tf.split(y[..., 3:3 + 6 * num_mixtures], 6, axis=-1)
  return dict(q_logits=q_logits, pi_logits=pi, mu_x=mu_x, mu_y=mu_y, log_sx=log_sx,
              log_sy=log_sy, rho=tf.tanh(r))


def offset_log_likelihood(params, dx, dy, epsilon=0.0):
  """log p(dx, dy) per step: params from `split_params`, dx, dy [...].

  epsilon > 0: log(p + epsilon), the reference's guard (1e-6), which bounds the
  cost of a far-off point at -log(epsilon) and so also stops its gradient.
  """
  dx, dy = dx[..., None], dy[..., None]
  sx, sy = tf.exp(params["log_sx"]), tf.exp(params["log_sy"])
  rho = params["rho"]
  zx = (dx - params["mu_x"]) / sx
  zy = (dy - params["mu_y"]) / sy
  one_minus_rho2 = tf.maximum(1.0 - tf.square(rho), 1e-6)  # tanh saturates at |rho| = 1
  z = tf.square(zx) + tf.square(zy) - 2.0 * rho * zx * zy
  log_n = (-math.log(2.0 * math.pi) - params["log_sx"] - params["log_sy"]
           - 0.5 * tf.math.log(one_minus_rho2) - z / (2.0 * one_minus_rho2))
  log_pi = tf.nn.log_softmax(params["pi_logits"], axis=-1)
  log_p = tf.reduce_logsumexp(log_pi + log_n, axis=-1)
  if epsilon > 0:
    # log(p + eps) = logaddexp(log p, log eps), without underflowing p.
    log_eps = tf.cast(math.log(epsilon), log_p.dtype)
    return tf.maximum(log_p, log_eps) + tf.math.log1p(tf.exp(-tf.abs(log_p - log_eps)))
  return log_p


def pen_log_likelihood(params, pen):
  """sum_k p_k log q_k per step: pen [..., 3] one-hot target states."""
  return tf.reduce_sum(pen * tf.nn.log_softmax(params["q_logits"], axis=-1), axis=-1)
