"""Reading user sketches for the sampler: .npz specs, .ndjson lines, SVG paths, JSON."""
import json
import os

import numpy as np
import pytest

from sketch_rnn_tf.data import npz_io, strokes
from sketch_rnn_tf.data.sketch_input import keep_strokes, read_all, read_sketches, SketchInputError
from sketch_rnn_tf.utils import render

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")


@pytest.fixture
def small_npz(tmp_path):
  rng = np.random.default_rng(0)
  sets = {s: [np.c_[rng.integers(-9, 9, (n, 2)), np.r_[np.zeros(n - 1), 1]].astype(np.int16)
              for n in (5, 7, 9)] for s in ("train", "valid", "test")}
  path = str(tmp_path / "s.npz")
  npz_io.save_npz(path, sets)
  return path, sets


def test_npz_specs(small_npz):
  path, sets = small_npz
  (name, s), = read_sketches(path)
  assert name.endswith("s.npz:test:0")
  np.testing.assert_array_equal(s, sets["test"][0])
  got = read_sketches(f"{path}:valid:2,0")
  assert [n.rsplit(":", 1)[1] for n, _ in got] == ["2", "0"]
  np.testing.assert_array_equal(got[0][1], sets["valid"][2])
  with pytest.raises(SketchInputError, match=r"s\.npz.*no index 3"):
    read_sketches(f"{path}:train:3")
  with pytest.raises(SketchInputError, match="no split 'dev'"):
    read_sketches(f"{path}:dev")
  with pytest.raises(SketchInputError, match="integers"):
    read_sketches(f"{path}:test:x")


def test_ndjson_lines():
  path = os.path.join(DATA, "quickdraw_simplified.ndjson")
  with open(path) as f:
    records = [json.loads(l) for l in f if l.strip()]
  (name, s), = read_sketches(f"{path}:2")
  assert name.endswith(":2")
  # Simplified drawings are kept as drawn (RDP 2.0 leaves them nearly alone): the pen
  # positions are the record's points.
  lines = strokes.to_polylines(s)
  assert len(lines) == len(records[1]["drawing"])
  np.testing.assert_allclose(lines[0][0], [records[1]["drawing"][0][0][0],
                                           records[1]["drawing"][0][1][0]])
  with pytest.raises(SketchInputError, match=r"line\(s\) \[99\]"):
    read_sketches(f"{path}:99")


def test_svg_paths_with_relative_and_axis_commands(tmp_path):
  svg = tmp_path / "d.svg"
  svg.write_text('<svg xmlns="http://www.w3.org/2000/svg"><g>'
                 '<path d="M10,10 L20,10 l0,5 M 30 30 h5 v-5 Z"/>'
                 '<polyline points="1,2 3,4"/><line x1="0" y1="0" x2="2" y2="0"/></g></svg>')
  (_, s), = read_sketches(str(svg))
  lines = [l.tolist() for l in strokes.to_polylines(s)]
  # The sketch starts at its first point (offset 0), so positions shift by (-10, -10).
  expected = [[[10, 10], [20, 10], [20, 15]], [[30, 30], [35, 30], [35, 25], [30, 30]],
              [[1, 2], [3, 4]], [[0, 0], [2, 0]]]
  expected = [[[x - 10, y - 10] for x, y in line] for line in expected]
  assert lines == expected
  bad = tmp_path / "c.svg"
  bad.write_text('<svg xmlns="http://www.w3.org/2000/svg"><path d="M0,0 C1,1 2,2 3,3"/></svg>')
  with pytest.raises(SketchInputError, match=r"c\.svg.*'C' is not a straight line"):
    read_sketches(str(bad))


def test_our_own_svg_reads_back_as_the_same_drawing(tmp_path):
  rng = np.random.default_rng(1)
  s3 = np.c_[rng.normal(0, 10, (12, 2)), (np.arange(12) % 4 == 3)].astype(np.float32)
  s3[-1, 2] = 1
  path = tmp_path / "one.svg"
  render.write_text(str(path), render.svg_sketch(s3))
  (_, back), = read_sketches(str(path))
  np.testing.assert_array_equal(back[:, 2], s3[:, 2])
  # render fits the sketch into its cell: the same shape up to one scale factor.
  ratio = np.linalg.norm(back[1:, :2]) / np.linalg.norm(s3[1:, :2])
  np.testing.assert_allclose(back[1:, :2], s3[1:, :2] * ratio, atol=0.1)


def test_json_and_errors(tmp_path):
  good = tmp_path / "g.json"
  good.write_text("[[1, 2, 0], [3, 4, 1]]")
  (_, s), = read_all([str(good)])
  np.testing.assert_array_equal(s, [[1, 2, 0], [3, 4, 1]])
  bad = tmp_path / "b.json"
  bad.write_text("[[1, 2, 5]]")
  with pytest.raises(SketchInputError, match=r"b\.json: the pen column"):
    read_sketches(str(bad))
  with pytest.raises(SketchInputError, match="no such file"):
    read_sketches(str(tmp_path / "none.npz"))
  with pytest.raises(SketchInputError, match="unknown kind"):
    read_sketches("sketch.txt")


def test_keep_strokes():
  s3 = np.array([[1, 0, 0], [1, 0, 1], [0, 1, 0], [0, 1, 1], [2, 2, 1]])
  np.testing.assert_array_equal(keep_strokes(s3, 1), s3[:2])
  np.testing.assert_array_equal(keep_strokes(s3, 2), s3[:4])
  np.testing.assert_array_equal(keep_strokes(s3, 0), s3)
  np.testing.assert_array_equal(keep_strokes(s3, 9), s3)
