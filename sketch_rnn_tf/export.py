"""Export of a trained SketchRNN: a SavedModel for TF Serving, graphs for TF.js.

Layout (what TF Serving's file-system source watches; the highest version serves):

  <out>/<model_name>/<version>/saved_model.pb, variables/,
                              assets/sketch_rnn_metadata.json   (= the `metadata` signature)

Signatures (B is the batch, dynamic; T the padded length; Nz = z_size, M = num_mixture,
S = the decoder state width; "px" = the data's units, i.e. the pixels of the stroke-3
sketches before normalising: inputs are divided by the stored scale factor inside the
graph and outputs multiplied by it, so a client holds no state of its own). Every input
has the batch first, so TF Serving's row form ({"instances": [...]}) works as well as the
columnar one ({"inputs": {...}}). `z` exists only for conditional (VAE) models, `labels`
only for class-conditional ones.

  encode        strokes f32 [B,T,5] px stroke-5 without start token (rows past a sketch's
                length are ignored), lengths i32 [B] (points, 1..T), seed i32 [B]
                -> mu, sigma, z f32 [B,Nz]   (z = mu + sigma * eps, eps keyed by seed)
  initial_state z f32 [B,Nz] -> state f32 [B,S]     (unconditional models: zeros [B,S])
  decode_step   prev f32 [B,5] px stroke-5 point (start token [0,0,1,0,0] first), state
                f32 [B,S], z, labels i32 [B]
                -> pen_logits [B,3], pi_logits [B,M], mu_x, mu_y, sigma_x, sigma_y (px),
                   rho [B,M], state [B,S]     (untempered: see sampler.py for tau)
  sample        z, labels, temperature f32 [B] in (0,1], max_len i32 [B], seed i32 [B]
                -> strokes f32 [B,max(max_len),5] px stroke-5 (end rows after the end),
                   lengths i32 [B] (points before the end, <= max_len)
  sample_prior  (conditional models) as sample, z ~ N(0, I) keyed by seed; also -> z
  reconstruct   (conditional models) strokes, lengths as encode, labels, temperature,
                max_len, seed -> strokes, lengths, z (= mu of the input)
  metadata      rows i32 [B] (any values) -> per row: hparams_json, class_names [K],
                scale_factor, model_version, export_format, state_sizes, signatures_json
                (also in assets/sketch_rnn_metadata.json)
  serving_default = sample_prior (conditional) or sample.

A row with seed s draws what `Sampler.sample(num=1, seed=s, ...)` draws (and
`Sampler.encode(..., sample=True, seed=s)` for encode), whatever else is in the batch.
Bad inputs (NaN, out-of-range lengths, labels, temperature or max_len, mismatched batch)
fail with an InvalidArgumentError naming the input, from asserts inside the graph.

The TF.js graphs (`SignatureBuilder.tfjs_specs`) have no asserts and no stateless random
ops (the converter lacks them): `sample` there takes noise f32 [T,B,4] (u_mixture, u_pen
in [0,1), e1, e2 ~ N(0,1)) instead of seed and max_len (conditional models take z), and
`decode_step` returns `params` [B,3+6M] (the seven MDN outputs side by side, columns in
metadata["params_layout"]) and `state`.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from sketch_rnn_tf import hparams as hparams_lib
from sketch_rnn_tf import mdn, sampler, strokes

EXPORT_FORMAT = 1
METADATA_FILE = "sketch_rnn_metadata.json"
MAX_LEN_LIMIT = 1000   # the most points one request may ask `sample` for

F32, I32 = tf.float32, tf.int32
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


def _spec(shape, dtype, name):
  return tf.TensorSpec(shape, dtype, name=name)


class SignatureBuilder:
  """The exported functions of one model; `signatures()` traces them.

  validate: add the input asserts (the TF.js graphs go without: no Assert op there).
  for_tfjs: write ops the way TF.js's kernels support them (see `_state`).
  """

  def __init__(self, model, validate=True, max_len_limit=MAX_LEN_LIMIT, for_tfjs=False):
    self.model, self.hp = model, model.hp
    self.for_tfjs = for_tfjs
    self.decoder = model.decoder
    self.validate = validate
    self.max_len_limit = int(max_len_limit)
    self.scale = tf.constant(model.scale_factor, F32)
    self.state_sizes = list(self.decoder.cell.state_size)
    self.conditional = bool(self.hp.conditional)
    self.classes = int(self.hp.num_classes)

  # ---- input specs -------------------------------------------------------

  def _cond_specs(self):
    specs = []
    if self.conditional:
      specs.append(_spec([None, self.hp.z_size], F32, "z"))
    if self.classes:
      specs.append(_spec([None], I32, "labels"))
    return specs

  def _labels_spec(self):
    return [_spec([None], I32, "labels")] if self.classes else []

  def _stroke_specs(self):
    return [_spec([None, None, 5], F32, "strokes"), _spec([None], I32, "lengths")]

  def _draw_specs(self):
    return [_spec([None], F32, "temperature"), _spec([None], I32, "max_len"),
            _spec([None], I32, "seed")]

  # ---- checks ------------------------------------------------------------

  def _checked(self, name, inputs):
    """The inputs after the asserts on them (NaN, ranges, batch sizes)."""
    if not self.validate:
      return inputs
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
        checks.append(tf.debugging.assert_positive(
            b, message=f"{name}: the batch is empty"))
      else:
        checks.append(tf.debugging.assert_equal(
            b, batch, message=f"{name}: inputs {first} and {key} have different batch "
            "sizes (dimension 0)"))
    checks += self._range_checks(name, inputs)
    with tf.control_dependencies(checks):
      return {k: tf.identity(v) for k, v in out.items()}

  def _range_checks(self, name, inputs):
    checks = []
    if "lengths" in inputs:
      lengths, steps = inputs["lengths"], tf.shape(inputs["strokes"])[1]
      checks.append(tf.debugging.assert_positive(
          lengths, message=f"{name}: lengths must be >= 1"))
      checks.append(tf.debugging.assert_less_equal(
          lengths, steps, message=f"{name}: lengths must be <= the padded length "
          "(strokes dimension 1)"))
      checks.append(self._pen_check(name, inputs["strokes"], lengths))
    if "labels" in inputs:
      checks.append(tf.debugging.assert_non_negative(
          inputs["labels"], message=f"{name}: labels must be >= 0"))
      checks.append(tf.debugging.assert_less(
          inputs["labels"], self.classes,
          message=f"{name}: labels must be < num_classes = {self.classes}"))
    if "temperature" in inputs:
      t = inputs["temperature"]
      checks.append(tf.debugging.assert_positive(
          t, message=f"{name}: temperature must be > 0"))
      checks.append(tf.debugging.assert_less_equal(
          t, 1.0, message=f"{name}: temperature must be <= 1"))
    if "max_len" in inputs:
      m = inputs["max_len"]
      checks.append(tf.debugging.assert_positive(
          m, message=f"{name}: max_len must be >= 1"))
      checks.append(tf.debugging.assert_less_equal(
          m, self.max_len_limit,
          message=f"{name}: max_len must be <= {self.max_len_limit}"))
    if "prev" in inputs:
      checks.append(self._pen_check(name, inputs["prev"][:, None], None))
    return checks

  @staticmethod
  def _pen_check(name, s5, lengths):
    """The pen columns of the real rows must be one-hot (or the model reads nonsense)."""
    pen = s5[..., 2:]
    one_hot = tf.logical_and(tf.reduce_all(tf.logical_or(pen == 0.0, pen == 1.0), axis=-1),
                             tf.reduce_sum(pen, axis=-1) == 1.0)
    if lengths is not None:
      real = tf.sequence_mask(lengths, tf.shape(s5)[1])
      one_hot = tf.logical_or(one_hot, tf.logical_not(real))
    return tf.debugging.Assert(tf.reduce_all(one_hot), [
        tf.constant(f"{name}: the pen columns (2:5) of every real row must be one-hot")])

  # ---- pieces ------------------------------------------------------------

  def _normalised(self, s5):
    # One division by [s, s, 1, 1, 1]: fewer graph nodes than slicing and concatenating,
    # which counts in TF.js, where every node of a step costs JS time.
    return s5 / tf.concat([tf.fill([2], self.scale), tf.ones([3], F32)], axis=0)

  def _pixels(self, s5):
    return tf.concat([s5[..., :2] * self.scale, s5[..., 2:]], axis=-1)

  def _cond(self, z, labels):
    cond = self.decoder.conditioning(z, labels)
    return None if cond is None else tf.cast(cond, F32)

  def _state(self, z, batch):
    dense = self.decoder.init_state
    if self.for_tfjs and dense is not None:
      # TF.js's CPU backend has no tanh in a fused MatMul, and grappler fuses
      # MatMul + BiasAdd + Tanh: write tanh(a) = 2 sigmoid(2a) - 1, which it cannot.
      a = tf.matmul(tf.cast(z, F32), tf.cast(dense.kernel, F32)) + tf.cast(dense.bias, F32)
      return list(tf.split(2.0 * tf.sigmoid(2.0 * a) - 1.0, self.state_sizes, axis=1))
    return [tf.cast(v, F32) for v in self.decoder.initial_state(z, batch)]

  @staticmethod
  def _per_row_normal(seeds, size, key):
    """A standard-normal row [B, size] per seed: the row Sampler draws for num=1."""
    return tf.map_fn(lambda s: sampler.normal_rows(s, 1, size, key)[0], seeds,
                     fn_output_signature=tf.TensorSpec([size], F32))

  def _encode(self, strokes_px, lengths):
    mu, presig = self.model.encoder(self._normalised(strokes_px), lengths)
    return tf.cast(mu, F32), tf.cast(presig, F32)

  def _decode(self, z, labels, temperature, noise):
    """sampler.decode_loop from the start token for len(noise) steps (normalised)."""
    batch = tf.shape(temperature)[0]
    prev = tf.tile(tf.constant(strokes.START_TOKEN)[None], [batch, 1])
    s5, lengths, _ = sampler.decode_loop(self.decoder, self._cond(z, labels),
                                         self._state(z, batch), prev, temperature[:, None],
                                         tf.shape(noise)[0], noise)
    return s5, lengths

  def _draw(self, z, labels, temperature, max_len, seeds):
    """The in-graph sampling loop with per-row seeds; strokes in px."""
    steps = tf.reduce_max(max_len)

    # Each row's noise keyed by its own seed, as Sampler keys a batch of one.
    rows = tf.map_fn(lambda s: sampler.make_noise(s, steps, 1)[:, 0], seeds,
                     fn_output_signature=tf.TensorSpec([None, sampler.NOISE_SIZE], F32))
    s5, lengths = self._decode(z, labels, temperature, tf.transpose(rows, [1, 0, 2]))
    # Rows with a shorter max_len stop there, as a sampler given that max_len would.
    past = tf.range(steps)[None, :] >= max_len[:, None]
    s5 = tf.where(past[..., None], tf.constant(strokes.END_TOKEN)[None, None], s5)
    return self._pixels(s5), tf.minimum(lengths, max_len)

  # ---- signature bodies --------------------------------------------------

  def encode(self, strokes, lengths, seed):
    mu, presig = self._encode(strokes, lengths)
    sigma = tf.exp(presig / 2.0)
    eps = self._per_row_normal(seed, self.hp.z_size, sampler.ENCODE_KEY)
    return {"mu": mu, "sigma": sigma, "z": mu + sigma * eps}

  def initial_state(self, z):
    return {"state": tf.concat(self._state(z, tf.shape(z)[0]), axis=1)}

  def _plain_lstm(self):
    cell = self.decoder.cell
    return cell.hyper is None and not cell.layer_norm

  def _tfjs_lstm_step(self, cond, state, prev):
    """sampler.decoder_step for a plain LSTM, with the weights stored transposed.

    TF.js's CPU matmul runs [1, K] x [K, N] about 1.5x faster as x (W^T)^T with
    transpose_b (rows of W^T are read contiguously): one matmul of [x, cond, h] by the
    stacked [W_x; W_h]^T per step, as @magenta/sketch stacks them.
    """
    cell, head = self.decoder.cell, self.decoder.head.dense
    with tf.init_scope():  # the weights' values, read eagerly while tracing
      w = np.concatenate([cell.w_x.numpy(), cell.w_h.numpy()], axis=0).T
      out = head.kernel.numpy().T
    w_t = tf.constant(np.ascontiguousarray(w, np.float32), name="tfjs_lstm_kernel_t")
    out_t = tf.constant(np.ascontiguousarray(out, np.float32), name="tfjs_mdn_kernel_t")
    c, h = state
    x = tf.concat([prev] + ([] if cond is None else [cond]) + [h], axis=1)
    a = tf.matmul(x, w_t, transpose_b=True) + tf.cast(cell.bias, F32)
    i, j, f, o = tf.split(a, 4, axis=1)
    new_c = c * tf.sigmoid(f + cell.forget_bias) + tf.sigmoid(i) * tf.tanh(j)
    new_h = tf.tanh(new_c) * tf.sigmoid(o)
    y = tf.matmul(new_h, out_t, transpose_b=True) + tf.cast(head.bias, F32)
    return y, [new_c, new_h]

  def decode_step(self, prev, state, z=None, labels=None):
    parts = tf.split(state, self.state_sizes, axis=1)
    step = (self._tfjs_lstm_step if self.for_tfjs and self._plain_lstm()
            else functools.partial(sampler.decoder_step, self.decoder))
    y, new_state = step(self._cond(z, labels), parts, self._normalised(prev))
    p = mdn.split_params(y, self.hp.num_mixture)
    scale = self.scale
    return {"pen_logits": p["q_logits"], "pi_logits": p["pi_logits"],
            "mu_x": p["mu_x"] * scale, "mu_y": p["mu_y"] * scale,
            "sigma_x": tf.exp(p["log_sx"]) * scale, "sigma_y": tf.exp(p["log_sy"]) * scale,
            "rho": p["rho"], "state": tf.concat([tf.cast(v, F32) for v in new_state], axis=1)}

  def decode_step_packed(self, prev, state, z=None, labels=None):
    """decode_step with the MDN outputs in one tensor `params` [B, 3+6M], columns as
    `params_layout`: the TF.js page reads one array per step instead of seven."""
    out = self.decode_step(prev, state, z, labels)
    return {"params": tf.concat([out[name] for name in PARAMS_ORDER], axis=1),
            "state": out["state"]}

  def sample(self, temperature, max_len, seed, z=None, labels=None):
    s5, lengths = self._draw(z, labels, temperature, max_len, seed)
    return {"strokes": s5, "lengths": lengths}

  def sample_prior(self, temperature, max_len, seed, labels=None):
    z = self._per_row_normal(seed, self.hp.z_size, sampler.PRIOR_KEY)
    return dict(self.sample(temperature, max_len, seed, z, labels), z=z)

  def reconstruct(self, strokes, lengths, temperature, max_len, seed, labels=None):
    z, _ = self._encode(strokes, lengths)
    return dict(self.sample(temperature, max_len, seed, z, labels), z=z)

  def sample_noise(self, temperature, noise, z=None, labels=None):
    """The TF.js loop: noise [T, B, 4] given, no stateless ops; strokes in px."""
    s5, lengths = self._decode(z, labels, temperature, noise)
    return {"strokes": self._pixels(s5), "lengths": lengths}

  # ---- tracing -----------------------------------------------------------

  def _function(self, name, body, specs):
    """A tf.function of named tensor inputs (the signature's keys) -> dict of outputs."""
    names = [s.name for s in specs]

    def fn(*args):
      inputs = self._checked(name, dict(zip(names, args)))
      return body(**inputs)

    fn.__name__ = name
    return tf.function(fn, input_signature=specs).get_concrete_function()

  def specs(self):
    """{signature name: (body, input specs)} for this kind of model."""
    cond = self._cond_specs()
    state = [_spec([None, 5], F32, "prev"), _spec([None, sum(self.state_sizes)], F32, "state")]
    out = {"decode_step": (self.decode_step, state + cond),
           "sample": (self.sample, self._draw_specs() + cond)}
    if self.conditional:
      out["encode"] = (self.encode, self._stroke_specs() + [_spec([None], I32, "seed")])
      out["initial_state"] = (self.initial_state, [_spec([None, self.hp.z_size], F32, "z")])
      out["sample_prior"] = (self.sample_prior, self._draw_specs() + self._labels_spec())
      out["reconstruct"] = (self.reconstruct, self._stroke_specs() + self._draw_specs()
                            + self._labels_spec())
    return out

  def tfjs_specs(self):
    """The graphs the browser page uses (no asserts, noise as an input)."""
    cond = self._cond_specs()
    state = [_spec([None, 5], F32, "prev"), _spec([None, sum(self.state_sizes)], F32, "state")]
    out = {"decode_step": (self.decode_step_packed, state + cond),
           "sample": (self.sample_noise, [_spec([None], F32, "temperature"),
                                          _spec([None, None, sampler.NOISE_SIZE], F32,
                                                "noise")] + cond)}
    if self.conditional:
      out["initial_state"] = (self.initial_state, [_spec([None, self.hp.z_size], F32, "z")])
    return out

  def trace(self, specs):
    return {name: self._function(name, body, s) for name, (body, s) in specs.items()}


def metadata(model, version=None, max_len_limit=MAX_LEN_LIMIT):
  """What a client needs to know besides the signatures (JSON-able dict)."""
  hp = model.hp
  cell = model.decoder.cell
  return {
      "export_format": EXPORT_FORMAT,
      "model_version": None if version is None else int(version),
      "hparams": json.loads(hp.to_json()),
      "scale_factor": float(model.scale_factor),
      "class_names": list(model.class_names),
      "conditional": bool(hp.conditional),
      "z_size": int(hp.z_size) if hp.conditional else 0,
      "num_classes": int(hp.num_classes),
      "num_mixture": int(hp.num_mixture),
      "state_sizes": [int(n) for n in cell.state_size],
      "state_parts": ["c", "h", "hyper_c", "hyper_h"][:len(cell.state_size)],
      "max_len_limit": int(max_len_limit),
      "params_layout": params_layout(hp.num_mixture),
      "start_token": strokes.START_TOKEN.tolist(),
      "units": "inputs and outputs in pixels (the data's units); scale_factor divides them "
               "inside the graph",
  }


def _describe(concrete):
  """{inputs: {name: [dtype, shape]}, outputs: ...} of a concrete function."""
  def spec_dict(specs):
    return {k: [v.dtype.name, [-1 if d is None else int(d) for d in v.shape.as_list()]]
            for k, v in sorted(specs.items())}
  args, kwargs = concrete.structured_input_signature
  inputs = dict(kwargs, **{spec.name: spec for spec in args})
  return {"inputs": spec_dict(inputs),
          "outputs": spec_dict(concrete.structured_outputs)}


class _ExportModule(tf.Module):
  """Holds the variables (so the SavedModel saves them) and the metadata asset."""

  def __init__(self, model, asset_path):
    super().__init__()
    # The tf.Variables under the Keras ones: tracking the Keras variables themselves
    # gives a SavedModel that tf.saved_model.load reads but the TF1 session loader
    # (TF Serving, saved_model_cli run) does not ("Could not find variable ...").
    self.model_variables = [getattr(v, "value", v) for v in model.variables]
    self.metadata_asset = tf.saved_model.Asset(asset_path)


def _metadata_function(info):
  """The `metadata` signature: one row of metadata per value of `rows` (values ignored).

  It takes an input only because TF Serving's REST API and saved_model_cli need one:
  {"signature_name": "metadata", "instances": [0]}.
  """
  values = {"hparams_json": tf.constant(json.dumps(info["hparams"], sort_keys=True)),
            "class_names": tf.constant(info["class_names"], tf.string,
                                       shape=[len(info["class_names"])]),
            "scale_factor": tf.constant(info["scale_factor"], F32),
            "model_version": tf.constant(info["model_version"] or 0, tf.int64),
            "export_format": tf.constant(EXPORT_FORMAT, I32),
            "state_sizes": tf.constant(info["state_sizes"], I32),
            "signatures_json": tf.constant(json.dumps(info["signatures"], sort_keys=True))}

  def fn(rows):
    batch = tf.shape(rows)[0]
    return {k: tf.tile(v[None], tf.concat([[batch], tf.ones_like(tf.shape(v))], 0))
            for k, v in values.items()}

  fn.__name__ = "metadata"
  return tf.function(fn, input_signature=[_spec([None], I32, "rows")]).get_concrete_function()


def next_version(model_dir):
  """1 + the highest numeric version under model_dir (1 if none)."""
  if not os.path.isdir(model_dir):
    return 1
  versions = [int(n) for n in os.listdir(model_dir) if n.isdigit()]
  return max(versions, default=0) + 1


def save(model, path, version=None, validate=True, max_len_limit=MAX_LEN_LIMIT, tfjs=False):
  """Writes one SavedModel at `path` (which must not exist). Returns its metadata dict.

  tfjs: write the TF.js flavour (the `tfjs_specs` graphs) instead of the serving one.
  """
  builder = SignatureBuilder(model, validate=validate and not tfjs,
                             max_len_limit=max_len_limit, for_tfjs=tfjs)
  functions = builder.trace(builder.tfjs_specs() if tfjs else builder.specs())
  info = metadata(model, version, max_len_limit)
  info["signatures"] = {name: _describe(fn) for name, fn in sorted(functions.items())}
  if not tfjs:
    functions["serving_default"] = functions[
        "sample_prior" if model.hp.conditional else "sample"]
    functions["metadata"] = _metadata_function(info)
    info["signatures"]["metadata"] = _describe(functions["metadata"])
    info["serving_default"] = "sample_prior" if model.hp.conditional else "sample"
  with tempfile.TemporaryDirectory() as tmp:
    asset = os.path.join(tmp, METADATA_FILE)
    with open(asset, "w", encoding="utf-8") as f:
      json.dump(info, f, indent=2, sort_keys=True)
    module = _ExportModule(model, asset)
    tf.saved_model.save(module, path, signatures=functions)
  return info


def export_saved_model(model, out_dir, model_name="sketch_rnn", version=None,
                       max_len_limit=MAX_LEN_LIMIT):
  """Writes <out_dir>/<model_name>/<version>/ (version: next free one if None).

  The SavedModel is written beside it first and renamed into place, so TF
  Serving, which polls the directory, never sees half a version.
  Returns (path, metadata dict).
  """
  base = os.path.join(out_dir, model_name)
  version = next_version(base) if version is None else int(version)
  final = os.path.join(base, str(version))
  if os.path.exists(final):
    raise FileExistsError(f"{final} exists: export under another --version")
  os.makedirs(base, exist_ok=True)
  staging = os.path.join(base, f".tmp-{version}-{os.getpid()}")
  shutil.rmtree(staging, ignore_errors=True)
  try:
    info = save(model, staging, version, max_len_limit=max_len_limit)
    os.rename(staging, final)
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return final, info


def read_metadata(saved_model_dir):
  """The metadata JSON written into a SavedModel's assets."""
  with open(os.path.join(saved_model_dir, "assets", METADATA_FILE), encoding="utf-8") as f:
    return json.load(f)


def model_from_hparams(overrides, preset="tiny", scale_factor=1.0, class_names=(), seed=0):
  """A built SketchRNN with random weights (for tests and benchmarks)."""
  import keras
  from sketch_rnn_tf.model import SketchRNN
  keras.utils.set_random_seed(seed)
  model = SketchRNN(hparams_lib.get(preset, overrides), scale_factor=scale_factor,
                    class_names=class_names)
  model.build()
  return model


def random_noise(steps, batch, seed=0):
  """Noise [T, B, 4] as the TF.js graphs take it (numpy, for tests)."""
  rng = np.random.default_rng(seed)
  return np.concatenate([rng.random((steps, batch, 2)), rng.standard_normal((steps, batch, 2))],
                        axis=2).astype(np.float32)
