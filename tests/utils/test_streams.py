"""The random streams: no two share a key, over many steps and replicas."""
import numpy as np
import tensorflow as tf

from sketch_rnn_tf.layers.lstm_cell import SketchLSTMCell
from sketch_rnn_tf.utils import streams

MODEL_STREAMS = (streams.ENCODER_FORWARD, streams.ENCODER_BACKWARD, streams.DECODER,
                 streams.LATENT)
STEPS = 3000


@tf.function
def keys_of_steps(seed, replica):
  """Every stateless key a training step draws from: [STEPS, streams, 2]."""
  def one(step):
    key = streams.step_key(seed, step, replica)
    per_stream = [streams.fold(key, s) for s in MODEL_STREAMS]
    # A HyperLSTM's auxiliary cell folds its owner's key once more.
    per_stream += [streams.fold(per_stream[i], streams.HYPER) for i in range(3)]
    return tf.stack(per_stream)
  return tf.map_fn(one, tf.range(STEPS), fn_output_signature=tf.TensorSpec([7, 2], tf.int32))


def test_no_two_streams_share_a_key():
  keys = np.concatenate([keys_of_steps(tf.constant(s), tf.constant(r)).numpy().reshape(-1, 2)
                         for s in (0, 1) for r in (0, 1)])
  assert len(keys) == 2 * 2 * STEPS * 7
  assert len({tuple(k) for k in keys}) == len(keys)


def test_the_old_collisions_are_gone():
  """The old keys were (seed, step) plus fixed offsets: the decoder's key at step t+7919
  was the encoder's forward key at step t. Now the masks differ."""
  cell = SketchLSTMCell(16, keep_prob=0.5, name="c")
  t = 5
  forward = cell.dropout_masks([3, 4], streams.fold(streams.step_key(0, t), streams.ENCODER_FORWARD))
  decoder = cell.dropout_masks([3, 4], streams.fold(streams.step_key(0, t + 7919), streams.DECODER))
  assert not np.array_equal(forward.numpy(), decoder.numpy())


def test_keys_are_a_function_of_seed_step_and_replica():
  """What exact resume rests on: the same (seed, step, replica) gives the same key."""
  a = streams.step_key(3, 1234, 1).numpy()
  b = streams.step_key(3, 1234, 1).numpy()
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, streams.step_key(3, 1234, 0).numpy())
  assert not np.array_equal(a, streams.step_key(3, 1235, 1).numpy())


def test_numpy_streams_differ():
  order = np.random.default_rng(streams.numpy_seed(0, streams.DATA_ORDER, 0)).random(8)
  augment = np.random.default_rng(streams.numpy_seed(0, streams.AUGMENTATION, 0, 0)).random(8)
  assert not np.allclose(order, augment)
