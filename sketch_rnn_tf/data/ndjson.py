"""Quick, Draw! `.ndjson` drawings -> stroke-3 sketches and sketch `.npz` files.

Each line of an `.ndjson` file is a JSON object with at least `drawing`, and
usually `word`, `key_id`, `countrycode` and `recognized`. A drawing is a list
of strokes in one of two formats:
- raw: each stroke is [[x...], [y...], [t...]]: screen coordinates (any
  scale, floats or ints) and milliseconds since the first point;
- simplified: each stroke is [[x...], [y...]] with integers in 0..255, as
  published after the dataset's own simplification.

Raw drawings go through the steps the published simplified set used:
  1. align: p <- p - min(p) over all points, so min x = min y = 0;
  2. scale: p <- p * 255 / max(p) (one factor for x and y; the largest
     coordinate becomes 255; a drawing that is a single point is left at 0);
  3. resample each stroke at 1-pixel spacing along its arc length (`resample`);
  4. Ramer-Douglas-Peucker with epsilon 2 pixels (`simplify.simplify_polylines`);
then the absolute points are rounded to integers, repeated consecutive points
that rounding creates are merged, and the polylines become int16 stroke-3
(`strokes.from_polylines`). Simplified drawings are converted as they are
(optionally re-simplified). Sketches longer than `max_len` points are either
truncated, lifting the pen at the last kept point, or dropped.

`drawing_to_stroke3` is a pure module-level function of the drawing and its
options, so a TFDS or Apache Beam builder can pickle it (e.g. through
`functools.partial`) and run it per record; `parse_record` parses one line.
"""
from __future__ import annotations

import gzip
import json
import math
import os
import zlib
from typing import Any, Iterator

import numpy as np

from sketch_rnn_tf import defaults
from sketch_rnn_tf.data import npz_io, simplify, strokes
from sketch_rnn_tf.utils import limits
from sketch_rnn_tf.utils.errors import InputError

FORMATS = ("raw", "simplified")
LONG_POLICIES = ("truncate", "drop")
SIMPLIFIED_SIZE = 255

# int16 offsets between points of |coordinate| <= this cannot overflow.
_MAX_ABS_COORD = 2**14 - 1


class NdjsonError(InputError):
  """A malformed `.ndjson` line, record or drawing (the message says where)."""


# ------------------------------------------------------------------ drawings


def _stroke_arrays(drawing: Any) -> list[tuple[np.ndarray, int]]:
  """Validates a drawing; returns [(points [n, 2] float64, components)] per stroke.

  `components` is how many coordinate lists the stroke had (2: x, y; 3: x, y,
  t). Raises NdjsonError naming the offending stroke.
  """
  if not isinstance(drawing, (list, tuple)):
    raise NdjsonError(f"'drawing' must be a list of strokes, got {type(drawing).__name__}")
  out, total = [], 0
  max_coord = limits.get("coordinate")
  for i, stroke in enumerate(drawing):
    if not isinstance(stroke, (list, tuple)) or len(stroke) not in (2, 3):
      what = (f"{len(stroke)} lists" if isinstance(stroke, (list, tuple))
              else type(stroke).__name__)
      raise NdjsonError(f"stroke {i}: expected [[x...], [y...]] or "
                        f"[[x...], [y...], [t...]], got {what}")
    columns = []
    for name, values in zip("xyt", stroke):
      if not isinstance(values, (list, tuple)):
        raise NdjsonError(f"stroke {i}: {name} must be a list of numbers, "
                          f"got {type(values).__name__}")
      try:
        column = np.asarray(values, dtype=np.float64)
      except (TypeError, ValueError):
        raise NdjsonError(f"stroke {i}: {name} holds something that is not a number") from None
      if column.ndim != 1:
        raise NdjsonError(f"stroke {i}: {name} must be a flat list of numbers")
      if not np.isfinite(column).all():
        raise NdjsonError(f"stroke {i}: {name} holds a non-finite value")
      if name != "t" and len(column) and np.abs(column).max() > max_coord:
        raise NdjsonError(f"stroke {i}: {name} holds {np.abs(column).max():g}, beyond the "
                          f"limit of +-{max_coord:g} (set {limits.env_name('coordinate')} "
                          "to allow more)")
      columns.append(column)
    lengths = {len(c) for c in columns}
    if len(lengths) != 1:
      raise NdjsonError(f"stroke {i}: coordinate lists differ in length "
                        f"({', '.join(str(len(c)) for c in columns)})")
    total += len(columns[0])
    if total > limits.get("drawing_points"):
      raise NdjsonError(f"stroke {i}: {limits.exceeded('drawing_points', 'the point count', total)}")
    out.append((np.stack(columns[:2], axis=1), len(stroke)))
  return out


def detect_format(drawing: Any) -> str:
  """'raw' or 'simplified'.

  A drawing is 'simplified' when every stroke has exactly two coordinate lists
  and every value is an integer in 0..255; anything else (a time list, floats,
  values outside 0..255) is 'raw'. A raw drawing without times whose values all
  happen to be integers in 0..255 is indistinguishable from a simplified one;
  pass `fmt` explicitly for such data.
  """
  return _format_of(_stroke_arrays(drawing))


def _format_of(arrays: list[tuple[np.ndarray, int]]) -> str:
  if any(components == 3 for _, components in arrays):
    return "raw"
  for points, _ in arrays:
    if len(points) and (points.min() < 0 or points.max() > SIMPLIFIED_SIZE
                        or not np.array_equal(points, np.round(points))):
      return "raw"
  return "simplified"


def resample(points, spacing: float = 1.0) -> np.ndarray:
  """Resamples a polyline at uniform arc-length spacing; returns float64 [m, 2].

  With arc length s along the polyline and total length S, the output is the
  points at s_j = j * S / k, j = 0..k, k = ceil(S / spacing), found by linear
  interpolation on the segment containing s_j. Consecutive output points are
  therefore S / k <= spacing apart along the polyline (and at most that in a
  straight line), the first and last input points are kept exactly, and
  interior vertices are generally not (corners are cut by < spacing / 2).
  A polyline of zero length becomes its single first point.
  """
  if not spacing > 0:
    raise ValueError(f"spacing must be > 0, got {spacing}")
  points = np.asarray(points, dtype=np.float64)
  if points.size == 0:
    return np.zeros((0, 2))
  if points.ndim != 2 or points.shape[1] != 2:
    raise ValueError(f"expected points of shape [n, 2], got {points.shape}")
  steps = np.hypot(*np.diff(points, axis=0).T)
  # Repeated points would give np.interp a flat abscissa; they add no length.
  moving = np.r_[True, steps > 0]
  points, steps = points[moving], steps[steps > 0]
  arc = np.r_[0.0, np.cumsum(steps)]
  total = arc[-1]
  if total == 0:
    return points[:1].copy()
  count = max(1, math.ceil(total / spacing))
  at = np.arange(count + 1) * (total / count)
  out = np.stack([np.interp(at, arc, points[:, 0]), np.interp(at, arc, points[:, 1])], axis=1)
  out[0], out[-1] = points[0], points[-1]  # exact ends, whatever the rounding of `at`
  return out


def _normalize_raw(lines: list[np.ndarray], size: float) -> list[np.ndarray]:
  """Steps 1 and 2: min x = min y = 0, then one scale making the max `size`."""
  points = np.concatenate(lines, axis=0)
  low = points.min(axis=0)
  extent = float((points - low).max())
  factor = size / extent if extent > 0 else 1.0
  return [(line - low) * factor for line in lines]


def _round_dedupe(line: np.ndarray) -> np.ndarray:
  """Rounds to integers and merges consecutive points that became equal."""
  line = np.rint(line)
  if len(line) < 2:
    return line
  moved = np.r_[True, np.any(line[1:] != line[:-1], axis=1)]
  return line[moved]


def clip_stroke3(sketch: np.ndarray, max_len: int | None = defaults.MAX_SEQ_LEN,
                 long: str = "truncate") -> np.ndarray | None:
  """Applies the length limit to a stroke-3 sketch.

  'truncate' keeps rows [0, max_len) and lifts the pen after the last kept row
  (so the last stroke ends there); 'drop' returns None for a longer sketch.
  `max_len=None` means no limit.
  """
  if long not in LONG_POLICIES:
    raise ValueError(f"long must be one of {LONG_POLICIES}, got {long!r}")
  if max_len is not None and max_len < 1:
    raise ValueError(f"max_len must be >= 1 or None, got {max_len}")
  if max_len is None or len(sketch) <= max_len:
    return sketch
  if long == "drop":
    return None
  out = np.array(sketch[:max_len])
  out[-1, 2] = 1
  return out


def drawing_to_polylines(drawing: Any, fmt: str | None = None, epsilon: float | None = 2.0,
                         spacing: float = 1.0, size: float = SIMPLIFIED_SIZE,
                         resimplify: bool = False,
                         backend: str | None = None) -> list[np.ndarray]:
  """A drawing as integer-valued absolute polylines (float64 [n, 2] each).

  Raw drawings are aligned, scaled to `size`, resampled at `spacing` and
  simplified with `epsilon` (None or 0: no simplification), then rounded.
  Simplified drawings are taken as they are, and simplified with `epsilon`
  only if `resimplify`. Empty strokes are left out.
  """
  return _polylines(_stroke_arrays(drawing), fmt, epsilon, spacing, size, resimplify,
                    backend)


def _polylines(arrays: list[tuple[np.ndarray, int]], fmt: str | None,
               epsilon: float | None, spacing: float, size: float, resimplify: bool,
               backend: str | None) -> list[np.ndarray]:
  """`drawing_to_polylines` on already validated stroke arrays."""
  if fmt is None:
    fmt = _format_of(arrays)
  elif fmt not in FORMATS:
    raise ValueError(f"fmt must be one of {FORMATS} or None, got {fmt!r}")
  lines = [points for points, _ in arrays if len(points)]
  if not lines:
    return []
  if fmt == "raw":
    lines = _normalize_raw(lines, size)
    # What resampling would make, checked before it is made: a dense zigzag of a
    # few points per pixel can ask for billions.
    count = sum(float(np.hypot(*np.diff(line, axis=0).T).sum()) for line in lines) / spacing
    if count > limits.get("resampled_points"):
      raise NdjsonError(limits.exceeded("resampled_points", "resampling at "
                                        f"{spacing:g} px makes a point count that", round(count)))
    lines = [resample(line, spacing) for line in lines]
  if epsilon and (fmt == "raw" or resimplify):
    lines = simplify.simplify_polylines(lines, epsilon, backend=backend)
  if fmt == "raw":
    lines = [_round_dedupe(line) for line in lines]
  elif not all(np.array_equal(line, np.rint(line)) for line in lines):
    raise NdjsonError("a simplified drawing must hold integer coordinates")
  if max(float(np.abs(line).max()) for line in lines) > _MAX_ABS_COORD:
    raise NdjsonError(f"coordinates beyond +-{_MAX_ABS_COORD} do not fit int16 stroke-3")
  return lines


def drawing_to_stroke3(drawing: Any, fmt: str | None = None, epsilon: float | None = 2.0,
                       max_len: int | None = defaults.MAX_SEQ_LEN, long: str = "truncate",
                       spacing: float = 1.0, size: float = SIMPLIFIED_SIZE,
                       resimplify: bool = False,
                       backend: str | None = None) -> np.ndarray | None:
  """A Quick, Draw! drawing -> int16 stroke-3 [L, 3], or None.

  Args:
    drawing: the record's `drawing` (list of strokes, raw or simplified).
    fmt: 'raw', 'simplified', or None to detect it (`detect_format`).
    epsilon: RDP tolerance in pixels of the 0..`size` frame; None or 0 turns
      simplification off.
    max_len: the most stroke-3 rows kept (None: no limit).
    long: 'truncate' or 'drop' for drawings over `max_len` (`clip_stroke3`).
    spacing: raw resampling step in pixels.
    size: raw drawings are scaled so their largest coordinate is this.
    resimplify: also apply RDP to already simplified drawings.
    backend: RDP backend (`simplify.BACKENDS`); None means the default.

  Returns:
    The sketch, whose first row is the first point's offset from (0, 0); None
    when the drawing has no points or is longer than `max_len` under 'drop'.

  Raises:
    NdjsonError: the drawing is malformed.
  """
  if long not in LONG_POLICIES:
    raise ValueError(f"long must be one of {LONG_POLICIES}, got {long!r}")
  lines = drawing_to_polylines(drawing, fmt=fmt, epsilon=epsilon, spacing=spacing,
                               size=size, resimplify=resimplify, backend=backend)
  if not lines:
    return None
  return clip_stroke3(strokes.from_polylines(lines, dtype=np.int16), max_len, long)


# --------------------------------------------------------------------- files


def _source_name(source: Any) -> str:
  if isinstance(source, (str, os.PathLike)):
    return os.fspath(source)
  return str(getattr(source, "name", "<lines>"))


def _capped_readlines(f, cap: int) -> Iterator:
  while line := f.readline(cap + 1):
    yield line


def _iter_lines(source: Any, name: str) -> Iterator[tuple[int, str]]:
  """(1-based line number, text) for every line of a path or iterable of lines.

  Paths are read as UTF-8, through gzip when the file starts with the gzip
  magic bytes (`.ndjson.gz`), whatever its name. Anything else is iterated:
  an open text or binary file, or a sequence of str / bytes lines.
  """
  if isinstance(source, (str, os.PathLike)):
    with open(source, "rb") as probe:
      compressed = probe.read(2) == b"\x1f\x8b"
    # Binary lines, decoded one by one, so a decoding error names its own line.
    with (gzip.open if compressed else open)(source, "rb") as f:
      yield from _iter_lines(f, name)
    return
  cap = int(limits.get("ndjson_line_bytes"))
  # A file is read a capped line at a time: one line with no newline would
  # otherwise be read whole, however large.
  lines = _capped_readlines(source, cap) if hasattr(source, "readline") else iter(source)
  number = 0
  while True:
    try:
      line = next(lines)
    except StopIteration:
      return
    except (UnicodeDecodeError, OSError, EOFError, zlib.error) as e:
      # A broken gzip stream or bad UTF-8 in a text file object.
      raise NdjsonError(f"{name}:{number + 1}: cannot read the line ({e})") from None
    number += 1
    if len(line) > cap:
      raise NdjsonError(f"{name}:{number}: the line is longer than the limit of {cap:,} "
                        f"characters (set {limits.env_name('ndjson_line_bytes')} to allow more)")
    if isinstance(line, (bytes, bytearray)):
      try:
        line = bytes(line).decode("utf-8")
      except UnicodeDecodeError as e:
        raise NdjsonError(f"{name}:{number}: cannot read the line ({e})") from None
    yield number, line


def _parse_json(text: str, where: str) -> dict:
  """The record on one line: a JSON object with a `drawing` (not yet checked)."""
  try:
    # Without the newline, an unterminated record reports its own column.
    record = json.loads(text.rstrip("\r\n"))
  except json.JSONDecodeError as e:
    raise NdjsonError(f"{where}: bad JSON ({e.msg} at column {e.colno})") from None
  if not isinstance(record, dict):
    raise NdjsonError(f"{where}: expected a JSON object, got {type(record).__name__}")
  if "drawing" not in record:
    raise NdjsonError(f"{where}: record has no 'drawing' (keys: {sorted(record)})")
  return record


def _checked_arrays(record: dict, where: str) -> list[tuple[np.ndarray, int]]:
  try:
    return _stroke_arrays(record["drawing"])
  except NdjsonError as e:
    raise NdjsonError(f"{where}: {e}") from None


def parse_record(text: str, where: str = "<string>") -> dict:
  """Parses and checks one `.ndjson` line; errors are prefixed with `where`.

  The record must be a JSON object with a well-formed `drawing`.
  """
  record = _parse_json(text, where)
  _checked_arrays(record, where)
  return record


def iter_ndjson(source: Any) -> Iterator[tuple[int, dict]]:
  """Yields (line number, record) for each non-blank line of `source`.

  `source` is a path (`.ndjson` or gzip-compressed `.ndjson.gz`), an open file
  or any iterable of str / bytes lines. Line numbers are 1-based and count
  blank lines. Raises NdjsonError naming the source and line for bad JSON, a
  record that is not an object or lacks `drawing`, or a malformed drawing.
  """
  name = _source_name(source)
  for number, line in _iter_lines(source, name):
    if line.strip():
      yield number, parse_record(line, f"{name}:{number}")


def _as_sources(paths: Any) -> list:
  if isinstance(paths, (str, os.PathLike)) or hasattr(paths, "read"):
    return [paths]
  return list(paths)


def split_indices(count: int, valid_fraction: float, test_fraction: float,
                  seed: int = 0) -> dict[str, np.ndarray]:
  """A seeded random partition of range(count) into train / valid / test.

  valid and test get round(count * fraction) items each; each split's indices
  are sorted, so every split keeps the input order.
  """
  if not (0 <= valid_fraction <= 1 and 0 <= test_fraction <= 1
          and valid_fraction + test_fraction <= 1):
    raise ValueError(f"need 0 <= fractions and valid + test <= 1, got "
                     f"{valid_fraction} and {test_fraction}")
  order = np.random.default_rng(seed).permutation(count)
  n_valid = int(round(count * valid_fraction))
  n_test = min(int(round(count * test_fraction)), count - n_valid)
  return {"train": np.sort(order[n_valid + n_test:]),
          "valid": np.sort(order[:n_valid]),
          "test": np.sort(order[n_valid:n_valid + n_test])}


def _convert_lines(lines: Iterator[tuple[int, str]], name: str, counts: dict, sketches: list,
                   max_records: int | None, on_error: str, recognized_only: bool,
                   fmt: str | None, max_len: int | None, long: str, options: dict) -> None:
  """The body of `convert_ndjson` for one source; appends to `sketches`, `counts`."""
  while max_records is None or counts["records"] < max_records:
    try:
      number, line = next(lines)
    except StopIteration:
      break
    except NdjsonError:
      if on_error == "raise":
        raise
      counts["bad"] += 1
      break  # the rest of an unreadable file is lost
    if not line.strip():
      continue
    counts["records"] += 1
    where = f"{name}:{number}"
    try:
      record = _parse_json(line, where)
      if recognized_only and record.get("recognized") is not True:
        counts["unrecognized"] += 1
        continue
      arrays = _checked_arrays(record, where)
      record_fmt = fmt or _format_of(arrays)
      try:
        polylines = _polylines(arrays, record_fmt, **options)
      except NdjsonError as e:
        raise NdjsonError(f"{where}: {e}") from None
    except NdjsonError:
      if on_error == "raise":
        raise
      counts["bad"] += 1
      continue
    if not polylines:
      counts["empty"] += 1
      continue
    sketch = strokes.from_polylines(polylines, dtype=np.int16)
    clipped = clip_stroke3(sketch, max_len, long)
    if clipped is None:
      counts["dropped_long"] += 1
      continue
    counts["truncated"] += int(len(clipped) < len(sketch))
    counts[record_fmt] += 1
    sketches.append(clipped)


def convert_ndjson(paths: Any, out_path: str | os.PathLike,
                   valid_fraction: float = 0.025, test_fraction: float = 0.025,
                   seed: int = 0, recognized_only: bool = False,
                   max_records: int | None = None, on_error: str = "raise",
                   **options) -> dict[str, int]:
  """Converts `.ndjson` files into one sketch `.npz` (train / valid / test).

  Args:
    paths: a path (str or PathLike), an open file, or a sequence of paths and
      open files; an iterable of lines goes inside a list ([lines]), since a
      bare list of str is read as a list of paths.
    out_path: the `.npz` to write (`npz_io.save_npz`, atomically).
    valid_fraction, test_fraction: shares of the converted drawings held out.
    seed: seed of the random split (`split_indices`).
    recognized_only: keep only records with `"recognized": true`; records
      without the field count as unrecognised.
    max_records: stop after reading this many records (all files together).
    on_error: 'raise' on the first malformed line or drawing, or 'skip' it
      and count it under 'bad'.
    **options: `drawing_to_stroke3` options (fmt, epsilon, max_len, long,
      spacing, size, resimplify, backend).

  Returns:
    Counts: records read, converted, raw / simplified, unrecognized, empty,
    dropped_long, truncated, bad, and the train / valid / test sizes.
  """
  if on_error not in ("raise", "skip"):
    raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
  unknown = set(options) - {"fmt", "epsilon", "max_len", "long", "spacing", "size",
                            "resimplify", "backend"}
  if unknown:
    raise TypeError(f"unknown conversion option(s): {sorted(unknown)}")
  max_len = options.pop("max_len", defaults.MAX_SEQ_LEN)
  long = options.pop("long", "truncate")
  fmt = options.pop("fmt", None)
  options = {"epsilon": 2.0, "spacing": 1.0, "size": SIMPLIFIED_SIZE, "resimplify": False,
             "backend": None, **options}
  # Bad option values fail here, before any file is read.
  clip_stroke3(np.zeros((0, 3)), max_len, long)
  if fmt is not None and fmt not in FORMATS:
    raise ValueError(f"fmt must be one of {FORMATS} or None, got {fmt!r}")
  split_indices(0, valid_fraction, test_fraction)

  counts = dict.fromkeys(("records", "converted", "raw", "simplified", "unrecognized",
                          "empty", "dropped_long", "truncated", "bad"), 0)
  sources = _as_sources(paths)
  sketches = []
  for source in sources:
    name = _source_name(source)
    lines = _iter_lines(source, name)
    try:
      _convert_lines(lines, name, counts, sketches, max_records, on_error,
                     recognized_only, fmt, max_len, long, options)
    finally:
      lines.close()  # closes the file even when max_records stopped early
  counts["converted"] = len(sketches)
  if not sketches:
    raise NdjsonError(f"no drawings converted from {[_source_name(s) for s in sources]}: "
                      f"{counts}")
  parts = split_indices(len(sketches), valid_fraction, test_fraction, seed)
  npz_io.save_npz(out_path, {split: [sketches[i] for i in index]
                             for split, index in parts.items()})
  counts.update({split: len(index) for split, index in parts.items()})
  return counts
