"""The Sketch-RNN model: encoder -> z -> decoder -> MDN, with the paper's loss.

Batches come from `pipeline.make_dataset`: strokes [B, T+1, 5] (start token
first), lengths [B], labels [B]. The encoder reads rows 1..T, the decoder reads
rows 0..T-1 and predicts rows 1..T.

Training (`train_step`): loss = L_R + w_KL(step) * max(L_KL, KL_min), with the
optimizer of `optimizer.py` (decaying learning rate, clipping, and a step whose
loss or gradients are not finite changes nothing and is counted). Evaluation (`test_step`) reports the same
terms with the current w_KL (the reference code evaluates with its start value).
Dropout masks and the latent noise are drawn from stateless RNGs keyed by
(seed, replica, step, stream) (`utils.streams`), so a resumed run draws what the
uninterrupted run would have.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from sketch_rnn_tf.layers.decoder import SketchDecoder
from sketch_rnn_tf.layers.encoder import SketchEncoder
from sketch_rnn_tf.model import losses
from sketch_rnn_tf.model.hparams import HParams
from sketch_rnn_tf.utils import streams
from sketch_rnn_tf.utils.errors import InputError

# recon_ref: L_s + L_p over real points only, as the reference code evaluates.
METRICS = ("loss", "recon", "offset", "pen", "kl", "kl_weight", "lr", "recon_ref")


@keras.saving.register_keras_serializable("sketch_rnn_tf")
class SketchRNN(keras.Model):
  """Conditional (VAE), unconditional or class-conditional Sketch-RNN.

  The encoder (`SketchEncoder`, conditional models only) reads rows 1..T of
  the batch, z = mu + sigma * eps; the decoder (`SketchDecoder`) reads rows
  0..T-1 (the start token first) with z and/or the class label, and its MDN
  output predicts rows 1..T. The loss is the paper's (module docstring).

  Args:
    hparams: an HParams or a dict of its fields.
    scale_factor: the data's normalising factor (pixels per unit), kept with
      the model so samples can be turned back into pixels.
    class_names: names of the class ids, for class-conditional models.
    seed: base seed of the dropout and latent-noise streams (`utils.streams`).
    **kwargs: standard `keras.Model` arguments.

  Call arguments:
    inputs: {"strokes": [B, T+1, 5], "lengths": [B], "labels": [B] (class-conditional)}.
    training: recurrent dropout on (with `seed`).
    seed: the step's stateless key; None draws eps from the global generator.

  Returns:
    {"y": [B, T, 3+6M] MDN output} and, for conditional models, "mu", "presig", "z".

  Example:

  >>> model = SketchRNN(HParams(conditional=False, dec_rnn_size=32, num_mixture=3,
  ...                           max_seq_len=250))
  >>> model.build()
  >>> y, state = model.decoder(tf.zeros([2, 10, 5]))
  >>> y.shape
  TensorShape([2, 10, 21])

  References:
    Ha & Eck, "A Neural Representation of Sketch Drawings", ICLR 2018.
  """

  def __init__(self, hparams=None, scale_factor=1.0, class_names=(), seed=0, **kwargs):
    super().__init__(**kwargs)
    hp = hparams if isinstance(hparams, HParams) else HParams().override(hparams or {})
    if hp.max_seq_len < 1:
      raise InputError("max_seq_len (N_max) is 0, i.e. to be taken from the data: resolve it "
                       "first (HParams.with_data_max_len) or set it")
    self.hp = hp
    self.scale_factor = float(scale_factor)
    self.class_names = list(class_names)
    self.seed = int(seed)
    keep = hp.recurrent_dropout_prob if hp.use_recurrent_dropout else 1.0
    self.encoder = None
    if hp.conditional:
      self.encoder = SketchEncoder(hp.enc_rnn_size, hp.z_size, hp.enc_model, keep,
                                   hp.hyper_num_units, hp.hyper_embedding_size, name="encoder")
    self.decoder = SketchDecoder(
        hp.dec_rnn_size, hp.dec_model, hp.z_size if hp.conditional else 0, hp.num_mixture,
        keep, hp.hyper_num_units, hp.hyper_embedding_size, hp.num_classes,
        hp.class_embedding_size, name="decoder")
    self.trackers = {name: keras.metrics.Mean(name=name) for name in METRICS}
    self._gradient_fn = self.gradients
    self.precision = "float32"
    # Assigned in replica context (all replicas agree): keep the first replica's value.
    self.skipped_steps = keras.Variable(0, dtype="int64", trainable=False, name="skipped_steps",
                                        aggregation="only_first_replica")
    self.nonfinite_run = keras.Variable(0, dtype="int64", trainable=False, name="nonfinite_run",
                                        aggregation="only_first_replica")

  def build(self, input_shape=None):
    if self.encoder is not None:
      self.encoder.build((None, None, 5))
    self.decoder.build()
    self.built = True

  def set_precision(self, precision, fused=False, batch_parts=1):
    """How the recurrences' matmuls compute: "float32", or "bfloat16" operands with
    float32 results, state, weights and loss (`lstm_math.matmul`); with `fused`, the
    training recurrences run in the fused CPU kernels (graph mode only) on
    `batch_parts` threads (`compute_path.Path.fused`, `batch_parts`)."""
    cells = [self.decoder.cell]
    if self.encoder is not None:
      cells += [self.encoder.forward_cell, self.encoder.backward_cell]
    for cell in cells:
      cell.set_matmul_dtype(precision, fused, batch_parts)
    self.precision = precision

  @property
  def metrics(self):
    return list(self.trackers.values())

  def encode(self, strokes, lengths, training=False, seed=None):
    """(mu, presig, z) for stroke-5 rows without the start token."""
    mu, presig = self.encoder(strokes, lengths, training=training, seed=seed)
    if seed is None:
      eps = tf.random.normal(tf.shape(mu), dtype=mu.dtype)
    else:
      eps = tf.random.stateless_normal(tf.shape(mu), streams.fold(seed, streams.LATENT),
                                       dtype=mu.dtype)
    return mu, presig, mu + tf.exp(presig / 2.0) * eps

  def call(self, inputs, training=False, seed=None):
    strokes = inputs["strokes"]
    lengths = inputs["lengths"]
    labels = inputs.get("labels") if self.hp.num_classes else None
    out = {}
    z = None
    if self.encoder is not None:
      out["mu"], out["presig"], z = self.encode(strokes[:, 1:], lengths, training, seed)
      out["z"] = z
    out["y"], _ = self.decoder(strokes[:, :-1], z, labels, training=training, seed=seed)
    return out

  def loss_terms(self, inputs, outputs, step):
    """Batch means of L_s, L_p, L_KL and the total loss at this step."""
    hp = self.hp
    l_s, l_p, l_p_real = losses.reconstruction(outputs["y"], inputs["strokes"][:, 1:],
                                               inputs["lengths"], hp.num_mixture, hp.max_seq_len,
                                               hp.mdn_epsilon)
    terms = {"offset": tf.reduce_mean(l_s), "pen": tf.reduce_mean(l_p)}
    terms["recon"] = terms["offset"] + terms["pen"]
    terms["recon_ref"] = terms["offset"] + tf.reduce_mean(l_p_real)
    w_kl = losses.kl_weight(step, hp)
    if self.encoder is not None:
      kl = tf.reduce_mean(losses.kl_divergence(outputs["mu"], outputs["presig"]))
      terms["loss"] = losses.total(terms["recon"], kl, w_kl, hp.kl_tolerance)
    else:
      kl = tf.zeros([])
      terms["loss"] = terms["recon"]
    terms["kl"], terms["kl_weight"] = kl, w_kl
    return terms

  def selection_loss(self, terms):
    """The validation figure that picks the best checkpoint: the loss at the final w_KL.

    The loss at the current w_KL rises while the weight anneals up, so it would
    favour early checkpoints whatever they draw (with kl_tolerance=1.0 the best
    stayed at step 750 of 3000, whose reconstructions ignore the input).
    """
    if self.encoder is None:
      return float(terms["recon"])
    return float(losses.total(terms["recon"], terms["kl"], self.hp.kl_weight,
                              self.hp.kl_tolerance))

  def _step_seed(self, step):
    """The step's key with the replica id folded in, so replicas draw different noise."""
    ctx = tf.distribute.get_replica_context()
    replica = ctx.replica_id_in_sync_group if ctx is not None else 0
    return streams.step_key(self.seed, step, replica)

  def gradients(self, data, step):
    """(loss terms, raw gradients of this replica's share of the global mean loss)."""
    with tf.GradientTape() as tape:
      outputs = self(data, training=True, seed=self._step_seed(step))
      terms = self.loss_terms(data, outputs, step)
      # Gradients are summed over replicas: scale so the result is the global mean.
      replicas = tf.distribute.get_strategy().num_replicas_in_sync
      scaled = terms["loss"] / tf.cast(replicas, terms["loss"].dtype)
    grads = tape.gradient(scaled, self.trainable_variables)
    # The class embedding's gradient comes sparse; it is small, and the finiteness
    # check and clipping want dense tensors.
    return terms, [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
                   for g in grads]

  def compile_gradients(self, jit_compile=True):
    """Runs the forward and backward pass (the heavy part) as one compiled function
    (one XLA program with jit_compile, else a graph).

    The optimizer update stays outside it: under tf.distribute it needs a
    cross-replica merge, which a nested compiled function cannot make.
    """
    self._gradient_fn = tf.function(self.gradients, jit_compile=jit_compile,
                                     reduce_retracing=True)

  def train_step(self, data):
    step = tf.convert_to_tensor(self.optimizer.iterations)  # a value, not the variable
    terms, grads = self._gradient_fn(data, step)
    # A non-finite loss poisons every gradient, so the optimizer's check (on the
    # replica-summed gradients) sees it on all replicas alike.
    poison = tf.where(tf.math.is_finite(terms["loss"]), 0.0, float("nan"))
    grads = [g + tf.cast(poison, g.dtype) for g in grads]
    self.optimizer.apply(grads, self.trainable_variables)
    ok = tf.cast(self.optimizer.last_step_finite, tf.int64)
    self.skipped_steps.assign_add(1 - ok)
    self.nonfinite_run.assign((self.nonfinite_run + 1) * (1 - ok))
    terms["lr"] = self.optimizer.learning_rate
    return self._update_metrics(terms)

  def test_step(self, data):
    # A fixed seed for z's noise: the same checkpoint always scores the same.
    outputs = self(data, training=False, seed=self._step_seed(0))
    terms = self.loss_terms(data, outputs, self.optimizer.iterations if self.optimizer else 0)
    terms["lr"] = self.optimizer.learning_rate if self.optimizer else tf.zeros([])
    return self._update_metrics(terms)

  def _update_metrics(self, terms):
    for name, tracker in self.trackers.items():
      tracker.update_state(terms[name])
    return {name: tracker.result() for name, tracker in self.trackers.items()}

  def get_config(self):
    return dict(hparams=self.hp.__dict__.copy(), scale_factor=self.scale_factor,
                class_names=self.class_names, seed=self.seed, name=self.name)
