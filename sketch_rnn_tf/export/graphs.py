"""What every exported graph of a model shares: inputs in pixels, the decoder's
state, steps and loop, and the tracing into concrete functions.

`signatures.ServingSignatures` (TF Serving) and `tfjs_graphs.TfjsGraphs` (the
browser) are the two exports built on it; each says which functions it has
(`specs`) and how a request is checked (`checked`).
"""
from __future__ import annotations

import tensorflow as tf

from sketch_rnn_tf.data import strokes
from sketch_rnn_tf.layers import mdn
from sketch_rnn_tf.sampling import sampler

F32, I32 = tf.float32, tf.int32


def spec(shape, dtype, name):
  return tf.TensorSpec(shape, dtype, name=name)


class ModelGraphs:
  """The graph pieces of one model; subclasses add the signature bodies and `specs`."""

  def __init__(self, model):
    self.model, self.hp = model, model.hp
    self.decoder = model.decoder
    self.scale = tf.constant(model.scale_factor, F32)
    self.state_sizes = list(self.decoder.cell.state_size)
    self.conditional = bool(self.hp.conditional)
    self.classes = int(self.hp.num_classes)

  # ---- input specs -------------------------------------------------------

  def cond_specs(self):
    specs = []
    if self.conditional:
      specs.append(spec([None, self.hp.z_size], F32, "z"))
    if self.classes:
      specs.append(spec([None], I32, "labels"))
    return specs

  def labels_spec(self):
    return [spec([None], I32, "labels")] if self.classes else []

  def step_specs(self):
    return [spec([None, 5], F32, "prev"), spec([None, sum(self.state_sizes)], F32, "state")]

  def z_spec(self):
    return [spec([None, self.hp.z_size], F32, "z")]

  # ---- pieces ------------------------------------------------------------

  def normalised(self, s5):
    # One division by [s, s, 1, 1, 1]: fewer graph nodes than slicing and concatenating,
    # which counts in TF.js, where every node of a step costs JS time.
    return s5 / tf.concat([tf.fill([2], self.scale), tf.ones([3], F32)], axis=0)

  def pixels(self, s5):
    return tf.concat([s5[..., :2] * self.scale, s5[..., 2:]], axis=-1)

  def cond(self, z, labels):
    cond = self.decoder.conditioning(z, labels)
    return None if cond is None else tf.cast(cond, F32)

  def state_parts(self, z, batch):
    return [tf.cast(v, F32) for v in self.decoder.initial_state(z, batch)]

  def step(self, cond, state, prev):
    """One decoder step on normalised inputs -> (MDN output y, new state)."""
    return sampler.decoder_step(self.decoder, cond, state, prev)

  def decode(self, z, labels, temperature, noise):
    """sampler.decode_loop from the start token for len(noise) steps (normalised)."""
    batch = tf.shape(temperature)[0]
    prev = tf.tile(tf.constant(strokes.START_TOKEN)[None], [batch, 1])
    s5, lengths, _ = sampler.decode_loop(self.decoder, self.cond(z, labels),
                                         self.state_parts(z, batch), prev,
                                         temperature[:, None], tf.shape(noise)[0], noise)
    return s5, lengths

  # ---- signature bodies both exports have --------------------------------

  def initial_state(self, z):
    return {"state": tf.concat(self.state_parts(z, tf.shape(z)[0]), axis=1)}

  def decode_step(self, prev, state, z=None, labels=None):
    parts = tf.split(state, self.state_sizes, axis=1)
    y, new_state = self.step(self.cond(z, labels), parts, self.normalised(prev))
    p = mdn.split_params(y, self.hp.num_mixture)
    scale = self.scale
    return {"pen_logits": p["q_logits"], "pi_logits": p["pi_logits"],
            "mu_x": p["mu_x"] * scale, "mu_y": p["mu_y"] * scale,
            "sigma_x": tf.exp(p["log_sx"]) * scale, "sigma_y": tf.exp(p["log_sy"]) * scale,
            "rho": p["rho"], "state": tf.concat([tf.cast(v, F32) for v in new_state], axis=1)}

  # ---- tracing -----------------------------------------------------------

  def specs(self):
    """{signature name: (body, input specs)}."""
    raise NotImplementedError

  def checked(self, name, inputs):
    """The inputs after this export's checks on them."""
    return inputs

  def function(self, name, body, specs):
    """A concrete function of named tensor inputs (the signature's keys) -> dict of outputs."""
    names = [s.name for s in specs]

    def fn(*args):
      return body(**self.checked(name, dict(zip(names, args))))

    fn.__name__ = name
    return tf.function(fn, input_signature=specs).get_concrete_function()

  def trace(self):
    return {name: self.function(name, body, s) for name, (body, s) in self.specs().items()}
