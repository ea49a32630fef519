"""Quick, Draw! ndjson -> stroke-3 against hand-worked drawings and an independent pipeline."""
import functools
import gzip
import io
import json
import math
import os
import pickle
import shutil

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sketch_rnn_tf.data import ndjson, npz_io, strokes
from sketch_rnn_tf.data.ndjson import NdjsonError
from sketch_rnn_tf.testing import reference_rdp

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")
RAW = os.path.join(DATA, "quickdraw_raw.ndjson")
SIMPLIFIED = os.path.join(DATA, "quickdraw_simplified.ndjson")
BAD_JSON = os.path.join(DATA, "bad_json.ndjson")
MALFORMED = os.path.join(DATA, "malformed_strokes.ndjson")
MISSING = os.path.join(DATA, "missing_drawing.ndjson")

# The fixtures' drawings and their stroke-3, worked out by hand.
#
# raw line 1: an L (10,20) (10,60) (50,60) and a dot (26,44). Align by (10,20):
#   (0,0) (0,40) (40,40) and (16,24); scale 255/40 = 6.375: (0,0) (0,255)
#   (255,255) and (102,153). The L is 510 long: 510 samples 1 apart, the corner
#   exactly among them; RDP keeps the corner (180 from the chord).
RAW_1 = [[0, 0, 0], [0, 255, 0], [255, 0, 1], [-153, -102, 1]]
# raw line 2: (0,0) (50,0.5) (100,0); scale 2.55: the bump is 1.275 < 2 high.
RAW_2 = [[0, 0, 0], [255, 0, 1]]
# raw line 3: the square 0..100, closed; scale 2.55. start == end, so RDP splits
#   at the far corner first, then at the other two.
RAW_3 = [[0, 0, 0], [255, 0, 0], [0, 255, 0], [-255, 0, 0], [0, -255, 1]]
# simplified lines 1, 2 and 4 (3 is blank), as they are.
SIMPLIFIED_1 = [[0, 0, 0], [10, 5, 0], [10, -5, 1], [10, 30, 0], [10, 10, 1]]
SIMPLIFIED_2 = [[255, 0, 0], [-255, 255, 1]]
SIMPLIFIED_4 = [[5, 0, 0]] + [[1, 0, 0]] * 5 + [[1, 0, 1], [89, 200, 1]]


def records(path):
  return [record for _, record in ndjson.iter_ndjson(path)]


# ------------------------------------------------------------ hand-worked cases


def test_raw_fixture_converts_to_hand_worked_stroke3():
  drawings = [r["drawing"] for r in records(RAW)]
  for drawing, expected in zip(drawings, [RAW_1, RAW_2, RAW_3]):
    out = ndjson.drawing_to_stroke3(drawing)
    assert out.dtype == np.int16
    np.testing.assert_array_equal(out, expected)


def test_simplified_fixture_converts_as_it_is():
  drawings = [r["drawing"] for r in records(SIMPLIFIED)]
  for drawing, expected in zip(drawings, [SIMPLIFIED_1, SIMPLIFIED_2, SIMPLIFIED_4]):
    np.testing.assert_array_equal(ndjson.drawing_to_stroke3(drawing), expected)


def test_resimplify_applies_rdp_to_simplified_drawings():
  drawing = records(SIMPLIFIED)[2]["drawing"]
  np.testing.assert_array_equal(ndjson.drawing_to_stroke3(drawing, resimplify=True),
                                [[5, 0, 0], [6, 0, 1], [89, 200, 1]])


def test_raw_without_simplification_keeps_every_resampled_point():
  out = ndjson.drawing_to_stroke3(records(RAW)[1]["drawing"], epsilon=0, max_len=None)
  assert len(out) > 250 and out[-1, 2] == 1 and out[:-1, 2].sum() == 0
  np.testing.assert_array_equal(out[:, :2].sum(axis=0), [255, 0])


def test_forced_format_overrides_detection():
  # Read as raw, the simplified segment (255,0)-(0,255) is already aligned and
  # scaled, and resampling + RDP leave a straight line alone.
  drawing = records(SIMPLIFIED)[1]["drawing"]
  np.testing.assert_array_equal(ndjson.drawing_to_stroke3(drawing, fmt="raw"), SIMPLIFIED_2)
  # The same drawing doubled in size only counts as raw when told so.
  big = [[[510, 0], [0, 510]]]
  assert ndjson.detect_format(big) == "raw"
  np.testing.assert_array_equal(ndjson.drawing_to_stroke3(big), SIMPLIFIED_2)
  np.testing.assert_array_equal(ndjson.drawing_to_stroke3(big, fmt="simplified"),
                                [[510, 0, 0], [-510, 510, 1]])


def test_scale_is_uniform_and_size_is_honoured():
  # 40 x 10 box: x spans 0..255, y keeps the aspect ratio (10 * 255/40 = 63.75).
  drawing = [[[100, 140], [30, 40], [0, 5]]]
  np.testing.assert_array_equal(ndjson.drawing_to_stroke3(drawing), [[0, 0, 0], [255, 64, 1]])
  np.testing.assert_array_equal(ndjson.drawing_to_stroke3(drawing, size=40),
                                [[0, 0, 0], [40, 10, 1]])


def test_single_point_drawing_and_empty_drawings():
  np.testing.assert_array_equal(ndjson.drawing_to_stroke3([[[7.5], [3.25], [0]]]), [[0, 0, 1]])
  assert ndjson.drawing_to_stroke3([]) is None
  assert ndjson.drawing_to_stroke3([[[], []], [[], [], []]]) is None


def test_rounding_merges_points_that_become_equal():
  # After scaling by 255/1000 the wiggle points land within 0.5 of each other.
  drawing = [[[0, 1000, 1001, 1000], [0, 0, 0, 0]]]
  out = ndjson.drawing_to_stroke3(drawing, fmt="raw", epsilon=0)
  assert not np.any((out[1:, 0] == 0) & (out[1:, 1] == 0))


def test_detect_format():
  assert ndjson.detect_format([[[0, 1], [2, 3], [0, 16]]]) == "raw"
  assert ndjson.detect_format([[[0, 1], [2, 3]]]) == "simplified"
  assert ndjson.detect_format([[[0, 1.5], [2, 3]]]) == "raw"
  assert ndjson.detect_format([[[0, 256], [2, 3]]]) == "raw"
  assert ndjson.detect_format([[[-1, 0], [2, 3]]]) == "raw"
  assert ndjson.detect_format([[[0, 255.0], [2, 3]]]) == "simplified"


# ---------------------------------------------------------------------- resample


def loop_resample(points, spacing):
  """Walks the polyline segment by segment, emitting a point every `step` of arc."""
  points = [tuple(map(float, p)) for p in points]
  steps = [math.dist(a, b) for a, b in zip(points, points[1:])]
  total = sum(steps)
  if total == 0:
    return np.array(points[:1])
  count = max(1, math.ceil(total / spacing))
  step = total / count
  out, walked, k = [], 0.0, 0
  for j in range(count + 1):
    target = j * step
    while k < len(steps) - 1 and (steps[k] == 0 or walked + steps[k] < target):
      walked += steps[k]
      k += 1
    f = min(1.0, max(0.0, (target - walked) / steps[k])) if steps[k] else 0.0
    (ax, ay), (bx, by) = points[k], points[k + 1]
    out.append((ax + f * (bx - ax), ay + f * (by - ay)))
  out[-1] = points[-1]
  return np.array(out)


def test_resample_hand_cases():
  # A 3-4-5 segment: 5 steps of exactly 1.
  np.testing.assert_allclose(ndjson.resample([[0, 0], [3, 4]]),
                             [[0, 0], [.6, .8], [1.2, 1.6], [1.8, 2.4], [2.4, 3.2], [3, 4]])
  # An L of length 4 at spacing 1 passes through its corner.
  np.testing.assert_allclose(ndjson.resample([[0, 0], [0, 2], [2, 2]]),
                             [[0, 0], [0, 1], [0, 2], [1, 2], [2, 2]])
  # Length 2.5 at spacing 1: 3 equal steps of 5/6 each.
  np.testing.assert_allclose(ndjson.resample([[0, 0], [2.5, 0]]),
                             [[0, 0], [5 / 6, 0], [5 / 3, 0], [2.5, 0]])
  np.testing.assert_array_equal(ndjson.resample([[4, 4], [4, 4], [4, 4]]), [[4, 4]])
  np.testing.assert_array_equal(ndjson.resample([[1, 2]]), [[1, 2]])
  assert ndjson.resample(np.zeros((0, 2))).shape == (0, 2)
  with pytest.raises(ValueError, match="spacing"):
    ndjson.resample([[0, 0], [1, 1]], 0)


coords = st.floats(-500, 500, allow_nan=False, allow_infinity=False)
point_lists = st.lists(st.tuples(coords, coords), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(points=point_lists, spacing=st.sampled_from([0.5, 1.0, 2.0, 7.0]))
def test_resample_spacing_ends_and_agreement_with_a_loop(points, spacing):
  points = np.array(points)
  out = ndjson.resample(points, spacing)
  np.testing.assert_array_equal(out[0], points[0])
  total = np.hypot(*np.diff(points, axis=0).T).sum()
  if total > 0:
    np.testing.assert_array_equal(out[-1], points[-1])
    assert len(out) == max(1, math.ceil(total / spacing)) + 1
    gaps = np.hypot(*np.diff(out, axis=0).T)
    assert gaps.max() <= spacing * (1 + 1e-9) + 1e-9
  else:
    assert len(out) == 1
  np.testing.assert_allclose(out, loop_resample(points, spacing), atol=1e-6)


# -------------------------------------------------- raw drawings, independently


def reference_raw_stroke3(drawing, epsilon=2.0):
  """The raw pipeline from its description, with the test's own RDP and differencing.

  (Resampling is `ndjson.resample`, checked against `loop_resample` above, since
  sub-ulp differences there could flip a later rounding.)
  """
  lines = [np.array(s[:2], dtype=np.float64).T for s in drawing if len(s[0])]
  low_x = min(x for line in lines for x in line[:, 0])
  low_y = min(y for line in lines for y in line[:, 1])
  extent = max(max(line[:, 0].max() - low_x, line[:, 1].max() - low_y) for line in lines)
  factor = 255 / extent if extent > 0 else 1.0
  rows, previous = [], (0, 0)
  for line in lines:
    line = (line - [low_x, low_y]) * factor
    line = ndjson.resample(line, 1.0)
    kept = [(int(np.rint(x)), int(np.rint(y))) for x, y in line[reference_rdp(line, epsilon)]]
    kept = [p for i, p in enumerate(kept) if i == 0 or p != kept[i - 1]]
    for i, (x, y) in enumerate(kept):
      rows.append([x - previous[0], y - previous[1], int(i == len(kept) - 1)])
      previous = (x, y)
  return np.array(rows)


raw_strokes = st.lists(st.tuples(st.integers(-2000, 2000), st.integers(-2000, 2000)),
                       min_size=1, max_size=15)
raw_drawings = st.lists(raw_strokes, min_size=1, max_size=4).map(
    lambda strokes_: [[[p[0] for p in s], [p[1] for p in s], list(range(0, 10 * len(s), 10))]
                      for s in strokes_])


@settings(max_examples=60, deadline=None)
@given(drawing=raw_drawings)
def test_raw_drawings_match_an_independent_pipeline(drawing):
  out = ndjson.drawing_to_stroke3(drawing, max_len=None)
  np.testing.assert_array_equal(out, reference_raw_stroke3(drawing))
  points = np.cumsum(out[:, :2].astype(np.int64), axis=0)
  assert points.min() >= 0 and points.max() <= 255
  # Sum of offsets = the last absolute point; every stroke ends with a lift.
  np.testing.assert_array_equal(out[:, :2].astype(np.int64).sum(axis=0), points[-1])
  assert out[-1, 2] == 1 and out[:, 2].sum() == len(drawing)


# ------------------------------------------------- simplified drawings, properties


simplified_strokes = st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255)),
                              min_size=1, max_size=20)
simplified_drawings = st.lists(simplified_strokes, min_size=1, max_size=6).map(
    lambda strokes_: [[[p[0] for p in s], [p[1] for p in s]] for s in strokes_])


def polylines_of(drawing):
  return [np.array(s, dtype=np.float64).T for s in drawing]


@settings(max_examples=100, deadline=None)
@given(drawing=simplified_drawings)
def test_simplified_round_trip_through_polylines(drawing):
  out = ndjson.drawing_to_stroke3(drawing, max_len=None)
  assert ndjson.detect_format(drawing) == "simplified"
  back = strokes.to_polylines(out)
  assert len(back) == len(drawing)
  for line, expected in zip(back, polylines_of(drawing)):
    np.testing.assert_array_equal(line, expected)
  np.testing.assert_array_equal(strokes.from_polylines(back, dtype=np.int16), out)
  np.testing.assert_array_equal(out[:, :2].sum(axis=0), polylines_of(drawing)[-1][-1])


@settings(max_examples=100, deadline=None)
@given(drawing=simplified_drawings, epsilon=st.sampled_from([0.5, 2.0, 6.0]))
def test_resimplified_strokes_are_subsequences_of_the_input(drawing, epsilon):
  out = ndjson.drawing_to_stroke3(drawing, resimplify=True, epsilon=epsilon, max_len=None)
  for line, original in zip(strokes.to_polylines(out), polylines_of(drawing)):
    expected = original[reference_rdp(original, epsilon)]
    np.testing.assert_array_equal(line, expected)
    np.testing.assert_array_equal(line[[0, -1]], original[[0, -1]])


@settings(max_examples=100, deadline=None)
@given(drawing=simplified_drawings, max_len=st.integers(1, 60))
def test_truncation_keeps_a_prefix_and_lifts_the_pen(drawing, max_len):
  full = ndjson.drawing_to_stroke3(drawing, max_len=None)
  cut = ndjson.drawing_to_stroke3(drawing, max_len=max_len, long="truncate")
  dropped = ndjson.drawing_to_stroke3(drawing, max_len=max_len, long="drop")
  assert len(cut) == min(len(full), max_len)
  np.testing.assert_array_equal(cut[:, :2], full[:len(cut), :2])
  np.testing.assert_array_equal(cut[:-1, 2], full[:len(cut) - 1, 2])
  assert cut[-1, 2] == 1
  if len(full) > max_len:
    assert dropped is None
  else:
    np.testing.assert_array_equal(dropped, full)


def test_clip_stroke3_options():
  sketch = np.array([[1, 1, 0]] * 5, dtype=np.int16)
  assert ndjson.clip_stroke3(sketch, None) is sketch
  np.testing.assert_array_equal(ndjson.clip_stroke3(sketch, 2), [[1, 1, 0], [1, 1, 1]])
  assert sketch[1, 2] == 0  # the input is not modified
  with pytest.raises(ValueError, match="long"):
    ndjson.clip_stroke3(sketch, 2, long="keep")
  with pytest.raises(ValueError, match="max_len"):
    ndjson.clip_stroke3(sketch, 0)


def test_drawing_to_stroke3_pickles_for_beam():
  convert = functools.partial(ndjson.drawing_to_stroke3, epsilon=2.0, max_len=3)
  restored = pickle.loads(pickle.dumps(convert))
  drawing = records(RAW)[0]["drawing"]
  np.testing.assert_array_equal(restored(drawing), [[0, 0, 0], [0, 255, 0], [255, 0, 1]])
  assert pickle.loads(pickle.dumps(ndjson.parse_record)) is ndjson.parse_record


# -------------------------------------------------------------- reading files


def test_iter_ndjson_numbers_lines_and_skips_blank_ones():
  numbers = [n for n, _ in ndjson.iter_ndjson(SIMPLIFIED)]
  assert numbers == [1, 2, 4]
  first = records(SIMPLIFIED)[0]
  assert first["word"] == "cat" and first["recognized"] is True


@pytest.mark.parametrize("name", ["raw.ndjson.gz", "raw_without_suffix.ndjson"])
def test_gzip_is_read_transparently(tmp_path, name):
  path = tmp_path / name
  with open(RAW, "rb") as f, gzip.open(path, "wb") as g:
    shutil.copyfileobj(f, g)
  assert records(path) == records(RAW)


def test_file_objects_and_line_iterables():
  with open(RAW, encoding="utf-8") as f:
    text = f.read()
  expected = records(RAW)
  assert [r for _, r in ndjson.iter_ndjson(io.StringIO(text))] == expected
  assert [r for _, r in ndjson.iter_ndjson(io.BytesIO(text.encode()))] == expected
  assert [r for _, r in ndjson.iter_ndjson(text.splitlines())] == expected
  assert [r for _, r in ndjson.iter_ndjson([l.encode() for l in text.splitlines()])] == expected


def test_bad_json_names_file_and_line():
  with pytest.raises(NdjsonError, match=r"bad_json\.ndjson:3: bad JSON"):
    records(BAD_JSON)


def test_missing_drawing_names_file_and_line():
  with pytest.raises(NdjsonError, match=r"missing_drawing\.ndjson:2: record has no 'drawing'"):
    records(MISSING)


def test_malformed_strokes_name_file_line_and_stroke():
  with pytest.raises(NdjsonError, match=r"malformed_strokes\.ndjson:2: stroke 0: coordinate "
                     r"lists differ in length \(3, 2\)"):
    records(MALFORMED)


@pytest.mark.parametrize("line, message", [
    ('[1, 2]', "expected a JSON object, got list"),
    ('{"drawing": "abc"}', "'drawing' must be a list of strokes"),
    ('{"drawing": [[[1, 2]]]}', r"stroke 0: expected \[\[x\.\.\.\], \[y\.\.\.\]\]"),
    ('{"drawing": [[[1, 2], [3, 4]], 5]}', "stroke 1: expected"),
    ('{"drawing": [[[1, "a"], [3, 4]]]}', "stroke 0: x holds something that is not a number"),
    ('{"drawing": [[[1, 2], [3, [4]]]]}', "stroke 0: y"),
    ('{"drawing": [[[1, 2], 3]]}', "stroke 0: y must be a list of numbers"),
    ('{"drawing": [[[1, NaN], [3, 4]]]}', "stroke 0: x holds a non-finite value"),
    ('{"drawing": [[[1, 2], [3, 4], [0]]]}', r"stroke 0: coordinate lists differ in length \(2, 2, 1\)"),
])
def test_malformed_records_are_refused_with_a_location(line, message):
  lines = [json.dumps({"drawing": [[[0], [0]]]}), line]
  with pytest.raises(NdjsonError, match=r"<lines>:2: " + message):
    list(ndjson.iter_ndjson(lines))
  with pytest.raises(NdjsonError, match=r"here: " + message):
    ndjson.parse_record(line, "here")


def test_unreadable_bytes_name_the_line(tmp_path):
  path = tmp_path / "broken.ndjson"
  path.write_bytes(b'{"drawing": []}\n\xff\xfe\n')
  with pytest.raises(NdjsonError, match=r"broken\.ndjson:2: cannot read"):
    list(ndjson.iter_ndjson(path))
  gz = tmp_path / "truncated.ndjson.gz"
  with open(RAW, "rb") as f:
    gz.write_bytes(gzip.compress(f.read() * 50)[:200])
  with pytest.raises(NdjsonError, match=r"truncated\.ndjson\.gz:\d+: cannot read"):
    list(ndjson.iter_ndjson(gz))


def test_out_of_range_simplified_coordinates_are_refused():
  with pytest.raises(NdjsonError, match="int16"):
    ndjson.drawing_to_stroke3([[[0, 40000], [0, 0]]], fmt="simplified")
  with pytest.raises(NdjsonError, match="integer"):
    ndjson.drawing_to_stroke3([[[0, 1.5], [0, 0]]], fmt="simplified")


# ---------------------------------------------------------------- converting


def test_convert_ndjson_writes_a_sketch_npz(tmp_path):
  out = tmp_path / "mixed.npz"
  counts = ndjson.convert_ndjson([RAW, SIMPLIFIED], out, valid_fraction=1 / 6,
                                 test_fraction=1 / 6, seed=3)
  assert counts == {"records": 6, "converted": 6, "raw": 3, "simplified": 3,
                    "unrecognized": 0, "empty": 0, "dropped_long": 0, "truncated": 0,
                    "bad": 0, "train": 4, "valid": 1, "test": 1}
  data = npz_io.load_npz(out)
  got = sorted(s.tolist() for split in npz_io.SPLITS for s in data[split])
  expected = sorted([RAW_1, RAW_2, RAW_3, SIMPLIFIED_1, SIMPLIFIED_2, SIMPLIFIED_4])
  assert got == expected
  assert all(s.dtype == np.int16 for split in npz_io.SPLITS for s in data[split])


def test_convert_ndjson_split_is_seeded_and_keeps_input_order(tmp_path):
  lines = [json.dumps({"drawing": [[[i % 256, 0], [0, i // 256]]]}) for i in range(200)]
  first_x = {}
  for seed in (0, 0, 1):
    out = tmp_path / f"split{seed}.npz"
    counts = ndjson.convert_ndjson([lines], out, valid_fraction=0.1, test_fraction=0.05,
                                   seed=seed)
    assert (counts["train"], counts["valid"], counts["test"]) == (170, 20, 10)
    data = npz_io.load_npz(out)
    xs = {split: [int(s[0, 0]) + 256 * int(s[1, 1]) for s in data[split]]
          for split in npz_io.SPLITS}
    assert sorted(sum(xs.values(), [])) == list(range(200))
    assert all(v == sorted(v) for v in xs.values())
    first_x.setdefault(seed, []).append(xs)
  assert first_x[0][0] == first_x[0][1]
  assert first_x[0][0]["valid"] != first_x[1][0]["valid"]


def test_convert_ndjson_filters_limits_and_options(tmp_path):
  out = tmp_path / "out.npz"
  counts = ndjson.convert_ndjson(RAW, out, recognized_only=True, valid_fraction=0,
                                 test_fraction=0)
  assert (counts["converted"], counts["unrecognized"], counts["train"]) == (2, 1, 2)
  counts = ndjson.convert_ndjson([SIMPLIFIED, RAW], out, max_records=4, max_len=4,
                                 long="drop", valid_fraction=0, test_fraction=0)
  # The 3 simplified drawings (5, 2 and 8 rows), then RAW_1 (4 rows).
  assert (counts["records"], counts["dropped_long"], counts["converted"]) == (4, 2, 2)
  counts = ndjson.convert_ndjson([SIMPLIFIED], out, max_len=4, long="truncate",
                                 valid_fraction=0, test_fraction=0)
  assert counts["truncated"] == 2
  assert max(len(s) for s in npz_io.load_npz(out)["train"]) == 4
  # data_cli's call: epsilon 0 turns RDP off for raw drawings.
  counts = ndjson.convert_ndjson([RAW], out, epsilon=0, max_len=250, long="truncate",
                                 valid_fraction=0, test_fraction=0)
  assert counts["truncated"] == 3
  with pytest.raises(TypeError, match="unknown conversion option"):
    ndjson.convert_ndjson([RAW], out, epsilom=2.0)
  with pytest.raises(ValueError, match="fractions"):
    ndjson.convert_ndjson([RAW], out, valid_fraction=0.7, test_fraction=0.7)
  with pytest.raises(ValueError, match="fmt"):
    ndjson.convert_ndjson([RAW], out, fmt="vector")


def test_convert_ndjson_raises_or_skips_bad_records(tmp_path):
  out = tmp_path / "out.npz"
  with pytest.raises(NdjsonError, match=r"bad_json\.ndjson:3: bad JSON"):
    ndjson.convert_ndjson([BAD_JSON], out)
  assert not out.exists()
  counts = ndjson.convert_ndjson([BAD_JSON, MALFORMED, MISSING], out, on_error="skip",
                                 valid_fraction=0, test_fraction=0)
  assert (counts["records"], counts["bad"], counts["converted"]) == (7, 3, 4)
  with pytest.raises(NdjsonError, match="no drawings converted"):
    ndjson.convert_ndjson([["", '{"drawing": []}']], out)
