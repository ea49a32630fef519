"""TF Serving REST request bodies that fit an exported model, made from its own signatures.

The SavedModel's metadata asset (`signatures.read_metadata`) lists every signature's
inputs with dtype and shape; each input is filled with values of the model's sizes
(z_size, the decoder's state width, its classes, its N_max), so the bodies work for
any export, not only the tiny preset that `export/serving/requests/` was written for.
Strokes come from the user's sketches (stroke-3, in the data's pixels) or, without
any, from a seeded scribble of N_max points.

  bodies = request_bodies.make(signatures.read_metadata(saved_model_dir), sketches)
  request_bodies.write(bodies, out_dir)   # <signature>.inputs.json, .instances.json

Each signature gets the columnar form ({"inputs": {...}}) and the row form
({"instances": [...]}); `serving_default.json` is the default signature's columnar body.
"""
from __future__ import annotations

import json
import os
from typing import Sequence

import numpy as np

from sketch_rnn_tf.data import strokes as strokes_lib
from sketch_rnn_tf.utils import atomic


def scribble(points: int, scale: float, seed: int = 0) -> np.ndarray:
  """A stroke-3 random walk of `points` points, offsets of about `scale` pixels,
  a pen lift every ~20 points and at the end."""
  rng = np.random.default_rng(seed)
  out = np.zeros((points, 3), np.float32)
  out[:, :2] = np.round(rng.normal(0, scale, (points, 2)))
  out[:, 2] = rng.random(points) < 0.05
  out[-1, 2] = 1
  return out


def _padded_stroke5(sketches: Sequence[np.ndarray], limit: int):
  """Stroke-5 px [B, T, 5] (no start token, end rows after each end) and lengths [B]."""
  cut = [np.asarray(s, np.float32)[:limit] for s in sketches]
  length = max(len(s) for s in cut)
  return (np.stack([strokes_lib.to_stroke5(s, length) for s in cut]),
          np.array([len(s) for s in cut], np.int32))


class _Filler:
  """Values for each input name of the exported signatures, at the model's sizes."""

  def __init__(self, metadata, sketches, batch, seed, temperature, max_len):
    hp = metadata["hparams"]
    self.batch = batch
    self.rng = np.random.default_rng(seed)
    self.seed = seed
    self.z_size = int(metadata["z_size"])
    self.state_width = int(sum(metadata["state_sizes"]))
    self.num_classes = int(metadata["num_classes"])
    n_max = int(hp.get("max_seq_len", 250))
    self.max_len = min(int(max_len or n_max), int(metadata["max_len_limit"]))
    self.temperature = float(temperature)
    if not sketches:
      scale = float(metadata["scale_factor"])
      sketches = [scribble(n_max, scale, seed + i) for i in range(batch)]
    picked = [sketches[i % len(sketches)] for i in range(batch)]
    self.strokes, self.lengths = _padded_stroke5(picked, n_max)

  def value(self, signature: str, name: str, dtype: str, shape: list[int]):
    b = self.batch
    if name == "strokes":
      return self.strokes
    if name == "lengths":
      return self.lengths
    if name == "seed":
      return np.arange(self.seed + 1, self.seed + 1 + b, dtype=np.int32)
    if name == "temperature":
      return np.full(b, self.temperature, np.float32)
    if name == "max_len":
      return np.full(b, self.max_len, np.int32)
    if name == "z":
      return self.rng.standard_normal((b, self.z_size)).astype(np.float32)
    if name == "labels":
      return np.arange(b, dtype=np.int32) % max(self.num_classes, 1)
    if name == "prev":  # the start token, then points of the sketch
      prev = self.strokes[:, 0].copy()
      prev[0] = strokes_lib.START_TOKEN
      return prev
    if name == "state":
      return np.zeros((b, self.state_width), np.float32)
    if name == "rows":
      return np.zeros(b, np.int32)
    raise ValueError(f"signature '{signature}': no rule to fill the input '{name}' "
                     f"({dtype} {shape}); this tool knows the inputs sketch-rnn-export writes")


def _check(signature, name, value, dtype, shape):
  """The value against the signature's declared spec (-1: any size)."""
  if len(value.shape) != len(shape) or any(
      d != -1 and d != n for d, n in zip(shape, value.shape)):
    raise ValueError(f"signature '{signature}': input '{name}' filled with shape "
                     f"{list(value.shape)}, the signature declares {shape}")
  if dtype.startswith("int") != (value.dtype.kind == "i"):
    raise ValueError(f"signature '{signature}': input '{name}' is {dtype}, filled with "
                     f"{value.dtype}")


def make(metadata: dict, sketches: Sequence[np.ndarray] | None = None, batch: int = 2,
         seed: int = 0, temperature: float = 0.5, max_len: int | None = None) -> dict:
  """{file stem: request body} for every signature of the export described by `metadata`."""
  filler = _Filler(metadata, sketches, batch, seed, temperature, max_len)
  out = {}
  for signature, described in sorted(metadata["signatures"].items()):
    inputs = {}
    for name, (dtype, shape) in sorted(described["inputs"].items()):
      value = np.asarray(filler.value(signature, name, dtype, shape))
      _check(signature, name, value, dtype, shape)
      inputs[name] = value.tolist()
    out[f"{signature}.inputs"] = {"signature_name": signature, "inputs": inputs}
    out[f"{signature}.instances"] = {
        "signature_name": signature,
        "instances": [{k: v[i] for k, v in inputs.items()} for i in range(batch)]}
  default = metadata.get("serving_default")
  if default in metadata["signatures"]:
    out["serving_default"] = {"inputs": out[f"{default}.inputs"]["inputs"]}
  return out


def write(bodies: dict, out_dir: str) -> list[str]:
  """Writes each body as <out_dir>/<stem>.json (atomically); returns the paths."""
  os.makedirs(out_dir, exist_ok=True)
  paths = []
  for stem, body in sorted(bodies.items()):
    path = os.path.join(out_dir, f"{stem}.json")
    text = (json.dumps(body, separators=(",", ":")) + "\n").encode("utf-8")
    atomic.write_atomically(path, lambda f, text=text: f.write(text))
    paths.append(path)
  return paths
