"""Sketch-RNN's loss terms, in the paper's normalisation.

  L_s  = -1/N_max sum_{i <= N_s} log sum_j pi_j N(dx_i, dy_i | ...)    (real points only)
  L_p  = -1/N_max sum_{i <= T} sum_k p_k,i log q_k,i                   (every step of the batch)
  L_R  = L_s + L_p
  L_KL = -1/(2 N_z) sum (1 + sigma_hat - mu^2 - exp(sigma_hat))
  loss = L_R + w_KL * max(L_KL, KL_min)

Dividing by the fixed N_max (never a batch's own length) makes every sketch
weigh the same whatever bucket it lands in. A batch padded to T < N_max leaves
out only pen terms of padding beyond T, which lie after every sketch's first
end token and do not affect sampling; padded to N_max, L_R is the paper's.
Per-sketch values are returned so a distribution strategy can average them
over the global batch.
"""
from __future__ import annotations

import tensorflow as tf

from sketch_rnn_tf.layers import mdn


def reconstruction(y, targets, lengths, num_mixtures, n_max, epsilon=0.0):
  """Per-sketch (L_s, L_p, L_p on real points), each [B].

  y [B, T, 3+6M]; targets stroke-5 [B, T, 5]. The third value is the pen term
  over each sketch's real points only, the form the reference code evaluates
  with (it masks L_p at evaluation time), kept for comparing numbers with it.
  """
  params = mdn.split_params(y, num_mixtures)
  mask = tf.sequence_mask(lengths, tf.shape(targets)[1], dtype=y.dtype)
  offset_ll = mdn.offset_log_likelihood(params, targets[..., 0], targets[..., 1], epsilon)
  pen_ll = mdn.pen_log_likelihood(params, targets[..., 2:5])
  n_max = tf.cast(n_max, y.dtype)
  return (-tf.reduce_sum(offset_ll * mask, axis=1) / n_max,
          -tf.reduce_sum(pen_ll, axis=1) / n_max,
          -tf.reduce_sum(pen_ll * mask, axis=1) / n_max)


def total(recon, kl, w_kl, kl_tolerance):
  """loss = L_R + w_KL * max(L_KL, KL_min): below the tolerance the KL costs nothing."""
  return recon + w_kl * tf.maximum(kl, kl_tolerance)


def kl_divergence(mu, presig):
  """Per-sketch KL(N(mu, exp(presig)) || N(0, I)) averaged over the z dimensions, [B]."""
  return -0.5 * tf.reduce_mean(1.0 + presig - tf.square(mu) - tf.exp(presig), axis=1)


def kl_weight(step, hparams):
  """w_KL - (w_KL - w_start) * decay^step.

  In float64: 0.99995 rounded to float32 and raised to the 50,000th power is off
  by 0.15%.
  """
  step = tf.cast(step, tf.float64)
  w = hparams.kl_weight - (hparams.kl_weight - hparams.kl_weight_start) * tf.pow(
      tf.constant(hparams.kl_decay_rate, tf.float64), step)
  return tf.cast(w, tf.float32)
