"""Training-time augmentation of stroke-3 sketches, as in Sketch-RNN's training.

- Random scale: dx *= a, dy *= b with a, b ~ U[1 - f, 1 + f] drawn per sketch
  and per axis (the reference's `random_scale_factor`, default 0.15).
- Point dropping (`augment_stroke_prob` p, default 0.10), two rules:
  "reference" (the original code's): a pen-down point at index >= 3 of its
  stroke (counting from the point after a pen lift) whose predecessor is pen
  down is dropped with probability p, and its offset is added to the last
  kept point, which so moves onto the dropped one: in positions, a run of
  drops removes the vertices just before it and keeps its last. Each stroke's
  first three points, and all of a stroke of four points or fewer, survive.
  "interior": any interior pen-down vertex (neither a stroke's first point nor
  its pen-lifting last) is removed with probability p and the next kept point
  absorbs its offset, so every kept point keeps its absolute position.
  Either way the sum of offsets is unchanged.
"""
from __future__ import annotations

import numpy as np


def random_scale(strokes: np.ndarray, factor: float,
                 rng: np.random.Generator) -> np.ndarray:
  """Scales dx and dy by independent factors drawn from U[1 - f, 1 + f]."""
  out = np.array(strokes, dtype=np.float32)
  if factor > 0:
    scale = rng.uniform(1.0 - factor, 1.0 + factor, size=2)
    out[:, 0:2] *= scale.astype(np.float32)
  return out


def droppable_points(strokes: np.ndarray) -> np.ndarray:
  """Mask of interior pen-down vertices: pen down here and after the previous point.

  The sketch's last point is never droppable, even when the pen is still down
  there, since it fixes where the drawing ends.
  """
  pen = np.asarray(strokes)[:, 2]
  mask = np.zeros(len(pen), dtype=bool)
  mask[1:-1] = (pen[1:-1] == 0) & (pen[:-2] == 0)
  return mask


def reference_droppable_points(strokes: np.ndarray) -> np.ndarray:
  """The original code's candidates: pen down here and before, index >= 3 in the stroke.

  Its loop counts points since the last pen lift (the count restarts at the
  pen-lifting point and at the one after it) and asks for a count above 2.
  """
  pen = np.asarray(strokes)[:, 2]
  n = len(pen)
  lifted_before = np.concatenate([[True], pen[:-1] == 1])   # a stroke starts here
  starts = np.flatnonzero(lifted_before)
  index_in_stroke = np.arange(n) - starts[np.searchsorted(starts, np.arange(n), "right") - 1]
  return (pen == 0) & ~lifted_before & (index_in_stroke >= 3)


DROP_RULES = ("reference", "interior")


def drop_points(strokes: np.ndarray, prob: float, rng: np.random.Generator,
                rule: str = "reference") -> np.ndarray:
  """Removes points with probability `prob` each, by `rule` (module docstring)."""
  if rule not in DROP_RULES:
    raise ValueError(f"drop rule must be one of {DROP_RULES}, not {rule!r}")
  strokes = np.asarray(strokes)
  if prob <= 0 or len(strokes) < 3:
    return np.array(strokes, dtype=np.float32)
  candidates = (reference_droppable_points(strokes) if rule == "reference"
                else droppable_points(strokes))
  drop = candidates & (rng.random(len(strokes)) < prob)
  if not drop.any():
    return np.array(strokes, dtype=np.float32)
  if rule == "reference":
    # Each kept point takes the offsets of the dropped run after it; its pen stays.
    kept = np.flatnonzero(~drop)
    out = np.empty((len(kept), 3), dtype=np.float32)
    out[:, 0:2] = np.add.reduceat(strokes[:, 0:2].astype(np.float64), kept, axis=0)
    out[:, 2] = strokes[kept, 2]
    return out
  # Absolute positions in float64 so the kept points land exactly where they were.
  points = np.cumsum(strokes[:, 0:2].astype(np.float64), axis=0)
  keep = ~drop
  kept = points[keep]
  out = np.empty((len(kept), 3), dtype=np.float32)
  out[:, 0:2] = np.diff(kept, axis=0, prepend=np.zeros((1, 2)))
  out[:, 2] = strokes[keep, 2]
  return out


def augment(strokes: np.ndarray, rng: np.random.Generator, scale_factor: float = 0.0,
            drop_prob: float = 0.0, drop_rule: str = "reference") -> np.ndarray:
  """Random scale, then point dropping (the reference's order)."""
  return drop_points(random_scale(strokes, scale_factor, rng), drop_prob, rng, drop_rule)
