"""sketch-rnn-data end to end, as a user runs it."""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from sketch_rnn_tf.data import npz_io

pytestmark = pytest.mark.slow  # subprocesses, Node/Chromium or training runs


def run_cli(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  return subprocess.run([sys.executable, "-m", "sketch_rnn_tf.cli.data", *args],
                        capture_output=True, text=True, env=env, timeout=120)


def test_info_on_sheep(sheep_path):
  r = run_cli("info", sheep_path)
  assert r.returncode == 0, r.stderr
  assert "train     7400 sketches" in r.stdout
  assert "valid      300 sketches" in r.stdout
  assert "test       300 sketches" in r.stdout
  assert "scale factor (std of train dx, dy): 18.519827" in r.stdout


def test_render_sheep_grid(sheep_path, tmp_path):
  out = tmp_path / "sheep.svg"
  r = run_cli("render", sheep_path, f"--out={out}", "--num=16")
  assert r.returncode == 0, r.stderr
  root = ET.parse(out).getroot()
  assert len(root.findall("{http://www.w3.org/2000/svg}text")) == 16
  assert len(root.findall("{http://www.w3.org/2000/svg}path")) > 16


def test_validate_lists_bad_records_and_fails(tmp_path):
  good = [np.array([[1, 2, 0], [3, 4, 1]], np.int16)]
  path = tmp_path / "mixed.npz"
  npz_io.save_npz(path, {"train": good * 3, "valid": good + [np.array([[1, 1, 3]], np.int16)],
                         "test": good})
  r = run_cli("validate", str(path))
  assert r.returncode == 1
  assert f"{path}: split 'valid', sketch 1: pen value 3 at point 0 is not 0 or 1" in r.stdout
  assert "1 problem(s) in 1 file(s)" in r.stdout
  ok = tmp_path / "ok.npz"
  npz_io.save_npz(ok, {"train": good, "valid": good, "test": good})
  assert run_cli("validate", str(ok)).returncode == 0


def test_usage_errors():
  r = run_cli("frobnicate", "x.npz")
  assert r.returncode == 2 and "usage: sketch-rnn-data" in r.stderr


def test_convert_ndjson_then_info(tmp_path):
  here = os.path.dirname(os.path.abspath(__file__))
  out = tmp_path / "qd.npz"
  r = run_cli("convert", os.path.join(here, "..", "fixtures", "quickdraw_raw.ndjson"),
              os.path.join(here, "..", "fixtures", "quickdraw_simplified.ndjson"), f"--out={out}",
              "--valid_fraction=0.2", "--test_fraction=0.2")
  assert r.returncode == 0, r.stderr
  data = npz_io.load_npz(out)
  total = sum(len(v) for v in data.values())
  assert total > 0 and all(s.dtype == np.int16 and s.shape[1] == 3
                           for v in data.values() for s in v)
  info = run_cli("info", str(out))
  assert info.returncode == 0 and "scale factor" in info.stdout


def test_convert_bad_json_names_file_and_line(tmp_path):
  here = os.path.dirname(os.path.abspath(__file__))
  bad = os.path.join(here, "..", "fixtures", "bad_json.ndjson")
  r = run_cli("convert", bad, f"--out={tmp_path / 'x.npz'}")
  assert r.returncode == 2
  assert "bad_json.ndjson:3: bad JSON" in r.stderr and "Traceback" not in r.stderr
