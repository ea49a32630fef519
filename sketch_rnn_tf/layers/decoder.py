"""Sketch-RNN's decoder: an RNN over [S_{t-1}, z (, class embedding)] into the MDN.

Conditional: (c_0, h_0 [, hyper state]) = tanh(W_0 z + b_0); unconditional: zeros.
Each step reads the previous stroke-5 point and the constant conditioning
vector; its output goes through the MixtureDensityHead. The conditioning
vector's share of the input projection is computed once per sequence.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from sketch_rnn_tf.layers import recurrence
from sketch_rnn_tf.layers.lstm_cell import make_cell
from sketch_rnn_tf.layers.mdn import MixtureDensityHead
from sketch_rnn_tf.utils import streams


@keras.saving.register_keras_serializable("sketch_rnn_tf")
class SketchDecoder(keras.layers.Layer):
  """Sketch-RNN's decoder: an RNN over [S_{t-1}, z, class embedding] into the MDN.

  Conditional: the initial state is tanh(W_0 z + b_0) split into the cell's
  states; unconditional: zeros. Each step reads the previous stroke-5 point
  and the constant conditioning vector [z, class embedding], whose share of the
  input projection is computed once per sequence; the cell's output h_t goes
  through the `MixtureDensityHead`. Training runs the fast recurrence
  (`recurrence.unroll`); `keras.layers.RNN(decoder.cell)` is the same model.

  Args:
    units: the decoder cell's size (512 in the paper).
    cell: the cell kind, one of `defaults.CELL_KINDS` (lstm, layer_norm, hyper).
    z_size: N_z; 0 for an unconditional decoder.
    num_mixtures: M, the mixture components of the offset density.
    keep_prob: recurrent dropout keep probability.
    hyper_units, hyper_embedding_size: the HyperLSTM's auxiliary cell and embeddings.
    num_classes, class_embedding_size: a class-conditional decoder's label embedding.
    **kwargs: standard `keras.layers.Layer` arguments.

  Call arguments:
    strokes_in: [B, T, 5] stroke-5 inputs (the start token, then all points but the last).
    z: [B, N_z] latent codes (conditional decoders) or None.
    labels: [B] class ids (class-conditional decoders) or None.
    initial_state: the cell's states to start from (default: from z, or zeros).
    training: draw recurrent dropout masks (with `seed`).
    seed: the step's stateless key (`utils.streams.step_key`).

  Returns:
    (y [B, T, 3 + 6M], final state): the MDN's raw output first (`mdn.split_params`
    reads it), then the cell's states after the last step.

  Example:

  >>> decoder = SketchDecoder(units=32, cell="lstm", z_size=0, num_mixtures=3)
  >>> y, state = decoder(tf.zeros([2, 7, 5]))
  >>> y.shape
  TensorShape([2, 7, 21])

  References:
    Ha & Eck, "A Neural Representation of Sketch Drawings", ICLR 2018, section 3.
  """

  def __init__(self, units=512, cell="hyper", z_size=128, num_mixtures=20, keep_prob=1.0,
               hyper_units=256, hyper_embedding_size=32, num_classes=0,
               class_embedding_size=32, **kwargs):
    super().__init__(**kwargs)
    self.units, self.cell_kind, self.z_size = units, cell, z_size
    self.num_mixtures, self.keep_prob = num_mixtures, keep_prob
    self.hyper_units, self.hyper_embedding_size = hyper_units, hyper_embedding_size
    self.num_classes, self.class_embedding_size = num_classes, class_embedding_size
    self.cell = make_cell(cell, units, hyper_units, hyper_embedding_size, keep_prob, name="cell")
    self.head = MixtureDensityHead(num_mixtures, name="mdn")
    self.init_state = None
    if z_size:
      self.init_state = keras.layers.Dense(
          sum(self.cell.state_size), activation="tanh",
          kernel_initializer=keras.initializers.RandomNormal(stddev=0.001), name="init_state")
    self.class_embedding = None
    if num_classes:
      self.class_embedding = keras.layers.Embedding(num_classes, class_embedding_size,
                                                    name="class_embedding")

  @property
  def cond_size(self):
    return self.z_size + (self.class_embedding_size if self.num_classes else 0)

  def build(self, input_shape=None):
    self.cell.build((None, 5 + self.cond_size))
    self.head.build((None, self.units))
    if self.init_state is not None:
      self.init_state.build((None, self.z_size))
    if self.class_embedding is not None:
      self.class_embedding.build((None,))
    self.built = True

  def conditioning(self, z=None, labels=None):
    """The constant part of every step's input: [z, class embedding] or None."""
    parts = []
    if self.z_size:
      parts.append(z)
    if self.num_classes:
      parts.append(self.class_embedding(labels))
    return tf.concat(parts, axis=1) if parts else None

  def initial_state(self, z=None, batch_size=None):
    """tanh(W z + b) split into the cell's states, or zeros without z."""
    if self.init_state is None:
      return self.cell.get_initial_state(batch_size)
    return list(tf.split(self.init_state(z), self.cell.state_size, axis=1))

  def call(self, strokes_in, z=None, labels=None, initial_state=None, training=False,
           seed=None):
    batch, steps = tf.shape(strokes_in)[0], tf.shape(strokes_in)[1]
    if initial_state is None:
      initial_state = self.initial_state(z, batch)
    xw = self.cell.project_inputs(strokes_in, self.conditioning(z, labels))
    masks = None
    if training and seed is not None:
      masks = self.cell.dropout_masks([steps, batch], streams.fold(seed, streams.DECODER))
    h, state = recurrence.unroll(self.cell, xw, initial_state, None, masks)
    return self.head(h), state

  def compute_output_shape(self, input_shape):
    batch, steps = input_shape[0], input_shape[1]
    return ((batch, steps, 3 + 6 * self.num_mixtures),
            [(batch, n) for n in self.cell.state_size])

  def get_config(self):
    config = super().get_config()
    config.update(units=self.units, cell=self.cell_kind, z_size=self.z_size,
                  num_mixtures=self.num_mixtures, keep_prob=self.keep_prob,
                  hyper_units=self.hyper_units, hyper_embedding_size=self.hyper_embedding_size,
                  num_classes=self.num_classes, class_embedding_size=self.class_embedding_size)
    return config
