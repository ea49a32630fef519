"""SVG rendering: valid XML, one path per stroke, geometry fitted to the cell."""
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from sketch_rnn_tf.utils import render

NS = "{http://www.w3.org/2000/svg}"


def path_points(path):
  return np.array([[float(v) for v in xy.split(",")]
                   for xy in re.findall(r"-?[\d.]+,-?[\d.]+", path.get("d"))])


def test_square_fills_its_cell_centred():
  # A closed 10x10 square drawn from (0, 0), then a separate dot.
  s3 = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [-10, 0, 0], [0, -10, 1]])
  root = ET.fromstring(render.svg_sketch(s3, size=100, margin=10))
  assert root.get("width") == "100" and root.get("height") == "100"
  (path,) = root.findall(f"{NS}path")
  pts = path_points(path)
  np.testing.assert_allclose(pts.min(0), [10, 10], atol=0.06)
  np.testing.assert_allclose(pts.max(0), [90, 90], atol=0.06)


def test_aspect_ratio_kept_and_strokes_split():
  # Stroke 1: a 40x10 horizontal bar; stroke 2: a single dot.
  s3 = np.array([[0, 0, 0], [40, 0, 0], [0, 10, 1], [5, 5, 1]])
  root = ET.fromstring(render.svg_sketch(s3, size=200, margin=0, color_strokes=True))
  paths = root.findall(f"{NS}path")
  assert len(paths) == 2
  assert paths[0].get("stroke") != paths[1].get("stroke")
  bar = path_points(paths[0])
  width, height = np.ptp(bar, axis=0)
  # The drawing spans 45 x 15 (the dot is at (45, 15)): x sets the scale.
  assert width == pytest.approx(200 / 45 * 40, abs=0.2)
  assert height == pytest.approx(200 / 45 * 10, abs=0.2)


def test_grid_layout_and_labels():
  s3 = np.array([[1, 1, 0], [5, 0, 1]])
  svg = render.svg_grid([s3] * 5, labels=[f"s<{i}>" for i in range(5)], cols=2, cell=50)
  root = ET.fromstring(svg)
  assert root.get("width") == "100" and root.get("height") == str(3 * (50 + 16))
  texts = [t.text for t in root.findall(f"{NS}text")]
  assert texts == [f"s<{i}>" for i in range(5)]  # escaped, so still valid XML
  lowest = [path_points(p)[:, 1].min() for p in root.findall(f"{NS}path")]
  assert sorted(int(y // 66) for y in lowest) == [0, 0, 1, 1, 2]
  with pytest.raises(ValueError):
    render.svg_grid([])


def test_write_text_is_atomic(tmp_path):
  target = tmp_path / "sub" / "a.svg"
  render.write_text(str(target), "<svg/>")
  assert target.read_text() == "<svg/>"
  assert [p.name for p in target.parent.iterdir()] == ["a.svg"]


def test_png_draws_the_same_layout():
  # The 10x10 square of the SVG test: ink spans the cell minus the margins.
  s3 = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [-10, 0, 0], [0, -10, 1]])
  px = render.png_grid([s3, s3], cols=2, cell=100, margin=10, stroke_width=1)
  assert px.shape == (100, 200, 3) and px.dtype == np.uint8
  ink = np.argwhere(px.min(axis=2) < 128)
  left = ink[ink[:, 1] < 100]
  assert left[:, 0].min() == 10 and left[:, 0].max() in (89, 90)
  assert left[:, 1].min() == 10 and left[:, 1].max() in (89, 90)
  assert (px[50, 50] == 255).all()  # the inside is not filled
  right = ink[ink[:, 1] >= 100]
  np.testing.assert_array_equal(np.unique(right[:, 1] - 100), np.unique(left[:, 1]))


def test_write_png_round_trip(tmp_path):
  from PIL import Image
  px = render.png_grid([np.array([[5, 5, 0], [20, 3, 1]])], cell=64)
  render.write_png(str(tmp_path / "a.png"), px)
  np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png")), px)
