"""Ramer-Douglas-Peucker (RDP) simplification of absolute polylines.

Given points p_0 .. p_{n-1} and a tolerance epsilon (pixels), RDP keeps p_0 and
p_{n-1}, finds the interior point p_k farthest from the chord through them,

  d(p) = |cross(p_{n-1} - p_0, p_0 - p)| / |p_{n-1} - p_0|    (p_0 != p_{n-1})
  d(p) = |p - p_0|                                            (p_0 == p_{n-1})

and, if d(p_k) > epsilon, keeps p_k and recurses on p_0..p_k and p_k..p_{n-1};
otherwise every interior point is dropped. The result is a subsequence of the
input that stays within epsilon of it (in the distance above).

Two details decide the exact output, and implementations disagree on both:
- distance: `d` is to the infinite line through the chord's ends, not to the
  segment between them. A point that projects outside the segment (a stroke
  that overshoots and comes back along the same line) can be far from the
  segment yet close to the line, and is then dropped.
- ties: the first farthest point (lowest k) is the split point.
This module follows the `rdp` PyPI package on both, which is the reference.

Backends:
- "numpy": the implementation here. It reproduces `rdp.rdp` point for point
  (the same float64 operations in the same order: cross product as
  a0 * b1 - a1 * b0, norms as sqrt(x * x + y * y), first maximum wins), but
  advances every pending segment of every polyline together, one vectorised
  pass per recursion level, instead of one Python call per point.
- "rdp": the `rdp` package itself (pure Python, one numpy call per point).
- "simplification": `simplification.cutil.simplify_coords` (Rust `geo`). It
  measures distance to the segment, breaks ties towards the last farthest
  point and returns the input unchanged for epsilon <= 0, so its output
  differs from `rdp` on real sketches (see benchmarks/rdp_throughput.py); it
  is offered for comparison only.

DEFAULT_BACKEND was chosen by measurement (benchmarks/rdp_throughput.py on
aaron_sheep polylines, as stored and resampled at 1 pixel): "numpy" gives
output identical to "rdp" on every polyline at several hundred times its
throughput, while "simplification", though faster still, disagrees with "rdp"
on a sizeable share of polylines.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

BACKENDS = ("numpy", "rdp", "simplification")
DEFAULT_BACKEND = "numpy"


def _check_epsilon(epsilon: float) -> float:
  epsilon = float(epsilon)
  # A negative tolerance splits at every point forever in `rdp` (dmax = 0 is
  # always > epsilon), so it is refused for all backends alike.
  if not epsilon >= 0:
    raise ValueError(f"epsilon must be a number >= 0, got {epsilon}")
  return epsilon


def _as_points(points, check_finite: bool = True) -> np.ndarray:
  points = np.asarray(points, dtype=np.float64)
  if points.size == 0:
    points = points.reshape(0, 2)
  if points.ndim != 2 or points.shape[1] != 2:
    raise ValueError(f"expected points of shape [n, 2], got {points.shape}")
  if check_finite and not np.isfinite(points).all():
    raise ValueError("points must be finite")
  return points


def _rdp_keep(points: np.ndarray, starts: np.ndarray, ends: np.ndarray,
              epsilon: float) -> np.ndarray:
  """RDP over polylines stored back to back in `points`; returns the keep mask.

  Polyline j occupies rows starts[j]..ends[j] (inclusive). All pending
  segments [a, b] of all polylines are handled together each round: distances
  for every interior point, the first maximum per segment, then the segments
  whose maximum exceeds epsilon are split at it. The arithmetic mirrors
  `rdp.pldist` operation by operation, so the kept points are the same. (rdp's
  norms go through `ndarray.dot`, i.e. BLAS; for two elements that is
  x * x + y * y rounded the same way here, which the tests check against the
  package on random input.)
  """
  x = points[:, 0]
  y = points[:, 1]
  keep = np.zeros(len(points), dtype=bool)
  keep[starts] = True
  keep[ends] = True
  a = np.asarray(starts, dtype=np.int64)
  b = np.asarray(ends, dtype=np.int64)
  while True:
    inner = b - a - 1
    live = inner > 0
    a, b, inner = a[live], b[live], inner[live]
    if not len(a):
      return keep
    first = np.cumsum(inner) - inner  # offset of each segment's first interior point
    seg = np.repeat(np.arange(len(a)), inner)
    idx = np.arange(len(seg)) - first[seg] + a[seg] + 1
    sx, sy = x[a][seg], y[a][seg]
    ux, uy = (x[b] - x[a]), (y[b] - y[a])
    qx, qy = x[idx], y[idx]
    # rdp: |norm(cross(end - start, start - p))| / norm(end - start), where the
    # norm of a scalar c is sqrt(c * c) (not |c|: they differ on underflow).
    c = ux[seg] * (sy - qy) - uy[seg] * (sx - qx)
    with np.errstate(divide="ignore", invalid="ignore"):
      d = np.sqrt(c * c) / np.sqrt(ux * ux + uy * uy)[seg]
    closed = ((ux == 0) & (uy == 0))[seg]
    if closed.any():  # rdp: distance to the start point when start == end
      vx, vy = qx[closed] - sx[closed], qy[closed] - sy[closed]
      d[closed] = np.sqrt(vx * vx + vy * vy)
    # rdp never picks a NaN distance (`d > dmax` is false); 0 never splits.
    d[np.isnan(d)] = 0.0
    dmax = np.maximum.reduceat(d, first)
    split = dmax > epsilon
    hits = np.flatnonzero((d == dmax[seg]) & split[seg])
    if not len(hits):
      return keep
    # The first farthest point of each split segment (rdp's `d > dmax` scan).
    hit_seg = seg[hits]
    hits = hits[np.r_[True, hit_seg[1:] != hit_seg[:-1]]]
    mids = idx[hits]
    parents = seg[hits]
    keep[mids] = True
    a = np.concatenate([a[parents], mids])
    b = np.concatenate([mids, b[parents]])


def rdp_mask(points, epsilon: float = 2.0) -> np.ndarray:
  """Boolean mask of the points RDP keeps (the "numpy" backend), shape [n]."""
  points = _as_points(points)
  epsilon = _check_epsilon(epsilon)
  if len(points) == 0:
    return np.zeros(0, dtype=bool)
  return _rdp_keep(points, np.array([0]), np.array([len(points) - 1]), epsilon)


def _simplify_rdp_package(points: np.ndarray, epsilon: float) -> np.ndarray:
  import rdp  # pylint: disable=import-outside-toplevel
  with warnings.catch_warnings():
    # numpy 2 deprecates np.cross on 2-vectors, which rdp.pldist calls per point.
    warnings.simplefilter("ignore", DeprecationWarning)
    return np.asarray(rdp.rdp(points, epsilon=epsilon), dtype=np.float64).reshape(-1, 2)


def _simplify_simplification(points: np.ndarray, epsilon: float) -> np.ndarray:
  from simplification.cutil import simplify_coords  # pylint: disable=import-outside-toplevel
  if len(points) == 0:
    return points.copy()
  out = simplify_coords(np.ascontiguousarray(points), epsilon)
  return np.asarray(out, dtype=np.float64).reshape(-1, 2)


def _backend(backend: str | None) -> str:
  backend = DEFAULT_BACKEND if backend is None else backend
  if backend not in BACKENDS:
    raise ValueError(f"unknown RDP backend {backend!r}; expected one of {BACKENDS}")
  return backend


def rdp_simplify(points, epsilon: float = 2.0, backend: str | None = None) -> np.ndarray:
  """Simplifies one absolute polyline; returns float64 [m, 2], m <= n.

  Args:
    points: [n, 2] absolute points (any real dtype; computed in float64).
    epsilon: tolerance in the points' units (pixels), >= 0.
    backend: "numpy", "rdp" or "simplification"; None means DEFAULT_BACKEND.
  """
  backend = _backend(backend)
  points = _as_points(points)
  epsilon = _check_epsilon(epsilon)
  if backend == "rdp":
    return _simplify_rdp_package(points, epsilon)
  if backend == "simplification":
    return _simplify_simplification(points, epsilon)
  return points[rdp_mask(points, epsilon)]


def simplify_polylines(lines: Sequence, epsilon: float = 2.0,
                       backend: str | None = None) -> list[np.ndarray]:
  """Simplifies each polyline independently; returns a list of float64 [m, 2].

  With the "numpy" backend all polylines are processed in one batch, which is
  what makes it fast on a drawing's many short strokes.
  """
  backend = _backend(backend)
  epsilon = _check_epsilon(epsilon)
  if backend != "numpy":
    return [rdp_simplify(line, epsilon, backend) for line in lines]
  lines = [_as_points(line, check_finite=False) for line in lines]
  lengths = np.array([len(line) for line in lines], dtype=np.int64)
  present = lengths > 0
  if not present.any():
    return [line.copy() for line in lines]
  # Empty polylines add no rows, so the cumulative lengths still index `points`.
  points = np.concatenate(lines, axis=0)
  if not np.isfinite(points).all():
    raise ValueError("points must be finite")
  ends = np.cumsum(lengths[present]) - 1
  starts = ends - lengths[present] + 1
  keep = _rdp_keep(points, starts, ends, epsilon)
  stops = np.cumsum(lengths)
  return [points[lo:hi][keep[lo:hi]] for lo, hi in zip(stops - lengths, stops)]
