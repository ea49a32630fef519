"""RDP simplification against hand-worked cases, the `rdp` package and a recursive reference."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from sketch_rnn_tf.data import ndjson, npz_io, simplify, strokes
from sketch_rnn_tf.testing import reference_rdp

EXACT_BACKENDS = ("numpy", "rdp")  # the two that must agree point for point


def line_distance(p, a, b):
  a, b, p = map(np.asarray, (a, b, p))
  u = b - a
  if not u.any():
    return float(np.hypot(*(p - a)))
  return float(abs(u[0] * (a[1] - p[1]) - u[1] * (a[0] - p[0])) / np.hypot(*u))


def polylines(elements, max_len=30):
  """[n, 2] float64 polylines, n in 0..max_len, with repeats and loops allowed."""
  base = st.integers(0, max_len).flatmap(
      lambda n: hnp.arrays(np.float64, (n, 2), elements=elements))

  def maybe_close(args):  # closed strokes (start == end) take rdp's other branch
    points, close = args
    if close and len(points) > 2:
      points = np.concatenate([points, points[:1]])
    return points

  return st.tuples(base, st.booleans()).map(maybe_close)


INT_LINES = polylines(st.integers(-20, 20).map(float))
# Pixel-scale floats off any grid; `EXTREME_LINES` covers under- and overflow.
FLOAT_LINES = polylines(st.integers(-300_000_000, 300_000_000).map(lambda v: v / 997_001))
EXTREME_LINES = polylines(st.floats(allow_nan=False, allow_infinity=False))
EPSILONS = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5, 10.0])


# --------------------------------------------------------------- hand cases


@pytest.mark.parametrize("backend", simplify.BACKENDS)
def test_collinear_line_simplifies_to_its_ends(backend):
  line = np.array([[0, 0], [1, 1], [2, 2], [3, 3], [7, 7]], dtype=float)
  np.testing.assert_array_equal(simplify.rdp_simplify(line, 0.5, backend), [[0, 0], [7, 7]])


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
def test_zero_epsilon_drops_only_exactly_collinear_points(backend):
  line = np.array([[0, 0], [1, 1], [2, 2], [3, 2], [7, 7]], dtype=float)
  np.testing.assert_array_equal(simplify.rdp_simplify(line, 0.0, backend),
                                [[0, 0], [2, 2], [3, 2], [7, 7]])


def test_simplification_package_returns_the_input_for_zero_epsilon():
  line = np.array([[0, 0], [1, 1], [2, 2], [7, 7]], dtype=float)
  np.testing.assert_array_equal(simplify.rdp_simplify(line, 0.0, "simplification"), line)


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
def test_zigzag_kept_or_flattened_by_epsilon(backend):
  # Chord (0,0)-(4,0): (1,3) and (3,3) are 3 away, first wins; chord (1,3)-(4,0)
  # (x + y = 4): (2,0) and (3,3) are both sqrt(2) away.
  zigzag = np.array([[0, 0], [1, 3], [2, 0], [3, 3], [4, 0]], dtype=float)
  np.testing.assert_array_equal(simplify.rdp_simplify(zigzag, 1.0, backend), zigzag)
  np.testing.assert_array_equal(simplify.rdp_simplify(zigzag, 1.5, backend),
                                [[0, 0], [1, 3], [4, 0]])
  np.testing.assert_array_equal(simplify.rdp_simplify(zigzag, 3.0, backend), [[0, 0], [4, 0]])


@pytest.mark.parametrize("backend", simplify.BACKENDS)
def test_closed_square_keeps_its_corners(backend):
  # start == end: distances are to the start point, so the far corner splits first.
  square = np.array([[0, 0], [5, 0], [10, 0], [10, 5], [10, 10], [5, 10], [0, 10],
                     [0, 5], [0, 0]], dtype=float)
  np.testing.assert_array_equal(simplify.rdp_simplify(square, 1.0, backend),
                                [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]])


@pytest.mark.parametrize("backend", simplify.BACKENDS)
@pytest.mark.parametrize("n", [0, 1, 2])
def test_short_polylines_come_back_whole(backend, n):
  line = np.array([[3, 4], [5, 6]], dtype=float)[:n]
  out = simplify.rdp_simplify(line, 2.0, backend)
  assert out.shape == (n, 2) and out.dtype == np.float64
  np.testing.assert_array_equal(out, line)


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
def test_overshoot_beyond_the_chord_is_dropped_by_line_distance(backend):
  # (20, 1) is 1 from the line through (0,0) and (10,0) but ~10 from the segment.
  line = np.array([[0, 0], [20, 1], [10, 0]], dtype=float)
  np.testing.assert_array_equal(simplify.rdp_simplify(line, 2.0, backend), [[0, 0], [10, 0]])
  # A stroke drawn out and half way back along itself loses the far end.
  back = np.array([[0, 0], [100, 0], [50, 0]], dtype=float)
  np.testing.assert_array_equal(simplify.rdp_simplify(back, 2.0, backend), [[0, 0], [50, 0]])


def test_simplification_package_measures_to_the_segment():
  line = np.array([[0, 0], [20, 1], [10, 0]], dtype=float)
  np.testing.assert_array_equal(simplify.rdp_simplify(line, 2.0, "simplification"), line)


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
def test_tie_goes_to_the_first_farthest_point(backend):
  # Chord x = 0: (2,3) and (2,2) are both 2 away. The first splits; then (2,2) is
  # 1/sqrt(2) from the line y = x + 1 through (2,3) and (0,1), and goes.
  line = np.array([[0, 4], [2, 3], [2, 2], [0, 1]], dtype=float)
  np.testing.assert_array_equal(simplify.rdp_simplify(line, 1.0, backend),
                                [[0, 4], [2, 3], [0, 1]])


def test_simplification_package_breaks_ties_towards_the_last_point():
  line = np.array([[0, 4], [2, 3], [2, 2], [0, 1]], dtype=float)
  np.testing.assert_array_equal(simplify.rdp_simplify(line, 1.0, "simplification"),
                                [[0, 4], [2, 2], [0, 1]])


def test_rdp_mask_marks_the_kept_points():
  zigzag = np.array([[0, 0], [1, 3], [2, 0], [3, 3], [4, 0]], dtype=float)
  np.testing.assert_array_equal(simplify.rdp_mask(zigzag, 1.5), [1, 1, 0, 0, 1])
  assert simplify.rdp_mask(np.zeros((0, 2))).shape == (0,)


def test_simplify_polylines_handles_empty_and_mixed_lines():
  lines = [[], [[1, 1]], [[0, 0], [1, 0], [2, 0]], np.zeros((0, 2)), [[0, 0], [5, 5], [0, 0]]]
  out = simplify.simplify_polylines(lines, 1.0)
  assert [o.shape for o in out] == [(0, 2), (1, 2), (2, 2), (0, 2), (3, 2)]
  np.testing.assert_array_equal(out[2], [[0, 0], [2, 0]])
  np.testing.assert_array_equal(out[4], [[0, 0], [5, 5], [0, 0]])
  assert simplify.simplify_polylines([], 1.0) == []


def test_integer_input_is_computed_in_float64():
  # int16 differences would wrap around; the result must not depend on the dtype.
  line = np.array([[-30000, 0], [0, 100], [30000, 0]], dtype=np.int16)
  out = simplify.rdp_simplify(line, 2.0)
  np.testing.assert_array_equal(out, line.astype(np.float64))


def test_default_backend_is_used_when_none(monkeypatch):
  assert simplify.DEFAULT_BACKEND in simplify.BACKENDS
  calls = []
  monkeypatch.setattr(simplify, "DEFAULT_BACKEND", "rdp")
  monkeypatch.setattr(simplify, "_simplify_rdp_package",
                      lambda points, epsilon: calls.append(epsilon) or points)
  simplify.rdp_simplify([[0, 0], [1, 1], [2, 0]], 2.5)
  simplify.simplify_polylines([[[0, 0], [1, 1]]], 1.5)
  assert calls == [2.5, 1.5]


def test_rdp_backend_hides_numpy_cross_deprecation():
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    simplify.rdp_simplify([[0, 0], [1, 3], [2, 0]], 1.0, "rdp")
  assert not [w for w in caught if issubclass(w.category, DeprecationWarning)]


@pytest.mark.parametrize("bad, message", [
    (np.zeros((3, 3)), r"shape \[n, 2\]"),
    (np.zeros(4), r"shape \[n, 2\]"),
    (np.array([[0, 0], [np.nan, 1]]), "finite"),
    (np.array([[0, 0], [np.inf, 1]]), "finite"),
])
def test_bad_points_are_refused(bad, message):
  with pytest.raises(ValueError, match=message):
    simplify.rdp_simplify(bad)
  with pytest.raises(ValueError, match=message):
    simplify.simplify_polylines([[[0, 0], [1, 1]], bad])


def test_bad_epsilon_and_backend_are_refused():
  with pytest.raises(ValueError, match="epsilon"):
    simplify.rdp_simplify([[0, 0], [1, 1]], -1.0)
  with pytest.raises(ValueError, match="epsilon"):
    simplify.simplify_polylines([[[0, 0], [1, 1]]], float("nan"))
  with pytest.raises(ValueError, match="backend"):
    simplify.rdp_simplify([[0, 0], [1, 1]], backend="fast")


# ----------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(line=st.one_of(INT_LINES, FLOAT_LINES), epsilon=EPSILONS)
def test_numpy_matches_rdp_package_and_reference(line, epsilon):
  """On integer (as in the data) and float points alike."""
  expected = simplify.rdp_simplify(line, epsilon, "rdp")
  np.testing.assert_array_equal(simplify.rdp_simplify(line, epsilon, "numpy"), expected)
  np.testing.assert_array_equal(line[reference_rdp(line, epsilon)], expected)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # rdp divides 0 by 0 there
@settings(max_examples=100, deadline=None)
@given(line=EXTREME_LINES, epsilon=EPSILONS)
def test_numpy_matches_rdp_package_when_squares_underflow_or_overflow(line, epsilon):
  # Such distances come out 0, inf or NaN in rdp; NaN never splits there.
  np.testing.assert_array_equal(simplify.rdp_simplify(line, epsilon, "numpy"),
                                simplify.rdp_simplify(line, epsilon, "rdp"))


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(INT_LINES | FLOAT_LINES, max_size=6), epsilon=EPSILONS)
def test_batching_polylines_changes_nothing(lines, epsilon):
  batched = simplify.simplify_polylines(lines, epsilon)
  assert len(batched) == len(lines)
  for line, out in zip(lines, batched):
    np.testing.assert_array_equal(out, simplify.rdp_simplify(line, epsilon, "rdp"))


@settings(max_examples=100, deadline=None)
@given(line=INT_LINES | FLOAT_LINES, epsilon=EPSILONS)
def test_output_is_a_subsequence_within_epsilon_of_each_kept_chord(line, epsilon):
  keep = np.flatnonzero(simplify.rdp_mask(line, epsilon))
  if len(line) == 0:
    assert len(keep) == 0
    return
  assert keep[0] == 0 and keep[-1] == len(line) - 1
  for a, b in zip(keep[:-1], keep[1:]):
    for i in range(a + 1, b):
      assert line_distance(line[i], line[a], line[b]) <= epsilon + 1e-9


@settings(max_examples=60, deadline=None)
@given(line=INT_LINES | FLOAT_LINES, small=EPSILONS, extra=st.floats(0, 5))
def test_a_larger_epsilon_keeps_a_subset(line, small, extra):
  # The split points do not depend on epsilon; a larger one only stops sooner.
  fine = simplify.rdp_mask(line, small)
  coarse = simplify.rdp_mask(line, small + extra)
  assert not (coarse & ~fine).any()


# ------------------------------------------------------------------ real data


def test_numpy_matches_rdp_package_on_real_strokes(sheep_path):
  data = npz_io.load_npz(sheep_path, splits=("test",))
  lines = [line for s in data["test"][:40] for line in strokes.to_polylines(s)]
  lines += [ndjson.resample(line, 1.0) for line in lines[:60]]
  batched = simplify.simplify_polylines(lines, 2.0)
  for line, out in zip(lines, batched):
    np.testing.assert_array_equal(out, simplify.rdp_simplify(line, 2.0, "rdp"))
