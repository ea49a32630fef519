"""Chamfer distance, sketch statistics and the KS statistic on hand-made sets with known answers."""

import numpy as np
import pytest

from sketch_rnn_tf.evaluation import metrics


def s3(points, pens=None):
  """Stroke-3 offsets from absolute points (starting at the origin)."""
  p = np.asarray(points, np.float64)
  d = np.diff(np.vstack([[0, 0], p]), axis=0)
  pens = pens if pens is not None else [0] * (len(p) - 1) + [1]
  return np.column_stack([d, pens])


def test_chamfer_known_values():
  a = s3([(0, 0), (10, 0)])
  assert metrics.chamfer(a, a) == 0.0
  assert metrics.chamfer(s3([(0, 0)]), s3([(3, 4)])) == pytest.approx(5.0)
  # a -> b: nearest distances 0 and 10 (mean 5); b -> a: 0. Half the sum: 2.5.
  assert metrics.chamfer(a, s3([(0, 0)])) == pytest.approx(2.5)
  # A square against the same square shifted by (1, 0): every nearest distance is 1.
  sq = [(0, 0), (0, 10), (10, 10), (10, 0)]
  assert metrics.chamfer(s3(sq), s3([(x + 1, y) for x, y in sq])) == pytest.approx(1.0)
  # Nothing drawn is the pen's start, the origin: points (0, 0) and (10, 0) -> 0 and 10.
  assert metrics.chamfer(a, np.zeros((0, 3))) == pytest.approx(2.5)


def test_chamfer_matches_brute_force_on_random_sets():
  rng = np.random.default_rng(0)
  a, b = rng.normal(0, 30, (57, 2)), rng.normal(5, 30, (31, 2))
  d = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))
  want = 0.5 * (d.min(1).mean() + d.min(0).mean())
  assert metrics.chamfer(s3(a), s3(b)) == pytest.approx(want, rel=1e-12)


def test_chamfer_pairs_separates_own_from_other():
  inputs = [s3([(0, 0), (10, 0)]), s3([(0, 0), (0, 50)])]
  outputs = [s3([(0, 0), (11, 0)]), s3([(0, 0), (0, 49)])]
  r = metrics.chamfer_pairs(inputs, outputs)
  assert r["chamfer_own"] == pytest.approx(0.5)
  # output 0 (a horizontal line) against input 1 (a vertical one), and vice versa.
  want = 0.5 * (metrics.chamfer(inputs[1], outputs[0]) + metrics.chamfer(inputs[0], outputs[1]))
  assert r["chamfer_other"] == pytest.approx(want) and r["chamfer_other"] > 10
  with pytest.raises(ValueError):
    metrics.chamfer_pairs(inputs[:1], outputs[:1])


def test_sketch_stats_hand_case():
  # Two strokes: (0,0)->(10,0) lift, then (10,5)->(4,20) (unfinished: pen still down).
  sketch = s3([(0, 0), (10, 0), (10, 5), (4, 20)], pens=[0, 1, 0, 0])
  st = metrics.sketch_stats(sketch)
  assert st == {"points": 4, "strokes": 2, "width": 10.0, "height": 20.0}
  assert metrics.sketch_stats(np.zeros((0, 3)))["points"] == 0


def test_ks_statistic_known_values():
  assert metrics.ks_statistic([1, 2, 3], [1, 2, 3]) == 0.0
  assert metrics.ks_statistic([1, 2, 3], [4, 5]) == 1.0
  assert metrics.ks_statistic([1, 2, 3, 4], [3, 4, 5, 6]) == pytest.approx(0.5)
  with pytest.raises(ValueError):
    metrics.ks_statistic([], [1])


def test_stats_distance_of_a_set_to_itself_is_zero_and_to_a_scaled_copy_is_not():
  rng = np.random.default_rng(1)
  sketches = [s3(rng.normal(0, 20, (rng.integers(5, 40), 2))) for _ in range(50)]
  assert metrics.stats_distance(sketches, sketches)["ks_mean"] == 0.0
  big = [np.column_stack([s[:, :2] * 3, s[:, 2]]) for s in sketches]
  d = metrics.stats_distance(big, sketches)
  assert d["ks_points"] == 0.0 and d["ks_strokes"] == 0.0 and d["ks_width"] > 0.5
