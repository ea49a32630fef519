"""What a model draws, measured without a learned feature extractor.

Reconstructions, by the symmetric Chamfer distance between point sets (as
CoSE, Aksan et al., NeurIPS 2020, judges vector sketches): with A, B the
absolute positions (pixels) of every point of two stroke-3 sketches, both
starting at the origin,

    d(A, B) = 1/2 (mean_{a in A} min_{b in B} |a - b| + mean_{b in B} min_{a in A} |b - a|),

Euclidean distances, so the figure is in pixels. An empty sketch (a decoder
that ended at once) is the single point where the pen starts, the origin: it
scores the mean distance of the other's points from the start, not infinity.

Free samples, by how far the distributions of simple per-sketch statistics
(`SKETCH_STATS`: points, strokes, bounding-box width and height) lie from the
test set's: the two-sample Kolmogorov-Smirnov statistic of each, D = sup_x
|F_1(x) - F_2(x)| (0: the same empirical distribution, 1: disjoint).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

SKETCH_STATS = ("points", "strokes", "width", "height")
_CHUNK = 1 << 20    # pair distances computed at most this many at a time


def absolute_points(sketch: np.ndarray) -> np.ndarray:
  """[N, 2] float64 positions after each offset of a stroke-3 sketch ([[0, 0]] if empty)."""
  s = np.asarray(sketch, np.float64).reshape(-1, 3)
  return np.cumsum(s[:, 0:2], axis=0) if len(s) else np.zeros((1, 2))


def _nearest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """For each row of a, the distance to its nearest row of b."""
  out = np.empty(len(a))
  rows = max(1, _CHUNK // max(len(b), 1))
  for start in range(0, len(a), rows):
    diff = a[start:start + rows, None, :] - b[None, :, :]
    out[start:start + rows] = np.sqrt((diff * diff).sum(-1)).min(axis=1)
  return out


def chamfer(a: np.ndarray, b: np.ndarray) -> float:
  """Symmetric Chamfer distance (module docstring) of two stroke-3 sketches."""
  pa, pb = absolute_points(a), absolute_points(b)
  return 0.5 * float(_nearest(pa, pb).mean() + _nearest(pb, pa).mean())


def chamfer_pairs(inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray]) -> dict:
  """Mean Chamfer distance of each output to its own input, and to another input.

  "Another" is input (i + 1) mod n: a reconstruction that ignored its input
  scores about the same on both; one that carries it scores lower on its own.
  """
  n = len(inputs)
  if n < 2 or len(outputs) != n:
    raise ValueError(f"need as many outputs as inputs, at least 2 (got {n}, {len(outputs)})")
  own = [chamfer(inputs[i], outputs[i]) for i in range(n)]
  other = [chamfer(inputs[(i + 1) % n], outputs[i]) for i in range(n)]
  return {"chamfer_own": float(np.mean(own)), "chamfer_other": float(np.mean(other)),
          "empty": sum(len(o) == 0 for o in outputs)}


def sketch_stats(sketch: np.ndarray) -> dict:
  """The per-sketch statistics of SKETCH_STATS for one stroke-3 sketch (pixels)."""
  s = np.asarray(sketch, np.float64)
  if len(s) == 0:
    return {"points": 0, "strokes": 0, "width": 0.0, "height": 0.0}
  p = np.vstack([[0.0, 0.0], absolute_points(s)])
  lifts = int((s[:, 2] == 1).sum())
  return {"points": len(s), "strokes": lifts + (0 if s[-1, 2] == 1 else 1),
          "width": float(np.ptp(p[:, 0])), "height": float(np.ptp(p[:, 1]))}


def ks_statistic(x: Sequence[float], y: Sequence[float]) -> float:
  """Two-sample Kolmogorov-Smirnov statistic sup |F_x - F_y| of the empirical CDFs."""
  x, y = np.sort(np.asarray(x, np.float64)), np.sort(np.asarray(y, np.float64))
  if len(x) == 0 or len(y) == 0:
    raise ValueError("both samples must be non-empty")
  grid = np.concatenate([x, y])
  fx = np.searchsorted(x, grid, side="right") / len(x)
  fy = np.searchsorted(y, grid, side="right") / len(y)
  return float(np.abs(fx - fy).max())


def stats_distance(samples: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> dict:
  """KS statistic per SKETCH_STATS between two sets of sketches, and their mean."""
  a = [sketch_stats(s) for s in samples]
  b = [sketch_stats(s) for s in reference]
  out = {f"ks_{k}": ks_statistic([s[k] for s in a], [s[k] for s in b]) for k in SKETCH_STATS}
  out["ks_mean"] = float(np.mean([out[f"ks_{k}"] for k in SKETCH_STATS]))
  return out
