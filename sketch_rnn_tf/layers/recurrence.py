"""Running a SketchLSTMCell over a sequence in one in-graph loop.

The input projections for every step come precomputed (`cell.project_inputs`),
so the loop body holds only the recurrent matmul and the gate arithmetic.
With `lengths`, the state stops changing after each sequence's last real step,
so the final state is the state at the true length, not at the padding's end.

Two implementations with the same results, both stepping `lstm_math.step`:
`unroll_autodiff` lets TensorFlow differentiate the loop;
`fast_recurrence.unroll_fast` has a hand-written gradient over the whole
sequence (weight gradients as one matmul over all steps), 2-3x faster to train
and half the memory. `unroll` uses the fast one; the tests hold the two equal.
"""
from __future__ import annotations

import tensorflow as tf

from sketch_rnn_tf.layers import fast_recurrence, lstm_math

# Module switch, for measuring one against the other (benchmarks, tests).
IMPLEMENTATION = "fast"


def unroll(cell, xw, initial_state, lengths=None, keep_masks=None):
  """Runs `cell` over time; see `unroll_autodiff` for the arguments and results."""
  if IMPLEMENTATION == "fast":
    return fast_recurrence.unroll_fast(cell, xw, initial_state, lengths, keep_masks)
  return unroll_autodiff(cell, xw, initial_state, lengths, keep_masks)


def unroll_autodiff(cell, xw, initial_state, lengths=None, keep_masks=None):
  """Runs the cell's step over time.

  xw: projections [B, T, ...] (a tensor or a tuple for a HyperLSTM).
  initial_state: list of [B, n] tensors. lengths: [B] int or None.
  keep_masks: dropout masks [T, B, H] (or a tuple) or None.
  Returns (outputs [B, T, H], final state list).
  """
  xw_tm = tf.nest.map_structure(fast_recurrence.time_major, xw)
  steps = tf.shape(tf.nest.flatten(xw_tm)[0])[0]
  outputs = tf.TensorArray(initial_state[1].dtype, size=steps)
  weights = lstm_math.prepare(cell.spec, cell.recurrence_weights())

  def body(t, state, outputs):
    x_t = tf.nest.map_structure(lambda v: v[t], xw_tm)
    mask_t = None if keep_masks is None else tf.nest.map_structure(lambda m: m[t], keep_masks)
    h, new_state = cell.step(x_t, state, mask_t, weights=weights)
    if lengths is not None:
      alive = (t < lengths)[:, None]
      new_state = [tf.where(alive, n, o) for n, o in zip(new_state, state)]
    return t + 1, new_state, outputs.write(t, h)

  _, final_state, outputs = tf.while_loop(
      lambda t, *_: t < steps, body, (tf.constant(0), list(initial_state), outputs),
      maximum_iterations=steps)
  out = fast_recurrence.time_major(outputs.stack())
  out.set_shape([None, None, cell.units])
  return out, final_state
