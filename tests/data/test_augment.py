"""Augmentation against float64 loop references and its statistical contract."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sketch_rnn_tf.data import augment, strokes
from sketch_rnn_tf.testing import stroke3_arrays


def absolute_points(s3):
  """Loop reference: absolute position after each point."""
  x = y = 0.0
  out = []
  for dx, dy, _ in np.asarray(s3, dtype=np.float64).tolist():
    x, y = x + dx, y + dy
    out.append((x, y))
  return out


def test_random_scale_per_axis_range():
  rng = np.random.default_rng(1)
  s3 = np.array([[10, 20, 0], [-30, 40, 1]], np.int16)
  ratios = []
  for _ in range(2000):
    out = augment.random_scale(s3, 0.15, rng)
    np.testing.assert_array_equal(out[:, 2], s3[:, 2])
    rx, ry = out[0, 0] / 10, out[0, 1] / 20
    assert out[1, 0] / -30 == pytest.approx(rx, rel=1e-6)
    assert out[1, 1] / 40 == pytest.approx(ry, rel=1e-6)
    ratios.append((rx, ry))
  ratios = np.array(ratios)
  assert ratios.min() >= 0.85 - 1e-6 and ratios.max() <= 1.15 + 1e-6
  assert abs(np.corrcoef(ratios.T)[0, 1]) < 0.1  # x and y drawn independently
  assert ratios.std(axis=0) == pytest.approx([0.3 / np.sqrt(12)] * 2, rel=0.1)


def test_droppable_points_hand_case():
  # Stroke A: points 0..4 (pen up at 4); stroke B: points 5..6.
  pen = [0, 0, 0, 0, 1, 0, 1]
  s3 = np.array([[1, 0, p] for p in pen])
  assert augment.droppable_points(s3).tolist() == [False, True, True, True, False, False, False]


@settings(max_examples=200, deadline=None)
@given(stroke3_arrays(60), st.floats(0.0, 1.0), st.integers(0, 2**32 - 1))
def test_drop_points_keeps_kept_points_in_place(s3, prob, seed):
  s3 = s3.copy()
  s3[:, 0] = np.abs(s3[:, 0]) + 1  # x strictly increases: positions identify points
  out = augment.drop_points(s3, prob, np.random.default_rng(seed), rule="interior")
  ref = absolute_points(s3)
  got = absolute_points(out)
  # Every output point is an input point, in order, at the same absolute position.
  pos = 0
  kept_input = []
  for g in got:
    while ref[pos] != pytest.approx(g, abs=1e-3):
      pos += 1
    kept_input.append(pos)
    pos += 1
  # Never dropped: stroke starts and pen-lifting points.
  droppable = augment.droppable_points(s3)
  assert set(np.flatnonzero(~droppable)) <= set(kept_input)
  np.testing.assert_array_equal(out[:, 2], s3[kept_input, 2])
  # The sum of offsets (the end point) is unchanged.
  np.testing.assert_allclose(out[:, 0:2].astype(np.float64).sum(0), s3[:, 0:2].sum(0), atol=1e-3)


def test_drop_rate_matches_probability():
  rng = np.random.default_rng(0)
  s3 = np.array([[1, 1, 0]] * 99 + [[1, 1, 1]], np.int16)
  n_droppable = augment.droppable_points(s3).sum()
  dropped = [len(s3) - len(augment.drop_points(s3, 0.1, rng, "interior")) for _ in range(2000)]
  assert np.mean(dropped) / n_droppable == pytest.approx(0.1, abs=0.005)


def reference_loop_drop(s3, prob, u):
  """The original code's point dropping as its loop runs, with the uniform draws `u`:
  a count of points since the last pen lift, the dropped offset added to the last
  kept point (which the result list holds by reference)."""
  result = []
  prev = [0, 0, 1]
  count = 0
  last = None
  for i, (dx, dy, p) in enumerate(np.asarray(s3, np.float64).tolist()):
    count = 0 if (p == 1 or prev[2] == 1) else count + 1
    if p == 0 and prev[2] == 0 and count > 2 and u[i] < prob:
      last[0] += dx
      last[1] += dy
    else:
      last = [dx, dy, p]
      prev = list(last)
      result.append(last)
  return np.array(result)


def test_reference_droppable_points_hand_case():
  # Stroke A: points 0..6 (pen up at 6); stroke B: points 7..11 (the sketch's end).
  pen = [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
  s3 = np.array([[1, 0, p] for p in pen])
  assert np.flatnonzero(augment.reference_droppable_points(s3)).tolist() == [3, 4, 5, 10]


@settings(max_examples=300, deadline=None)
@given(stroke3_arrays(80), st.floats(0.0, 1.0), st.integers(0, 2**32 - 1))
def test_reference_rule_equals_the_original_loop(s3, prob, seed):
  u = np.random.default_rng(seed).random(len(s3))
  want = reference_loop_drop(s3, prob, u) if len(s3) >= 3 else np.asarray(s3, np.float64)
  got = augment.drop_points(s3, prob, np.random.default_rng(seed), rule="reference")
  assert got.shape == want.shape
  np.testing.assert_allclose(got, want, atol=1e-3)


def test_reference_rule_drops_the_probability_of_its_candidates():
  rng = np.random.default_rng(0)
  s3 = np.array(([[1, 1, 0]] * 9 + [[1, 1, 1]]) * 10, np.int16)  # 10 strokes of 10
  assert augment.reference_droppable_points(s3).sum() == 10 * 6
  dropped = [len(s3) - len(augment.drop_points(s3, 0.1, rng)) for _ in range(2000)]
  assert np.mean(dropped) / 60 == pytest.approx(0.1, abs=0.005)


def test_zero_augmentation_is_identity():
  s3 = np.array([[1, 2, 0], [3, 4, 0], [5, 6, 0], [7, 8, 1]], np.int16)
  out = augment.augment(s3, np.random.default_rng(0), 0.0, 0.0)
  np.testing.assert_array_equal(out, s3.astype(np.float32))


def test_augment_on_real_sketches(sheep_path):
  from sketch_rnn_tf.data import npz_io
  sketches = npz_io.load_npz(sheep_path)["valid"]
  rng = np.random.default_rng(3)
  for s3 in sketches[:100]:
    out = augment.augment(strokes.normalize(s3, 18.5), rng, 0.15, 0.1)
    assert len(out) <= len(s3)
    assert out[:, 2].sum() == s3[:, 2].sum()  # same number of strokes
