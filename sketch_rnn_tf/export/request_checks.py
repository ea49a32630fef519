"""The checks on a request to an exported signature, as in-graph asserts.

Pure functions of the named inputs (and of two facts about the model: its
number of classes and the export's max_len limit), so every signature that
takes a given input checks it the same way. A failed check is an
InvalidArgumentError that names the signature and the input. TF.js has no
Assert op: its graphs go without.
"""
from __future__ import annotations

import tensorflow as tf


def checked(name, inputs, num_classes=0, max_len_limit=None):
  """The inputs after the asserts on them (NaN, ranges, batch sizes)."""
  checks = []
  out = dict(inputs)
  batch = None
  for key, value in inputs.items():
    if value.dtype.is_floating:
      out[key] = tf.debugging.assert_all_finite(
          value, f"{name}: input {key} has NaN or Inf values")
    b = tf.shape(value)[0]
    if batch is None:
      batch, first = b, key
      checks.append(tf.debugging.assert_positive(b, message=f"{name}: the batch is empty"))
    else:
      checks.append(tf.debugging.assert_equal(
          b, batch, message=f"{name}: inputs {first} and {key} have different batch "
          "sizes (dimension 0)"))
  checks += range_checks(name, inputs, num_classes, max_len_limit)
  with tf.control_dependencies(checks):
    return {k: tf.identity(v) for k, v in out.items()}


def range_checks(name, inputs, num_classes=0, max_len_limit=None):
  checks = []
  if "lengths" in inputs:
    lengths, steps = inputs["lengths"], tf.shape(inputs["strokes"])[1]
    checks.append(tf.debugging.assert_positive(
        lengths, message=f"{name}: lengths must be >= 1"))
    checks.append(tf.debugging.assert_less_equal(
        lengths, steps, message=f"{name}: lengths must be <= the padded length "
        "(strokes dimension 1)"))
    checks.append(pen_check(name, inputs["strokes"], lengths))
  if "labels" in inputs:
    checks.append(tf.debugging.assert_non_negative(
        inputs["labels"], message=f"{name}: labels must be >= 0"))
    checks.append(tf.debugging.assert_less(
        inputs["labels"], num_classes,
        message=f"{name}: labels must be < num_classes = {num_classes}"))
  if "temperature" in inputs:
    t = inputs["temperature"]
    checks.append(tf.debugging.assert_positive(t, message=f"{name}: temperature must be > 0"))
    checks.append(tf.debugging.assert_less_equal(
        t, 1.0, message=f"{name}: temperature must be <= 1"))
  if "max_len" in inputs:
    m = inputs["max_len"]
    checks.append(tf.debugging.assert_positive(m, message=f"{name}: max_len must be >= 1"))
    checks.append(tf.debugging.assert_less_equal(
        m, max_len_limit, message=f"{name}: max_len must be <= {max_len_limit}"))
  if "prev" in inputs:
    checks.append(pen_check(name, inputs["prev"][:, None], None))
  return checks


def pen_check(name, s5, lengths):
  """The pen columns of the real rows must be one-hot (or the model reads nonsense)."""
  pen = s5[..., 2:]
  one_hot = tf.logical_and(tf.reduce_all(tf.logical_or(pen == 0.0, pen == 1.0), axis=-1),
                           tf.reduce_sum(pen, axis=-1) == 1.0)
  if lengths is not None:
    real = tf.sequence_mask(lengths, tf.shape(s5)[1])
    one_hot = tf.logical_or(one_hot, tf.logical_not(real))
  return tf.debugging.Assert(tf.reduce_all(one_hot), [
      tf.constant(f"{name}: the pen columns (2:5) of every real row must be one-hot")])
