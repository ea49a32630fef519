"""Stroke formats used by Sketch-RNN.

stroke-3: rows (dx, dy, p) of offsets from the previous point; p = 1 means the
  pen is lifted after this point (the point ends a stroke). The first row is the
  offset from the origin (0, 0).
stroke-5: rows (dx, dy, p1, p2, p3) with a one-hot pen state: p1 = pen down
  after the point, p2 = pen lifted, p3 = end of sketch. Padding rows are the end
  token (0, 0, 0, 0, 1); decoders start from the start token (0, 0, 1, 0, 0).
polylines: the absolute points of each stroke, one [n, 2] array per stroke.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

START_TOKEN = np.array([0, 0, 1, 0, 0], dtype=np.float32)
END_TOKEN = np.array([0, 0, 0, 0, 1], dtype=np.float32)


def to_stroke5(strokes: np.ndarray, length: int | None = None,
               start_token: bool = False) -> np.ndarray:
  """stroke-3 [L, 3] -> stroke-5 float32 [length (+1), 5].

  Rows past the sketch are end tokens. `length` defaults to L + 1, so the result
  always ends with at least one end token; a `length` < L is an error rather than
  a silent truncation. With `start_token`, a start row is prepended (the result
  then has length + 1 rows), as the decoder's teacher-forced input expects.
  """
  strokes = np.asarray(strokes)
  n = len(strokes)
  if length is None:
    length = n + 1
  if length < n:
    raise ValueError(f"sketch has {n} points, more than the length {length}")
  out = np.zeros((length, 5), dtype=np.float32)
  out[:n, 0:2] = strokes[:, 0:2]
  out[:n, 3] = strokes[:, 2]
  out[:n, 2] = 1 - strokes[:, 2]
  out[n:, 4] = 1
  if start_token:
    out = np.concatenate([START_TOKEN[None], out], axis=0)
  return out


def end_index(stroke5: np.ndarray) -> int:
  """Index of the first end-of-sketch row (p3 set), or len(stroke5) if none."""
  ends = np.flatnonzero(np.asarray(stroke5)[:, 4] > 0)
  return int(ends[0]) if len(ends) else len(stroke5)


def to_stroke3(stroke5: np.ndarray) -> np.ndarray:
  """stroke-5 -> stroke-3 float32, cut at the first end-of-sketch row.

  The pen value is p2 (lifted). The input must not start with a start token;
  slice it off first (`s5[1:]`).
  """
  stroke5 = np.asarray(stroke5)
  n = end_index(stroke5)
  out = np.zeros((n, 3), dtype=np.float32)
  out[:, 0:2] = stroke5[:n, 0:2]
  out[:, 2] = stroke5[:n, 3]
  return out


def to_polylines(strokes: np.ndarray) -> list[np.ndarray]:
  """stroke-3 -> list of absolute polylines (float64 [n, 2] each)."""
  strokes = np.asarray(strokes)
  if len(strokes) == 0:
    return []
  points = np.cumsum(strokes[:, 0:2].astype(np.float64), axis=0)
  ends = np.flatnonzero(strokes[:, 2] > 0) + 1
  if len(ends) == 0 or ends[-1] != len(strokes):
    ends = np.append(ends, len(strokes))  # an unfinished last stroke
  return [points[a:b] for a, b in zip(np.r_[0, ends[:-1]], ends)]


def from_polylines(lines: Sequence[np.ndarray], dtype=np.float32) -> np.ndarray:
  """List of absolute polylines -> stroke-3 (the inverse of `to_polylines`).

  The first row is the first point's offset from the origin; the pen is lifted
  after the last point of every polyline. Empty polylines are skipped.
  """
  lines = [np.asarray(l, dtype=np.float64).reshape(-1, 2) for l in lines]
  lines = [l for l in lines if len(l)]
  if not lines:
    return np.zeros((0, 3), dtype=dtype)
  points = np.concatenate(lines, axis=0)
  if np.issubdtype(dtype, np.integer):
    # Round positions, not offsets: rounded offsets would drift along the sketch.
    points = np.rint(points)
  pen = np.concatenate([np.r_[np.zeros(len(l) - 1), 1.0] for l in lines])
  offsets = np.diff(points, axis=0, prepend=np.zeros((1, 2)))
  return np.concatenate([offsets, pen[:, None]], axis=1).astype(dtype)


def bounds(strokes: np.ndarray) -> tuple[float, float, float, float]:
  """(min_x, max_x, min_y, max_y) of the pen path, starting at the origin."""
  strokes = np.asarray(strokes)
  points = np.cumsum(strokes[:, 0:2].astype(np.float64), axis=0)
  points = np.concatenate([np.zeros((1, 2)), points], axis=0)
  lo, hi = points.min(axis=0), points.max(axis=0)
  return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def scale_factor(sketches: Iterable[np.ndarray]) -> float:
  """Std of all dx and dy values together (the paper's normalising factor).

  Computed in float64 over the training split; divide offsets by it.
  """
  offsets = [np.asarray(s)[:, 0:2].astype(np.float64).ravel() for s in sketches]
  if not offsets:
    raise ValueError("cannot compute a scale factor from no sketches")
  values = np.concatenate(offsets)
  if values.size == 0:
    raise ValueError("cannot compute a scale factor from empty sketches")
  return float(np.std(values))


def normalize(strokes: np.ndarray, factor: float) -> np.ndarray:
  """Divides the offsets by `factor`; returns float32 stroke-3."""
  out = np.array(strokes, dtype=np.float32)
  out[:, 0:2] /= factor
  return out


def denormalize(strokes: np.ndarray, factor: float) -> np.ndarray:
  """Multiplies the offsets by `factor` (undoes `normalize`)."""
  out = np.array(strokes, dtype=np.float32)
  out[:, 0:2] *= factor
  return out
