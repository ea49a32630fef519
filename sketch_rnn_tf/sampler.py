"""Drawing with a trained decoder: the whole sampling loop in one compiled graph.

Each step feeds the previous stroke-5 point (and the constant [z, class]
input) through the cell and the MDN, then draws the next point:

  mixture j ~ softmax(pi_logits / tau)
  (dx, dy) ~ N(mu_j, Sigma_j) with sigma_x^2, sigma_y^2 scaled by tau
             (sigma * sqrt(tau); rho unchanged), drawn as
             dx = mu_x + s_x e1,  dy = mu_y + s_y (rho e1 + sqrt(1 - rho^2) e2)
  pen ~ softmax(q_logits / tau)

as the paper defines the temperature tau in (0, 1]. (The reference Python code
multiplies sigma itself by tau; @magenta/sketch uses sqrt(tau) as here.)
Greedy mode takes the most likely mixture, its mean and the most likely pen
state. A sketch stops at its first end-of-sketch state or at max_len points;
rows after it are end tokens. Noise comes from stateless RNGs keyed by
(seed, step), so a seed reproduces a drawing exactly.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from sketch_rnn_tf import mdn, strokes


def temperature_params(params, temperature):
  """The MDN parameters with the temperature applied (see the module docstring)."""
  tau = tf.cast(temperature, params["mu_x"].dtype)
  half_log_tau = 0.5 * tf.math.log(tau)
  return dict(params, pi_logits=params["pi_logits"] / tau, q_logits=params["q_logits"] / tau,
              log_sx=params["log_sx"] + half_log_tau, log_sy=params["log_sy"] + half_log_tau)


def draw_point(params, seed, greedy=False):
  """One stroke-5 point [B, 5] from (already tempered) MDN parameters [B, ...]."""
  num_mixtures = params["pi_logits"].shape[-1]
  if greedy:
    j = tf.argmax(params["pi_logits"], axis=-1, output_type=tf.int32)
    pen = tf.argmax(params["q_logits"], axis=-1, output_type=tf.int32)
  else:
    j = tf.random.stateless_categorical(params["pi_logits"], 1, seed, dtype=tf.int32)[:, 0]
    pen = tf.random.stateless_categorical(params["q_logits"], 1, seed + [0, 1],
                                          dtype=tf.int32)[:, 0]
  pick = tf.one_hot(j, num_mixtures, dtype=params["mu_x"].dtype)

  def chosen(name):
    return tf.reduce_sum(params[name] * pick, axis=-1)

  mu_x, mu_y = chosen("mu_x"), chosen("mu_y")
  if greedy:
    dx, dy = mu_x, mu_y
  else:
    sx, sy, rho = tf.exp(chosen("log_sx")), tf.exp(chosen("log_sy")), chosen("rho")
    e = tf.random.stateless_normal(tf.stack([2, tf.shape(mu_x)[0]]), seed + [0, 2],
                                   dtype=mu_x.dtype)
    dx = mu_x + sx * e[0]
    dy = mu_y + sy * (rho * e[0] + tf.sqrt(tf.maximum(1.0 - rho * rho, 0.0)) * e[1])
  return tf.concat([dx[:, None], dy[:, None], tf.one_hot(pen, 3, dtype=dx.dtype)], axis=1)


class Sampler:
  """Compiled sampling for one SketchRNN (conditional, unconditional or class-conditional)."""

  def __init__(self, model, jit_compile=True):
    self.model = model
    self.decoder = model.decoder
    self._loop = tf.function(self._sample_loop, jit_compile=jit_compile, reduce_retracing=True)

  def _sample_loop(self, cond, state, prev, temperature, seed, max_len, greedy):
    decoder, cell = self.decoder, self.decoder.cell
    batch = tf.shape(prev)[0]
    out = tf.TensorArray(prev.dtype, size=max_len)
    finished = tf.zeros([batch], tf.bool)
    lengths = tf.fill([batch], max_len)
    end = tf.constant(strokes.END_TOKEN, prev.dtype)

    def body(t, prev, state, finished, lengths, out):
      xw = cell.project_inputs(prev, cond)
      h, state = cell.step(xw, state)
      y = tf.cast(decoder.head(h), tf.float32)  # bfloat16 under a mixed policy
      params = temperature_params(mdn.split_params(y, decoder.num_mixtures), temperature)
      point = draw_point(params, tf.stack([seed, t]), greedy)
      ends = tf.logical_or(finished, point[:, 4] > 0.5)
      point = tf.where(ends[:, None], end[None], point)  # an end row carries no offset
      now_ended = tf.logical_and(tf.logical_not(finished), ends)
      lengths = tf.where(now_ended, t, lengths)
      return t + 1, point, state, finished | now_ended, lengths, out.write(t, point)

    _, _, state, _, lengths, out = tf.while_loop(
        lambda t, *_: t < max_len, body,
        (tf.constant(0), prev, state, finished, lengths, out), maximum_iterations=max_len)
    return tf.transpose(out.stack(), [1, 0, 2]), lengths, state

  def sample(self, num=None, z=None, labels=None, temperature=1.0, greedy=False, max_len=None,
             seed=0, initial_state=None, prev=None):
    """Draws sketches. Returns (stroke-5 float32 [B, max_len, 5], lengths int32 [B]).

    num: how many (needed when neither z nor labels nor a state gives the batch).
    z: [B, Nz] latent codes for a conditional model; drawn from N(0, I) if None.
    labels: [B] class ids for a class-conditional model.
    initial_state / prev: continue from a primed decoder (see `prime`).
    Offsets are in the model's normalised units; `to_stroke3_pixels` converts.
    """
    hp = self.model.hp
    max_len = int(max_len or hp.max_seq_len)
    for source in (z, labels, prev):
      if source is not None:
        num = int(np.shape(source)[0])
        break
    if num is None:
      raise ValueError("give num, z, labels or a primed state")
    if hp.conditional and z is None:
      z = tf.random.stateless_normal([num, hp.z_size], [int(seed), -1])
    if z is not None:
      z = tf.convert_to_tensor(z, tf.float32)
    if hp.num_classes:
      if labels is None:
        raise ValueError("a class-conditional model needs labels")
      labels = tf.convert_to_tensor(labels, tf.int32)
    # The loop runs in float32 (outside a layer call, weights are read as float32),
    # whatever the model's compute dtype.
    cond = self.decoder.conditioning(z, labels)
    if cond is not None:
      cond = tf.cast(cond, tf.float32)
    state = (initial_state if initial_state is not None
             else self.decoder.initial_state(z, num))
    state = [tf.cast(v, tf.float32) for v in state]
    if prev is None:
      prev = tf.tile(tf.constant(strokes.START_TOKEN)[None], [num, 1])
    # max_len and greedy are Python values: XLA needs a static loop bound, and
    # greedy changes the graph (one trace each).
    s5, lengths, _ = self._loop(cond, list(state), tf.convert_to_tensor(prev, tf.float32),
                                tf.constant(temperature, tf.float32),
                                tf.constant(int(seed), tf.int32), max_len, bool(greedy))
    return s5.numpy(), lengths.numpy()

  def encode(self, sketches, sample=False, seed=0):
    """Pixel stroke-3 sketches -> latent codes [B, Nz] (the mean, or a draw)."""
    if not self.model.hp.conditional:
      raise ValueError("an unconditional model has no encoder")
    scale = self.model.scale_factor
    seqs = [strokes.normalize(s, scale) for s in sketches]
    lengths = np.array([len(s) for s in seqs], np.int32)
    batch = np.stack([strokes.to_stroke5(s, int(lengths.max()) + 1) for s in seqs])
    mu, presig = self.model.encoder(tf.constant(batch), tf.constant(lengths))
    if not sample:
      return mu.numpy()
    eps = tf.random.stateless_normal(tf.shape(mu), [int(seed), -2])
    return (mu + tf.exp(presig / 2) * eps).numpy()

  def to_stroke3_pixels(self, s5, lengths):
    """Sampled stroke-5 -> list of stroke-3 float32 arrays in pixels."""
    del lengths  # to_stroke3 cuts at the end token itself
    return [strokes.denormalize(strokes.to_stroke3(s), self.model.scale_factor) for s in s5]
