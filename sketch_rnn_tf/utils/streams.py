"""The random streams of training, each derived from the run's seed by its own id.

Every random draw of a training run comes from one of these streams, so no two
can share a key: the model's stateless keys are the run's key folded with the
replica, the step and the stream id (`tf.random.experimental.stateless_fold_in`,
a hash), and the data pipeline's numpy generators are seeded with
[seed, stream id, epoch(, batch)]. A resumed run recomputes the same keys from
(seed, step), so it draws what the uninterrupted run would have.

Sampling keys its draws by the user's seed alone (`sampler.make_noise`), with
the second words of the Philox keys listed here too.
"""
from __future__ import annotations

import tensorflow as tf

# Training streams.
DATA_ORDER = 1          # numpy: the batches of an epoch
AUGMENTATION = 2        # numpy: the random scale and point dropping of a batch
ENCODER_FORWARD = 3     # dropout masks of the encoder's forward cell
ENCODER_BACKWARD = 4    # ... and of its backward cell
DECODER = 5             # dropout masks of the decoder cell
LATENT = 6              # eps of z = mu + sigma * eps
HYPER = 7               # a HyperLSTM's auxiliary cell: folded into its owner's key

# Sampling: the second word of the Philox key [seed, word].
SAMPLE_UNIFORM, SAMPLE_NORMAL = 0, 1   # the per-step noise of a drawing
PRIOR, ENCODE = -1, -2                 # z ~ N(0, I) of a free sample; eps of an encoding


def step_key(seed, step, replica=0):
  """The stateless key [2] int32 of one training step on one replica."""
  key = tf.stack([tf.cast(seed, tf.int32), tf.constant(0, tf.int32)])
  key = tf.random.experimental.stateless_fold_in(key, tf.cast(replica, tf.int32))
  return tf.random.experimental.stateless_fold_in(key, tf.cast(step, tf.int32))


def fold(key, stream):
  """The key of `stream` under `key` (a step key, or a cell's key for HYPER)."""
  return tf.random.experimental.stateless_fold_in(tf.cast(key, tf.int32), stream)


def numpy_seed(seed, stream, *data):
  """The entropy of a numpy generator of `stream`: np.random.default_rng(numpy_seed(...))."""
  return [int(seed), int(stream)] + [int(d) for d in data]
