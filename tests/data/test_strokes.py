"""Stroke formats against hand-worked cases and loop-based references."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from sketch_rnn_tf.data import strokes
from sketch_rnn_tf.testing import stroke3_arrays

# An L-shape then a dot: offsets (dx, dy, pen lifted after the point).
S3 = np.array([[1, 2, 0], [3, 0, 0], [0, 4, 1], [5, 5, 1]], dtype=np.int16)


def test_to_stroke5_hand_case():
  s5 = strokes.to_stroke5(S3, 6)
  expected = np.array([
      [1, 2, 1, 0, 0],
      [3, 0, 1, 0, 0],
      [0, 4, 0, 1, 0],
      [5, 5, 0, 1, 0],
      [0, 0, 0, 0, 1],
      [0, 0, 0, 0, 1],
  ], dtype=np.float32)
  np.testing.assert_array_equal(s5, expected)
  with_start = strokes.to_stroke5(S3, 6, start_token=True)
  np.testing.assert_array_equal(with_start[0], [0, 0, 1, 0, 0])
  np.testing.assert_array_equal(with_start[1:], expected)


def test_to_stroke5_default_length_has_one_end_row_and_rejects_short_length():
  s5 = strokes.to_stroke5(S3)
  assert s5.shape == (5, 5) and s5[-1, 4] == 1 and s5[:4, 4].sum() == 0
  with pytest.raises(ValueError, match="4 points"):
    strokes.to_stroke5(S3, 3)


def test_to_stroke3_cuts_at_first_end():
  s5 = strokes.to_stroke5(S3, 8)
  s5[6] = [9, 9, 1, 0, 0]  # garbage after the end must be ignored
  np.testing.assert_array_equal(strokes.to_stroke3(s5), S3.astype(np.float32))
  assert strokes.end_index(s5) == 4
  assert strokes.end_index(s5[:4]) == 4  # no end token: everything is sketch


def test_polylines_hand_case():
  lines = strokes.to_polylines(S3)
  assert len(lines) == 2
  np.testing.assert_array_equal(lines[0], [[1, 2], [4, 2], [4, 6]])
  np.testing.assert_array_equal(lines[1], [[9, 11]])
  np.testing.assert_array_equal(strokes.from_polylines(lines, np.int16), S3)


def test_polylines_unfinished_last_stroke():
  s3 = np.array([[1, 1, 1], [2, 0, 0], [1, 1, 0]])
  lines = strokes.to_polylines(s3)
  np.testing.assert_array_equal(lines[1], [[3, 1], [4, 2]])


def test_bounds_hand_case():
  # Path: origin, (1,2), (4,2), (4,6), (9,11).
  assert strokes.bounds(S3) == (0.0, 9.0, 0.0, 11.0)
  assert strokes.bounds(np.array([[-3, 5, 1], [1, -9, 1]])) == (-3.0, 0.0, -4.0, 5.0)


@settings(max_examples=200, deadline=None)
@given(stroke3_arrays())
def test_stroke5_round_trip(s3):
  length = len(s3) + 3
  s5 = strokes.to_stroke5(s3, length)
  assert s5.shape == (length, 5)
  np.testing.assert_array_equal(s5.sum(axis=1)[len(s3):] - s5[len(s3):, 4], 0)
  np.testing.assert_array_equal(s5[:, 2:].sum(axis=1), 1)  # one-hot pen state
  np.testing.assert_array_equal(strokes.to_stroke3(s5), s3.astype(np.float32))


@settings(max_examples=200, deadline=None)
@given(stroke3_arrays())
def test_polyline_round_trip_and_absolute_positions(s3):
  s3 = s3.copy()
  s3[-1, 2] = 1  # a finished sketch ends with the pen lifted
  lines = strokes.to_polylines(s3)
  assert sum(len(l) for l in lines) == len(s3)
  assert len(lines) == int(s3[:, 2].sum())
  # The last absolute point is the sum of all offsets (loop reference).
  x = y = 0
  for dx, dy, _ in s3.tolist():
    x, y = x + dx, y + dy
  assert lines[-1][-1].tolist() == [x, y]
  np.testing.assert_array_equal(strokes.from_polylines(lines, np.int16), s3)


@settings(max_examples=100, deadline=None)
@given(stroke3_arrays())
def test_bounds_matches_loop(s3):
  x = y = 0.0
  xs, ys = [0.0], [0.0]
  for dx, dy, _ in s3.tolist():
    x, y = x + dx, y + dy
    xs.append(x)
    ys.append(y)
  assert strokes.bounds(s3) == (min(xs), max(xs), min(ys), max(ys))


def test_scale_factor_is_std_of_all_offsets():
  a = np.array([[1, 2, 0], [3, -4, 1]])
  b = np.array([[10, 0, 1]])
  values = [1.0, 2.0, 3.0, -4.0, 10.0, 0.0]
  mean = sum(values) / len(values)
  expected = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
  assert strokes.scale_factor([a, b]) == pytest.approx(expected, rel=1e-12)
  with pytest.raises(ValueError):
    strokes.scale_factor([])


def test_normalize_and_denormalize():
  n = strokes.normalize(S3, 2.0)
  assert n.dtype == np.float32
  np.testing.assert_array_equal(n[:, 0:2], S3[:, 0:2] / 2.0)
  np.testing.assert_array_equal(n[:, 2], S3[:, 2])
  np.testing.assert_array_equal(strokes.denormalize(n, 2.0), S3.astype(np.float32))


def test_from_polylines_rounds_positions_not_offsets():
  # Offsets of 0.4 round to 0 one by one, but the positions reach 1.2 -> 1.
  line = np.array([[0.0, 0.0], [0.4, 0.0], [0.8, 0.0], [1.2, 0.0]])
  s3 = strokes.from_polylines([line], np.int16)
  assert s3[:, 0].sum() == 1
  np.testing.assert_array_equal(strokes.to_polylines(s3)[0][:, 0], [0, 0, 1, 1])
