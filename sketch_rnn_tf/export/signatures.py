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

The checks are `request_checks`; the pieces both exports share are `graphs.ModelGraphs`;
the browser's graphs (no asserts, noise as an input) are `tfjs_graphs.TfjsGraphs`.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile

import tensorflow as tf

from sketch_rnn_tf import defaults
from sketch_rnn_tf.data import strokes
from sketch_rnn_tf.export import request_checks, tfjs_graphs
from sketch_rnn_tf.export.graphs import F32, I32, ModelGraphs, spec
from sketch_rnn_tf.sampling import sampler

EXPORT_FORMAT = 1
METADATA_FILE = "sketch_rnn_metadata.json"
MAX_LEN_LIMIT = defaults.EXPORT_MAX_LEN_LIMIT


def per_row_normal(seeds, size, key):
  """A standard-normal row [B, size] per seed: the row Sampler draws for num=1."""
  return tf.map_fn(lambda s: sampler.normal_rows(s, 1, size, key)[0], seeds,
                   fn_output_signature=tf.TensorSpec([size], F32))


class ServingSignatures(ModelGraphs):
  """The TF Serving signatures of one model, every input checked (`request_checks`)."""

  def __init__(self, model, max_len_limit=MAX_LEN_LIMIT):
    super().__init__(model)
    self.max_len_limit = int(max_len_limit)
    self.serving_default = "sample_prior" if self.conditional else "sample"

  def checked(self, name, inputs):
    return request_checks.checked(name, inputs, self.classes, self.max_len_limit)

  def specs(self):
    cond = self.cond_specs()
    strokes_in = [spec([None, None, 5], F32, "strokes"), spec([None], I32, "lengths")]
    draw = [spec([None], F32, "temperature"), spec([None], I32, "max_len"),
            spec([None], I32, "seed")]
    out = {"decode_step": (self.decode_step, self.step_specs() + cond),
           "sample": (self.sample, draw + cond)}
    if self.conditional:
      out["encode"] = (self.encode, strokes_in + [spec([None], I32, "seed")])
      out["initial_state"] = (self.initial_state, self.z_spec())
      out["sample_prior"] = (self.sample_prior, draw + self.labels_spec())
      out["reconstruct"] = (self.reconstruct, strokes_in + draw + self.labels_spec())
    return out

  def _encode(self, strokes_px, lengths):
    mu, presig = self.model.encoder(self.normalised(strokes_px), lengths)
    return tf.cast(mu, F32), tf.cast(presig, F32)

  def _draw(self, z, labels, temperature, max_len, seeds):
    """The in-graph sampling loop with per-row seeds; strokes in px."""
    steps = tf.reduce_max(max_len)
    # Each row's noise keyed by its own seed, as Sampler keys a batch of one.
    rows = tf.map_fn(lambda s: sampler.make_noise(s, steps, 1)[:, 0], seeds,
                     fn_output_signature=tf.TensorSpec([None, sampler.NOISE_SIZE], F32))
    s5, lengths = self.decode(z, labels, temperature, tf.transpose(rows, [1, 0, 2]))
    # Rows with a shorter max_len stop there, as a sampler given that max_len would.
    past = tf.range(steps)[None, :] >= max_len[:, None]
    s5 = tf.where(past[..., None], tf.constant(strokes.END_TOKEN)[None, None], s5)
    return self.pixels(s5), tf.minimum(lengths, max_len)

  # ---- signature bodies --------------------------------------------------

  def encode(self, strokes, lengths, seed):
    mu, presig = self._encode(strokes, lengths)
    sigma = tf.exp(presig / 2.0)
    eps = per_row_normal(seed, self.hp.z_size, sampler.ENCODE_KEY)
    return {"mu": mu, "sigma": sigma, "z": mu + sigma * eps}

  def sample(self, temperature, max_len, seed, z=None, labels=None):
    s5, lengths = self._draw(z, labels, temperature, max_len, seed)
    return {"strokes": s5, "lengths": lengths}

  def sample_prior(self, temperature, max_len, seed, labels=None):
    z = per_row_normal(seed, self.hp.z_size, sampler.PRIOR_KEY)
    return dict(self.sample(temperature, max_len, seed, z, labels), z=z)

  def reconstruct(self, strokes, lengths, temperature, max_len, seed, labels=None):
    z, _ = self._encode(strokes, lengths)
    return dict(self.sample(temperature, max_len, seed, z, labels), z=z)


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
      "params_layout": tfjs_graphs.params_layout(hp.num_mixture),
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
  return tf.function(fn, input_signature=[spec([None], I32, "rows")]).get_concrete_function()


def next_version(model_dir):
  """1 + the highest numeric version under model_dir (1 if none)."""
  if not os.path.isdir(model_dir):
    return 1
  versions = [int(n) for n in os.listdir(model_dir) if n.isdigit()]
  return max(versions, default=0) + 1


def save(graphs, path, version=None):
  """Writes the SavedModel of `graphs` (ServingSignatures or TfjsGraphs) at `path`, which
  must not exist. Returns its metadata dict."""
  model = graphs.model
  functions = graphs.trace()
  info = metadata(model, version, getattr(graphs, "max_len_limit", MAX_LEN_LIMIT))
  info["signatures"] = {name: _describe(fn) for name, fn in sorted(functions.items())}
  if isinstance(graphs, ServingSignatures):
    functions["serving_default"] = functions[graphs.serving_default]
    functions["metadata"] = _metadata_function(info)
    info["signatures"]["metadata"] = _describe(functions["metadata"])
    info["serving_default"] = graphs.serving_default
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
    info = save(ServingSignatures(model, max_len_limit), staging, version)
    os.rename(staging, final)
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return final, info


def read_metadata(saved_model_dir):
  """The metadata JSON written into a SavedModel's assets."""
  with open(os.path.join(saved_model_dir, "assets", METADATA_FILE), encoding="utf-8") as f:
    return json.load(f)
