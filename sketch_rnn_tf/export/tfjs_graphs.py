"""The graphs the browser runs (`tfjs.convert` turns them into TF.js models).

TF.js has no Assert op and no stateless random ops, so these graphs check
nothing and take their randomness as an input: `sample` takes noise f32
[T, B, 4] (u_mixture, u_pen in [0, 1), e1, e2 ~ N(0, 1)) instead of seed and
max_len (conditional models take z), and `decode_step` returns `params`
[B, 3+6M] (the seven MDN outputs side by side, columns in `params_layout`)
and `state`. Ops are written the way TF.js's kernels run them fastest.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from sketch_rnn_tf.export.graphs import F32, I32, ModelGraphs, spec
from sketch_rnn_tf.layers import lstm_math
from sketch_rnn_tf.sampling import sampler

# The TF.js decode_step's `params` columns: these outputs of decode_step side by side
# (pen_logits 3 columns, the others M each).
PARAMS_ORDER = ("pen_logits", "pi_logits", "mu_x", "mu_y", "sigma_x", "sigma_y", "rho")


def params_layout(num_mixture):
  """{name: [first column, end column]} of the packed `params`."""
  layout, start = {}, 0
  for name in PARAMS_ORDER:
    width = 3 if name == "pen_logits" else int(num_mixture)
    layout[name] = [start, start + width]
    start += width
  return layout


class TfjsGraphs(ModelGraphs):
  """decode_step, sample (noise given) and, for conditional models, initial_state and
  encode."""

  def specs(self):
    cond = self.cond_specs()
    out = {"decode_step": (self.decode_step_packed, self.step_specs() + cond),
           "sample": (self.sample_noise, [spec([None], F32, "temperature"),
                                          spec([None, None, sampler.NOISE_SIZE], F32,
                                               "noise")] + cond)}
    if self.conditional:
      out["initial_state"] = (self.initial_state, self.z_spec())
      out["encode"] = (self.encode, [spec([None, None, 5], F32, "strokes"),
                                     spec([None], I32, "lengths")])
    return out

  def encode(self, strokes, lengths):
    """mu and presig of stroke-5 sketches in px [B, T, 5] (no start token), `lengths` real
    points each: the bidirectional encoder as one loop over t of both directions.

    The backward direction reads x[T-1-t] and changes its state only while
    T-1-t < length: from the zero state it takes x[L-1], ..., x[0], each
    sketch reversed within its own length (what `SketchEncoder` does with
    reverse_sequence, which TF.js lacks). No TensorArrays: only the final
    states are needed.
    """
    enc = self.model.encoder
    cells = (enc.forward_cell, enc.backward_cell)
    x = self.normalised(strokes)
    lengths = tf.cast(lengths, I32)
    steps = tf.shape(x)[1]
    xw = [tf.cast(c.project_inputs(x), F32) for c in cells]
    weights = [lstm_math.prepare(c.spec, c.recurrence_weights()) for c in cells]
    zeros = tf.zeros([tf.shape(x)[0], enc.units], F32)

    def direction(k, t, state):
      _, new, _ = lstm_math.step(cells[k].spec, weights[k], tf.gather(xw[k], t, axis=1), state)
      alive = (t < lengths)[:, None]
      return [tf.where(alive, n, o) for n, o in zip(new, state)]

    def body(t, fc, fh, bc, bh):
      fc, fh = direction(0, t, [fc, fh])
      bc, bh = direction(1, steps - 1 - t, [bc, bh])
      return t + 1, fc, fh, bc, bh

    _, _, fh, _, bh = tf.while_loop(lambda t, *_: t < steps, body,
                                    (tf.constant(0), zeros, zeros, zeros, zeros))
    h = tf.concat([fh, bh], axis=1)
    return {"mu": tf.cast(enc.mu(h), F32), "presig": tf.cast(enc.presig(h), F32)}

  def state_parts(self, z, batch):
    dense = self.decoder.init_state
    if dense is None:
      return super().state_parts(z, batch)
    # TF.js's CPU backend has no tanh in a fused MatMul, and grappler fuses
    # MatMul + BiasAdd + Tanh: write tanh(a) = 2 sigmoid(2a) - 1, which it cannot.
    a = tf.matmul(tf.cast(z, F32), tf.cast(dense.kernel, F32)) + tf.cast(dense.bias, F32)
    return list(tf.split(2.0 * tf.sigmoid(2.0 * a) - 1.0, self.state_sizes, axis=1))

  def step(self, cond, state, prev):
    cell = self.decoder.cell
    if cell.hyper is not None:
      return self.hyper_step(cond, state, prev)
    if cell.layer_norm:
      return super().step(cond, state, prev)
    return self.plain_lstm_step(cond, state, prev)

  def hyper_step(self, cond, state, prev):
    """The HyperLSTM's step with its scales made by a batched matmul, not an einsum:
    TF.js's wasm backend has no Einsum kernel (its cpu backend has one)."""
    return sampler.decoder_step(self.decoder, cond, state, prev, scale_products="batch_matmul")

  def plain_lstm_step(self, cond, state, prev):
    """The plain LSTM's step in lstm_math's "stacked_transposed" layout.

    TF.js's CPU matmul runs [1, K] x [K, N] about 1.5x faster as x (W^T)^T with
    transpose_b (rows of W^T are read contiguously): one matmul of [x, cond, h] by the
    stacked [W_x; W_h]^T per step, as @magenta/sketch stacks them.
    """
    cell, head = self.decoder.cell, self.decoder.head.dense
    with tf.init_scope():  # the weights' values, read eagerly while tracing
      w = np.concatenate([cell.w_x.numpy(), cell.w_h.numpy()], axis=0).T
      out = head.kernel.numpy().T
    weights = {"w_xh_t": tf.constant(np.ascontiguousarray(w, np.float32),
                                     name="tfjs_lstm_kernel_t"),
               "bias": tf.cast(cell.bias, F32)}
    out_t = tf.constant(np.ascontiguousarray(out, np.float32), name="tfjs_mdn_kernel_t")
    x = prev if cond is None else tf.concat([prev, cond], axis=1)
    new_h, new_state, _ = lstm_math.step(cell.spec, weights, x, list(state),
                                         layout="stacked_transposed")
    y = tf.matmul(new_h, out_t, transpose_b=True) + tf.cast(head.bias, F32)
    return y, new_state

  def decode_step_packed(self, prev, state, z=None, labels=None):
    """decode_step with the MDN outputs in one tensor `params` [B, 3+6M], columns as
    `params_layout`: the page reads one array per step instead of seven."""
    out = self.decode_step(prev, state, z, labels)
    return {"params": tf.concat([out[name] for name in PARAMS_ORDER], axis=1),
            "state": out["state"]}

  def sample_noise(self, temperature, noise, z=None, labels=None):
    """The whole loop with the noise [T, B, 4] given; strokes in px."""
    s5, lengths = self.decode(z, labels, temperature, noise)
    return {"strokes": self.pixels(s5), "lengths": lengths}
