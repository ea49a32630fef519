"""Reading and writing sketch `.npz` files without trusting their pickles.

A sketch `.npz` (the Quick, Draw! sketch-rnn files, sketch-rnn-datasets) holds
`train`, `valid` and `test` members, each an object array of int16 [L, 3]
stroke-3 arrays. Object arrays are stored as pickles, and `np.load(...,
allow_pickle=True)` would run whatever a crafted file asks for. Here each
member's pickle is read by an unpickler that resolves only the few numpy
globals an array of arrays needs, so a pickle naming anything else (`os.system`,
`builtins.eval`, ...) is refused before it is called.

Nor can a file exhaust memory: its members' uncompressed size, the shape a
`.npy` header declares and every array a pickle asks for are checked against
`limits.get("npz_bytes")` (1 GiB by default, several times the largest
Quick, Draw! file) before anything is allocated.
"""
from __future__ import annotations

import io
import math
import os
import pickle
import re
import zipfile
import zlib
from typing import Mapping, Sequence

import numpy as np

from sketch_rnn_tf.utils import atomic, limits
from sketch_rnn_tf.utils.errors import InputError

SPLITS = ("train", "valid", "test")

# The globals that pickled ndarrays (object arrays of arrays) refer to; numpy 2
# pickles say `numpy._core`, numpy 1 and Python 2 era files `numpy.core`.
_RECONSTRUCT = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}
_NDARRAY = ("numpy", "ndarray")
_DTYPE = ("numpy", "dtype")
# Plain numeric dtypes and object; anything else (structured, sub-array, void,
# datetime) is not a sketch file.
_DTYPE_SPEC = re.compile(r"[biuf][1-8]|f16|O[48]")


class UnsafePickleError(InputError, pickle.UnpicklingError):
  """A pickle asked for a global outside the numpy-array allow-list."""


class _Dtype:
  """What a pickle's `dtype(spec, align, copy)` call and its BUILD state ask for."""

  def __init__(self, spec=None, *args):
    self.spec, self.byteorder = spec, "|"

  def __setstate__(self, state):
    if isinstance(state, tuple) and len(state) > 1:
      self.byteorder = state[1]


class _Array:
  """What a pickle's `_reconstruct(ndarray, ...)` and its BUILD state ask for.

  numpy's own `ndarray.__setstate__` trusts its arguments (an object array whose
  list is shorter than its shape crashes the interpreter), so a pickle only
  records here what it asks for, and `_build` makes the array after checking it.
  """

  def __init__(self, subtype=None, *args):
    self.subtype, self.state = subtype, None

  def __setstate__(self, state):
    self.state = state


class _NdarrayName:
  """Stands for `numpy.ndarray`, which a pickle may only pass to `_reconstruct`."""


class _ArrayOnlyUnpickler(pickle.Unpickler):
  """Resolves only the numpy globals an array of arrays needs, to recorders (above)."""

  def __init__(self, f):
    super().__init__(f, encoding="latin1")  # latin1: Python 2 pickles (the published files)

  def find_class(self, module, name):
    if (module, name) in _RECONSTRUCT:
      return _Array
    if (module, name) == _NDARRAY:
      return _NdarrayName
    if (module, name) == _DTYPE:
      return _Dtype
    raise UnsafePickleError(
        f"refusing to load global {module}.{name}: only numpy arrays are allowed")


def _dtype(d, where):
  if not isinstance(d, _Dtype) or not isinstance(d.spec, str) or not _DTYPE_SPEC.fullmatch(
      d.spec) or d.byteorder not in ("<", ">", "|", "="):
    spec = getattr(d, "spec", d)
    raise InputError(f"{where}: the pickle holds an array of dtype {spec!r}; a sketch file "
                     "holds numeric and object arrays only")
  dtype = np.dtype(d.spec)
  return dtype.newbyteorder(d.byteorder) if d.byteorder in "<>" else dtype


def _build(obj, where, budget, nested=False):
  """The ndarray an `_Array` record describes, checked; `budget[0]` bytes may still be made.

  Object arrays may hold numeric arrays only (one level), and every array made
  counts against the budget, so memo references to one big array cannot
  multiply it.
  """
  if not isinstance(obj, _Array) or obj.subtype is not _NdarrayName or not (
      isinstance(obj.state, tuple) and len(obj.state) in (4, 5)):
    raise InputError(f"{where}: the pickle holds something other than a numpy array")
  shape, dtype, fortran, raw = obj.state[-4:]
  if not isinstance(shape, tuple) or not all(
      isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
    raise InputError(f"{where}: the pickle declares a bad shape {shape!r}")
  dtype = _dtype(dtype, where)
  count = math.prod(shape)
  budget[0] -= count * dtype.itemsize
  if budget[0] < 0:
    raise InputError(f"{where}: the pickle asks for more than the limit of "
                     f"{limits.get('npz_bytes'):,.0f} bytes of arrays "
                     f"(set {limits.env_name('npz_bytes')} to allow more)")
  order = "F" if fortran else "C"
  if dtype.hasobject:
    if nested:
      raise InputError(f"{where}: an object array inside an object array is not a sketch file")
    if not isinstance(raw, list) or len(raw) != count:
      raise InputError(f"{where}: an object array of {count} items holds "
                       f"{len(raw) if isinstance(raw, list) else type(raw).__name__}")
    out = np.empty(count, dtype=object)
    for i, item in enumerate(raw):
      out[i] = _build(item, f"{where}[{i}]", budget, nested=True)
    return out.reshape(shape, order=order)
  if isinstance(raw, str):  # a Python 2 str, decoded as latin1 on load
    raw = raw.encode("latin1")
  if not isinstance(raw, (bytes, bytearray)) or len(raw) != count * dtype.itemsize:
    size = len(raw) if isinstance(raw, (bytes, bytearray)) else type(raw).__name__
    raise InputError(f"{where}: an array of shape {shape} and dtype {dtype} holds {size} "
                     f"bytes, not {count * dtype.itemsize}")
  return np.frombuffer(raw, dtype=dtype).reshape(shape, order=order).copy()


def _read_npy(f, size: int, where: str) -> np.ndarray:
  """Parses one .npy member from a stream of `size` bytes (zipfile yields no more).

  What the header declares is checked against `size` before anything is
  allocated; object arrays go through the restricted unpickler.
  """
  try:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
      shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    else:
      shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
  except Exception as e:  # numpy's header parser raises ValueError, SyntaxError, TokenError...
    raise InputError(f"{where}: not a valid .npy member ({type(e).__name__}: {e})") from None
  if dtype.hasobject:
    try:
      record = _ArrayOnlyUnpickler(f).load()
    except UnsafePickleError as e:
      raise UnsafePickleError(f"{where}: {e}") from None
    except Exception as e:  # truncated or corrupt pickle stream; MemoryError included
      raise InputError(f"{where}: cannot read the pickled object array ({e})") from None
    return _build(record, where, [limits.get("npz_bytes")])
  if dtype.kind not in "biuf" or dtype.fields is not None:
    raise InputError(f"{where}: an array of dtype {dtype}; a sketch file holds numeric and "
                     "object arrays only")
  count = math.prod(shape)
  if count * dtype.itemsize > size:
    raise InputError(f"{where}: the header declares {count:,} values of {dtype}, more than "
                     f"the member's {size:,} bytes hold (truncated or crafted file)")
  raw = f.read(count * dtype.itemsize)
  if len(raw) != count * dtype.itemsize:
    raise InputError(f"{where}: truncated data ({len(raw)} of {count * dtype.itemsize} bytes)")
  return np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """Reads every member of an .npz safely; returns {name: array}.

  A file whose members' uncompressed sizes (as the zip declares them; zipfile
  never yields more) add up to more than `limits.get("npz_bytes")` is refused
  before anything is read, so a small file that inflates to gigabytes cannot
  exhaust memory.
  """
  path = os.fspath(path)
  try:
    zf = zipfile.ZipFile(path)
  except (zipfile.BadZipFile, OSError, ValueError) as e:
    raise InputError(f"{path}: not a readable .npz file ({e})") from None
  out = {}
  with zf:
    members = [info for info in zf.infolist() if info.filename.endswith(".npy")]
    limits.check("npz_bytes", sum(info.file_size for info in members), path,
                 "the uncompressed size of its members in bytes")
    for info in members:
      name = info.filename[:-len(".npy")]
      where = f"{path}[{name}]"
      try:
        with zf.open(info) as f:
          out[name] = _read_npy(io.BufferedReader(f, 1 << 20), info.file_size, where)
      except InputError:
        raise
      except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
              OSError, ValueError) as e:  # corrupt stream or offsets, bad CRC, encrypted...
        raise InputError(f"{where}: cannot decompress the member ({e})") from None
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
