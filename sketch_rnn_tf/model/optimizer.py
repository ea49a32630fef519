"""Adam with the paper's learning-rate schedule, gradient clipping and a non-finite guard.

The guard and the clipping act on the gradients after they are summed over
replicas, so every replica takes the same decision and clipping sees the
global gradient, exactly as on one device:

  g = sum over replicas of g_r
  if any value of g is not finite: skip (no weight or moment changes; the step counts)
  else: g <- clip(g) (per value to +-c, as the reference, or by global norm); Adam(g)

Learning rate: (lr0 - lr_min) * decay^step + lr_min.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from sketch_rnn_tf.defaults import CLIP_MODES


@keras.saving.register_keras_serializable("sketch_rnn_tf")
class DecayToMinimum(keras.optimizers.schedules.LearningRateSchedule):
  """(initial - minimum) * decay^step + minimum."""

  def __init__(self, initial, decay, minimum):
    self.initial, self.decay, self.minimum = float(initial), float(decay), float(minimum)

  def __call__(self, step):
    # float64: a float32 decay rate raised to large powers drifts (see losses.kl_weight).
    step = tf.cast(step, tf.float64)
    lr = (self.initial - self.minimum) * tf.pow(tf.constant(self.decay, tf.float64),
                                                step) + self.minimum
    return tf.cast(lr, tf.float32)

  def get_config(self):
    return dict(initial=self.initial, decay=self.decay, minimum=self.minimum)


@keras.saving.register_keras_serializable("sketch_rnn_tf")
class GuardedAdam(keras.optimizers.Adam):
  """Adam that clips the replica-summed gradient and skips non-finite steps.

  After `apply`, `last_step_finite` holds whether the step was applied.
  """

  def __init__(self, clip=1.0, clip_mode="value", **kwargs):
    super().__init__(**kwargs)
    if clip_mode not in CLIP_MODES:
      raise ValueError(f"clip_mode must be one of {CLIP_MODES}, not {clip_mode!r}")
    self.clip, self.clip_mode = float(clip), clip_mode
    self.last_step_finite = None

  def _clip_summed(self, grads):
    if self.clip_mode == "global_norm":
      return tf.clip_by_global_norm(grads, self.clip)[0]
    return [tf.clip_by_value(g, -self.clip, self.clip) for g in grads]

  def _backend_update_step(self, grads, trainable_variables, learning_rate):
    variables = [v.value if isinstance(v, keras.Variable) else v for v in trainable_variables]
    summed = self._all_reduce_sum_gradients(list(zip(grads, variables)))
    grads = [g for g, _ in summed]
    finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads])
    grads = self._clip_summed([tf.where(finite, g, tf.zeros_like(g)) for g in grads])
    self.last_step_finite = finite

    def update(distribution, grads, variables, learning_rate, finite):
      def guarded(var, grad, lr, ok):
        return tf.cond(ok, lambda: self._update_and_flag(grad, var, lr),
                       lambda: tf.constant(False))
      for grad, var in zip(grads, variables):
        distribution.extended.update(var, guarded, args=(grad, learning_rate, finite),
                                     group=False)

    tf.__internal__.distribute.interim.maybe_merge_call(
        update, self._distribution_strategy, grads, variables, learning_rate, finite)

  def _update_and_flag(self, grad, var, lr):
    self.update_step(grad, var, lr)
    return tf.constant(True)

  def get_config(self):
    config = super().get_config()
    config.update(clip=self.clip, clip_mode=self.clip_mode)
    return config


def make_optimizer(hp) -> GuardedAdam:
  """The optimizer of a run's HParams."""
  return GuardedAdam(clip=hp.grad_clip, clip_mode=hp.clip_mode, epsilon=hp.adam_epsilon,
                     learning_rate=DecayToMinimum(hp.learning_rate, hp.decay_rate,
                                                  hp.min_learning_rate))
