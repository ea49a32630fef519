"""Pretrained @magenta/sketch decoders (`.gen.json`): read, import, write.

The format (read by @magenta/sketch 0.2.0 and the older sketch-rnn-js) is one
JSON array

    [info, shapes, weights]

  info     {"name", "version", "mode", "max_seq_len", "scale_factor", ...};
           mode 2 (or "gen") is a decoder-only model, 0 or 1 a VAE
  shapes   one shape (a list of ints) per tensor
  weights  one base64 string per tensor: little-endian int16 q, row-major,
           standing for w = 10 * q / 32767 (so |w| <= 10)

A decoder-only model holds five tensors, in this order (H: LSTM size,
M = 20 mixtures, which the readers hard-code):

  output W [H, 3+6M], output b [3+6M], LSTM W_xh [5, 4H], W_hh [H, 4H], bias [4H]

and runs, from the zero state and the first input [0, 0, 1, 0, 0],

  [i, j, f, o] = [x, h] [W_xh; W_hh] + bias
  c' = c sigmoid(f + 1) + sigmoid(i) tanh(j),   h' = tanh(c') sigmoid(o)
  y = h' W + b      read as [q | pi | mu_x | mu_y | log s_x | log s_y | r]

which is our unconditional SketchRNN with a plain LSTM decoder: the same gate
order and forget bias (lstm_cell.py), the same MDN column order (mdn.py), and
inputs in the same units (offsets / scale_factor). Importing therefore only
copies tensors; no arithmetic changes.

VAE files (17 tensors: encoder, latent and decoder) are refused: @magenta/sketch
reads only decoder-only models, and no reader we can run pins down that layout.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import os
import typing
import urllib.error
import urllib.parse
import urllib.request
import time
import warnings

import numpy as np

from sketch_rnn_tf.utils import atomic, limits
from sketch_rnn_tf.utils.errors import InputError

MAX_WEIGHT = 10.0
QUANT_MAX = 32767
NUM_MIXTURES = 20                 # hard-coded by @magenta/sketch (NMIXTURE)
OUTPUT_WIDTH = 3 + 6 * NUM_MIXTURES
DECODER_MODES = (2, "gen")
VAE_MODES = (0, 1, "vae")
# sketch-rnn-js reads versions below 6 differently only for a VAE's latent, so
# every version up to 6 decodes alike; a later one is a format we do not know.
KNOWN_VERSIONS = range(1, 7)
WRITE_VERSION = 6
FETCH_TIMEOUT_S = 60


class GenJsonError(InputError):
  """A .gen.json file that is not a decoder-only model we can read or write."""


class GenJson(typing.NamedTuple):
  """A parsed file: info dict and float32 tensors (output W, output b, W_xh, W_hh, bias)."""
  info: dict
  weights: list


def _is_url(source) -> bool:
  return isinstance(source, str) and urllib.parse.urlsplit(source).scheme in ("http", "https")


def _fetch(url) -> bytes:
  """A URL's body, cut off past `gen_json_bytes` or after `fetch_seconds` in all.

  The socket timeout bounds each read; the deadline bounds a server that
  drips bytes forever, and the size cap one that streams forever.
  """
  cap, deadline = int(limits.get("gen_json_bytes")), time.monotonic() + limits.get(
      "fetch_seconds")
  with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as response:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit():
      limits.check("gen_json_bytes", int(declared), url, "its Content-Length")
    chunks, size = [], 0
    while chunk := response.read1(1 << 20):  # what has arrived: a drip still meets the deadline
      chunks.append(chunk)
      size += len(chunk)
      if size > cap:
        raise GenJsonError(f"{url}: the download passed the limit of {cap:,} bytes (set "
                           f"{limits.env_name('gen_json_bytes')} to allow more)")
      if time.monotonic() > deadline:
        raise OSError(f"{url}: could not fetch: not done after {limits.get('fetch_seconds'):g} "
                      f"s (set {limits.env_name('fetch_seconds')} to allow more)")
    return b"".join(chunks)


def _load_bytes(source) -> bytes:
  """The file's bytes, from a path or an http(s) URL."""
  if _is_url(source):
    try:
      return _fetch(source)
    except urllib.error.HTTPError as e:
      raise OSError(f"{source}: could not fetch: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
      raise OSError(f"{source}: could not fetch: {getattr(e, 'reason', e)}") from None
  try:
    return limits.read_file_capped(source, "gen_json_bytes")
  except InputError as e:
    raise GenJsonError(str(e)) from None


def _positive_number(info, key, where):
  value = info.get(key)
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
      math.isfinite(value) and value > 0):
    raise GenJsonError(f"{where}: info.{key} must be a positive number, not {value!r}")
  return value


def _check_info(info, where):
  if not isinstance(info, dict):
    raise GenJsonError(f"{where}: the first element (info) must be an object, "
                       f"not {type(info).__name__}")
  mode = info.get("mode")
  if mode in VAE_MODES and not isinstance(mode, bool):
    raise GenJsonError(
        f"{where}: mode {mode!r} is a VAE (encoder + decoder) model; only decoder-only "
        "models (mode 2, '.gen.json') can be imported, as @magenta/sketch reads only those")
  if mode not in DECODER_MODES or isinstance(mode, bool):
    raise GenJsonError(f"{where}: unknown mode {mode!r} (decoder-only models have mode 2)")
  version = info.get("version")
  if isinstance(version, bool) or not isinstance(version, int) or version not in KNOWN_VERSIONS:
    raise GenJsonError(f"{where}: unknown version {version!r} (known: "
                       f"{KNOWN_VERSIONS.start}..{KNOWN_VERSIONS.stop - 1})")
  _positive_number(info, "scale_factor", where)
  max_seq_len = info.get("max_seq_len")
  if isinstance(max_seq_len, bool) or not isinstance(max_seq_len, int) or max_seq_len < 1:
    raise GenJsonError(f"{where}: info.max_seq_len must be a positive integer, "
                       f"not {max_seq_len!r}")


def decoder_shapes(units: int) -> list[list[int]]:
  """The five tensor shapes of a decoder-only model with an LSTM of `units`."""
  g4 = 4 * units
  return [[units, OUTPUT_WIDTH], [OUTPUT_WIDTH], [5, g4], [units, g4], [g4]]


def _check_shapes(shapes, where):
  if not isinstance(shapes, list) or not all(
      isinstance(s, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in s)
      for s in shapes):
    raise GenJsonError(f"{where}: the second element (shapes) must be a list of int lists")
  if len(shapes) == 17:
    raise GenJsonError(f"{where}: 17 tensors is the VAE layout; only decoder-only models "
                       "(5 tensors) can be imported")
  units = shapes[0][0] if shapes and shapes[0] and shapes[0][0] > 0 else None
  expected = decoder_shapes(units) if units else None
  if shapes != expected:
    raise GenJsonError(
        f"{where}: shapes {shapes} are not the decoder-only layout [[H, {OUTPUT_WIDTH}], "
        f"[{OUTPUT_WIDTH}], [5, 4H], [H, 4H], [4H]] (output W, output b, LSTM W_xh, W_hh, "
        f"bias; {OUTPUT_WIDTH} = 3 + 6 * {NUM_MIXTURES} mixtures)")
  return units


def decode_tensor(text, shape, index, where) -> np.ndarray:
  """One base64 int16 string -> float32 array of `shape` (w = 10 q / 32767)."""
  if not isinstance(text, str):
    raise GenJsonError(f"{where}: weights[{index}] is not a base64 string")
  try:
    raw = base64.b64decode(text, validate=True)
  except (binascii.Error, ValueError) as e:
    raise GenJsonError(f"{where}: weights[{index}] is not valid base64: {e}") from None
  count = math.prod(shape)
  if len(raw) != 2 * count:
    raise GenJsonError(f"{where}: weights[{index}] holds {len(raw)} bytes, but shape {shape} "
                       f"needs {2 * count} (int16)")
  q = np.frombuffer(raw, dtype="<i2").astype(np.float64)
  # float64 then float32, as @magenta/sketch computes 10 * q / 32767 in doubles
  # and stores floats: identical weights.
  return (MAX_WEIGHT * q / QUANT_MAX).astype(np.float32).reshape(shape)


def parse_gen_json(data: bytes, where: str = "<gen.json>") -> GenJson:
  """Parses a file's bytes; errors name `where`."""
  try:
    doc = json.loads(data.decode("utf-8"))
  except UnicodeDecodeError as e:
    raise GenJsonError(f"{where}: not a .gen.json file (not UTF-8 text: {e})") from None
  except json.JSONDecodeError as e:
    raise GenJsonError(f"{where}: not valid JSON (truncated or not a .gen.json file?): "
                       f"{e}") from None
  except RecursionError:
    raise GenJsonError(f"{where}: not a .gen.json file (JSON nested too deeply)") from None
  if not isinstance(doc, list) or len(doc) != 3:
    what = f"a {len(doc)}-element array" if isinstance(doc, list) else type(doc).__name__
    raise GenJsonError(f"{where}: expected a 3-element array [info, shapes, weights], "
                       f"got {what}")
  info, shapes, weights = doc
  _check_info(info, where)
  _check_shapes(shapes, where)
  if not isinstance(weights, list) or len(weights) != len(shapes):
    raise GenJsonError(f"{where}: the third element (weights) must be a list of "
                       f"{len(shapes)} base64 strings, one per shape")
  return GenJson(info, [decode_tensor(w, s, i, where)
                        for i, (w, s) in enumerate(zip(weights, shapes))])


def read_gen_json(source) -> GenJson:
  """Reads a decoder-only .gen.json from a path or an http(s) URL.

  Raises GenJsonError (a ValueError) naming the file for a malformed or
  unsupported file, OSError when it cannot be read or fetched.
  """
  where = source if _is_url(source) else os.fspath(source)
  return parse_gen_json(_load_bytes(source), where)


def describe(gen: GenJson) -> str:
  """One line on a file: its decoder, header and what the header says of its training
  (the older header, version 2 and mode "gen", adds r_loss and training_size)."""
  info = gen.info
  parts = [f"decoder only: lstm {gen.weights[3].shape[0]} decoder, {NUM_MIXTURES} mixtures",
           f"name {info.get('name')!r}, version {info.get('version')}, mode {info.get('mode')!r}",
           f"max_seq_len {info.get('max_seq_len')}, scale factor {info.get('scale_factor'):.6g}"]
  if "r_loss" in info:
    parts.append(f"r_loss {info['r_loss']}")
  if "training_size" in info:
    parts.append(f"training size {info['training_size']}")
  return "; ".join(parts)


def hparams_for(gen: GenJson):
  """HParams of the unconditional LSTM-decoder SketchRNN a file describes."""
  from sketch_rnn_tf.model.hparams import HParams
  units = gen.weights[3].shape[0]
  return HParams().override(dict(conditional=False, dec_model="lstm", dec_rnn_size=units,
                                 num_mixture=NUM_MIXTURES, num_classes=0,
                                 max_seq_len=int(gen.info["max_seq_len"])))


def model_from_gen_json(source, seed=0):
  """An unconditional SketchRNN with a file's decoder weights.

  source: a path, an http(s) URL, or a GenJson already read.
  """
  from sketch_rnn_tf.model.sketch_rnn import SketchRNN
  gen = source if isinstance(source, GenJson) else read_gen_json(source)
  model = SketchRNN(hparams_for(gen), float(gen.info["scale_factor"]), seed=seed)
  model.build()
  out_w, out_b, w_xh, w_hh, bias = gen.weights
  cell, dense = model.decoder.cell, model.decoder.head.dense
  for var, value in ((dense.kernel, out_w), (dense.bias, out_b), (cell.w_x, w_xh),
                     (cell.w_h, w_hh), (cell.bias, bias)):
    var.assign(value)
  return model


def import_to_model_dir(source, out_dir, overwrite=False) -> str:
  """Writes a model directory (hparams, model_info, best/ checkpoint) from a .gen.json.

  The directory loads with `run_dir.load_model`; the optimizer state is a
  fresh one at step 0. Returns the checkpoint path.
  """
  from sketch_rnn_tf.utils import run_dir
  run_dir.refuse_existing(out_dir, overwrite)
  gen = read_gen_json(source)
  model = model_from_gen_json(gen)
  origin = source if _is_url(source) else os.path.abspath(os.fspath(source))
  # "data" stays empty: the file does not say what it was trained on.
  return run_dir.save_imported(out_dir, model, {
      "scale_factor": model.scale_factor, "class_names": [], "data": {},
      "imported_from": {"gen_json": origin, "name": gen.info.get("name"),
                        "info": gen.info}}, overwrite=True)


def _check_writable(model):
  hp = model.hp
  if hp.conditional:
    raise GenJsonError("a conditional (VAE) model cannot be written as .gen.json: the "
                       "decoder-only format has no encoder, and its decoder reads z")
  if hp.num_classes:
    raise GenJsonError("a class-conditional model cannot be written as .gen.json: the "
                       "format's decoder reads no class input")
  if hp.dec_model != "lstm":
    raise GenJsonError(f"a {hp.dec_model} decoder cannot be written as .gen.json: the "
                       "format holds a plain LSTM (no layer norm, no HyperLSTM)")
  if hp.num_mixture != NUM_MIXTURES:
    raise GenJsonError(f"num_mixture is {hp.num_mixture}; .gen.json readers hard-code "
                       f"{NUM_MIXTURES} mixtures (output width {OUTPUT_WIDTH})")
  if model.decoder.cell.forget_bias != 1.0:
    raise GenJsonError("the format's readers add a forget bias of 1.0; this model's "
                       f"is {model.decoder.cell.forget_bias}")


def quantize(w: np.ndarray) -> tuple[np.ndarray, int]:
  """float -> (int16 q with w ~ 10 q / 32767, count of values clipped to +-10)."""
  w = np.asarray(w, np.float64)
  clipped = int(np.count_nonzero(np.abs(w) > MAX_WEIGHT))
  q = np.rint(np.clip(w, -MAX_WEIGHT, MAX_WEIGHT) * (QUANT_MAX / MAX_WEIGHT))
  return q.astype("<i2"), clipped


def gen_json_document(model, name: str = "sketch") -> list:
  """The [info, shapes, weights] document of an unconditional LSTM-decoder SketchRNN."""
  _check_writable(model)
  cell, dense = model.decoder.cell, model.decoder.head.dense
  tensors = [v.numpy() for v in (dense.kernel, dense.bias, cell.w_x, cell.w_h, cell.bias)]
  info = {"mode": 2, "version": WRITE_VERSION, "max_seq_len": int(model.hp.max_seq_len),
          "name": name, "scale_factor": float(model.scale_factor)}
  shapes, strings, clipped = [], [], 0
  for t in tensors:
    q, n = quantize(t)
    clipped += n
    shapes.append(list(t.shape))
    strings.append(base64.b64encode(q.tobytes()).decode("ascii"))
  if shapes != decoder_shapes(cell.units):
    raise GenJsonError(f"unexpected decoder shapes {shapes}")
  if clipped:
    warnings.warn(f"{clipped} of {sum(t.size for t in tensors)} weights lie outside "
                  f"+-{MAX_WEIGHT:g} and were clipped to it in the .gen.json", stacklevel=2)
  return [info, shapes, strings]


def write_gen_json(model, path, name: str | None = None) -> None:
  """Writes an unconditional LSTM-decoder SketchRNN as a .gen.json (atomically).

  Weights are quantised to int16 steps of 10/32767 (error <= 1.5e-4 each);
  values beyond +-10 are clipped, with a warning saying how many.
  """
  if name is None:
    name = os.path.basename(os.fspath(path)).split(".")[0] or "sketch"
  text = json.dumps(gen_json_document(model, name), separators=(",", ":"))
  atomic.write_atomically(path, lambda f: f.write(text.encode("utf-8")))
