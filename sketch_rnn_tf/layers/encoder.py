"""Sketch-RNN's encoder: a bidirectional LSTM into the VAE latent.

h = [h_fwd(S_1..S_L), h_bwd(S_L..S_1)]   (final states at each sketch's true length L)
mu = W_mu h + b_mu,  sigma_hat = W_s h + b_s,  sigma = exp(sigma_hat / 2),
z = mu + sigma * eps,  eps ~ N(0, I).

The backward direction reverses each sketch within its own length, so padding
never enters either direction.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from sketch_rnn_tf.layers import recurrence
from sketch_rnn_tf.layers.lstm_cell import make_cell
from sketch_rnn_tf.utils import streams


@keras.saving.register_keras_serializable("sketch_rnn_tf")
class SketchEncoder(keras.layers.Layer):
  """Sketch-RNN's encoder: a bidirectional RNN over each sketch into the VAE latent.

      h = [h_fwd(S_1..S_L), h_bwd(S_L..S_1)]      (final states at each true length L)
      mu = W_mu h + b_mu,  sigma_hat = W_s h + b_s

  The model draws z = mu + exp(sigma_hat / 2) * eps. The backward direction
  reverses each sketch within its own length, so padding enters neither.

  Args:
    units: each direction's cell size (256 in the paper).
    z_size: N_z.
    cell: the cell kind (`defaults.CELL_KINDS`); the paper uses lstm.
    keep_prob: recurrent dropout keep probability.
    hyper_units, hyper_embedding_size: for a HyperLSTM encoder.
    **kwargs: standard `keras.layers.Layer` arguments.

  Call arguments:
    strokes: [B, T, 5] stroke-5 rows without the start token.
    lengths: [B] real points per sketch.
    training: draw recurrent dropout masks (with `seed`).
    seed: the step's stateless key (`utils.streams.step_key`).

  Returns:
    (mu, sigma_hat), each [B, z_size].

  Example:

  >>> encoder = SketchEncoder(units=16, z_size=8)
  >>> mu, presig = encoder(tf.zeros([2, 9, 5]), tf.constant([9, 4]))
  >>> mu.shape
  TensorShape([2, 8])

  References:
    Ha & Eck, "A Neural Representation of Sketch Drawings", ICLR 2018, section 3.
  """

  def __init__(self, units=256, z_size=128, cell="lstm", keep_prob=1.0, hyper_units=256,
               hyper_embedding_size=32, **kwargs):
    super().__init__(**kwargs)
    self.units, self.z_size, self.cell, self.keep_prob = units, z_size, cell, keep_prob
    self.hyper_units, self.hyper_embedding_size = hyper_units, hyper_embedding_size
    self.forward_cell = make_cell(cell, units, hyper_units, hyper_embedding_size, keep_prob,
                                  name="forward")
    self.backward_cell = make_cell(cell, units, hyper_units, hyper_embedding_size, keep_prob,
                                   name="backward")
    # The reference starts both heads with N(0, 0.001) weights: z starts near 0.
    init = keras.initializers.RandomNormal(stddev=0.001)
    self.mu = keras.layers.Dense(z_size, kernel_initializer=init, name="mu")
    self.presig = keras.layers.Dense(z_size, kernel_initializer=init, name="presig")

  def build(self, input_shape):
    self.forward_cell.build((None, 5))
    self.backward_cell.build((None, 5))
    self.mu.build((None, 2 * self.units))
    self.presig.build((None, 2 * self.units))
    self.built = True

  def call(self, strokes, lengths, training=False, seed=None):
    """strokes: the sketch rows without the start token; lengths: real points;
    seed: the step key (`streams.step_key`) of the dropout masks."""
    lengths = tf.cast(lengths, tf.int32)
    batch, steps = tf.shape(strokes)[0], tf.shape(strokes)[1]
    finals = []
    for stream, cell, x in ((streams.ENCODER_FORWARD, self.forward_cell, strokes),
                            (streams.ENCODER_BACKWARD, self.backward_cell, tf.reverse_sequence(
                                strokes, lengths, seq_axis=1, batch_axis=0))):
      masks = None
      if training and seed is not None:
        masks = cell.dropout_masks([steps, batch], streams.fold(seed, stream))
      _, state = recurrence.unroll(cell, cell.project_inputs(x), cell.get_initial_state(batch),
                                   lengths, masks)
      finals.append(state[1])
    h = tf.concat(finals, axis=1)
    return self.mu(h), self.presig(h)

  def compute_output_shape(self, input_shape, lengths_shape=None):
    return (input_shape[0], self.z_size), (input_shape[0], self.z_size)

  def get_config(self):
    config = super().get_config()
    config.update(units=self.units, z_size=self.z_size, cell=self.cell,
                  keep_prob=self.keep_prob, hyper_units=self.hyper_units,
                  hyper_embedding_size=self.hyper_embedding_size)
    return config
