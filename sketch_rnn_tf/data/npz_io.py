"""Reading and writing sketch `.npz` files without trusting their pickles.

A sketch `.npz` (the Quick, Draw! sketch-rnn files, sketch-rnn-datasets) holds
`train`, `valid` and `test` members, each an object array of int16 [L, 3]
stroke-3 arrays. Object arrays are stored as pickles, and `np.load(...,
allow_pickle=True)` would run whatever a crafted file asks for. Here each
member's pickle is read by an unpickler that resolves only the few numpy
globals an array of arrays needs, so a pickle naming anything else (`os.system`,
`builtins.eval`, ...) is refused before it is called.
"""
from __future__ import annotations

import io
import os
import pickle
import zipfile
from typing import Mapping, Sequence

import numpy as np

from sketch_rnn_tf.utils import atomic
from sketch_rnn_tf.utils.errors import InputError

SPLITS = ("train", "valid", "test")

# The globals that pickled ndarrays (object arrays of arrays) refer to; numpy 2
# pickles say `numpy._core`, numpy 1 and Python 2 era files `numpy.core`.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class UnsafePickleError(pickle.UnpicklingError):
  """A pickle asked for a global outside the numpy-array allow-list."""


class _ArrayOnlyUnpickler(pickle.Unpickler):

  def find_class(self, module, name):
    if (module, name) in _ALLOWED_GLOBALS:
      return super().find_class(module, name)
    raise UnsafePickleError(
        f"refusing to load global {module}.{name}: only numpy arrays are allowed")


def _read_npy(data: bytes, where: str) -> np.ndarray:
  """Parses one .npy member; object arrays go through the restricted unpickler."""
  f = io.BytesIO(data)
  try:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
      shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    else:
      shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
  except ValueError as e:
    raise InputError(f"{where}: not a valid .npy member ({e})") from None
  if dtype.hasobject:
    try:
      # latin1 lets Python 2 pickles (the published sketch files) load.
      array = _ArrayOnlyUnpickler(f, encoding="latin1").load()
    except UnsafePickleError as e:
      raise UnsafePickleError(f"{where}: {e}") from None
    except Exception as e:  # truncated or corrupt pickle stream
      raise InputError(f"{where}: cannot read the pickled object array ({e})") from None
    if not isinstance(array, np.ndarray):
      raise InputError(f"{where}: pickle holds a {type(array).__name__}, not an array")
    return array
  count = int(np.prod(shape)) if shape else 1
  array = np.frombuffer(f.read(count * dtype.itemsize), dtype=dtype)
  if array.size != count:
    raise InputError(f"{where}: truncated data ({array.size} of {count} values)")
  return array.reshape(shape, order="F" if fortran else "C")


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """Reads every member of an .npz safely; returns {name: array}."""
  path = os.fspath(path)
  try:
    zf = zipfile.ZipFile(path)
  except (zipfile.BadZipFile, OSError) as e:
    raise InputError(f"{path}: not a readable .npz file ({e})") from None
  out = {}
  with zf:
    for member in zf.namelist():
      if not member.endswith(".npy"):
        continue
      name = member[:-len(".npy")]
      out[name] = _read_npy(zf.read(member), f"{path}[{name}]")
  return out


def load_npz(path: str | os.PathLike,
             splits: Sequence[str] = SPLITS) -> dict[str, list[np.ndarray]]:
  """Loads a sketch file: {split: list of stroke-3 arrays}, as stored.

  Raises if a split is missing. No validation happens here: see `validate`.
  """
  members = read_npz(path)
  missing = [s for s in splits if s not in members]
  if missing:
    raise InputError(f"{os.fspath(path)}: missing split(s) {missing}; "
                     f"found {sorted(members)}")
  out = {}
  for split in splits:
    array = members[split]
    if array.dtype.hasobject or array.ndim == 1:
      out[split] = list(array)
    else:  # a regular [N, L, 3] array (all sketches the same length)
      out[split] = [a for a in array]
  return out


def save_npz(path: str | os.PathLike,
             data: Mapping[str, Sequence[np.ndarray]]) -> None:
  """Writes {split: list of stroke-3 arrays} as int16 object arrays, atomically.

  The result is a standard sketch `.npz` that `np.load(allow_pickle=True)`
  and the reference code read too.
  """
  path = os.fspath(path)
  arrays = {}
  for split, sketches in data.items():
    obj = np.empty(len(sketches), dtype=object)
    for i, s in enumerate(sketches):
      obj[i] = np.asarray(s).astype(np.int16)
    arrays[split] = obj
  atomic.write_atomically(path, lambda f: np.savez_compressed(f, **arrays))
