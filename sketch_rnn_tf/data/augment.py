"""Training-time augmentation of stroke-3 sketches, as in Sketch-RNN's training.

- Random scale: dx *= a, dy *= b with a, b ~ U[1 - f, 1 + f] drawn per sketch
  and per axis (the reference's `random_scale_factor`, default 0.15).
- Point dropping: each interior pen-down vertex of a stroke (neither the
  stroke's first point nor its last, pen-lifting one) is removed with
  probability p (the reference's `augment_stroke_prob`, default 0.10). The
  removed point's offset is added to the next kept point, so every kept point
  keeps its absolute position and the sum of offsets is unchanged. (The
  reference code also spares each stroke's first three points; here any
  interior vertex may go, which drops the same fraction from long strokes and
  is vectorised.)
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


def drop_points(strokes: np.ndarray, prob: float,
                rng: np.random.Generator) -> np.ndarray:
  """Removes interior pen-down vertices with probability `prob` each."""
  strokes = np.asarray(strokes)
  if prob <= 0 or len(strokes) < 3:
    return np.array(strokes, dtype=np.float32)
  drop = droppable_points(strokes) & (rng.random(len(strokes)) < prob)
  if not drop.any():
    return np.array(strokes, dtype=np.float32)
  # Absolute positions in float64 so the kept points land exactly where they were.
  points = np.cumsum(strokes[:, 0:2].astype(np.float64), axis=0)
  keep = ~drop
  kept = points[keep]
  out = np.empty((len(kept), 3), dtype=np.float32)
  out[:, 0:2] = np.diff(kept, axis=0, prepend=np.zeros((1, 2)))
  out[:, 2] = strokes[keep, 2]
  return out


def augment(strokes: np.ndarray, rng: np.random.Generator, scale_factor: float = 0.0,
            drop_prob: float = 0.0) -> np.ndarray:
  """Random scale, then point dropping (the reference's order)."""
  return drop_points(random_scale(strokes, scale_factor, rng), drop_prob, rng)
