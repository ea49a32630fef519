"""Fixtures of the export tests."""
import json
import os
import shutil
import sys

import numpy as np
import pytest

from sketch_rnn_tf.testing import GEN_JSON_STEPS, require


def need_converter():
  """Skips (fails under CI) without tensorflowjs_converter beside this Python."""
  require(shutil.which("tensorflowjs_converter", path=os.path.dirname(sys.executable)) is not None,
          "tensorflowjs_converter missing: .venv/bin/pip install -e '.[tfjs]'")


@pytest.fixture(scope="session")
def converted(tiny_run, tmp_path_factory):
  """(model, tfjs dir) of the tiny run (a conditional model), converted with the export CLI's
  --tfjs path; shared by the TF.js tests."""
  need_converter()
  from sketch_rnn_tf.export import tfjs as tfjs_convert
  from sketch_rnn_tf.utils import run_dir
  model = run_dir.load_model(tiny_run)
  out = str(tmp_path_factory.mktemp("tfjs"))
  manifest = tfjs_convert.convert(model, out, version=1)
  assert sorted(manifest["graphs"]) == ["decode_step", "encode", "initial_state", "sample"]
  return model, out


@pytest.fixture(scope="module")
def sheep_inputs(sheep_path):
  """Decoder inputs in pixels: the start token, then a real sheep's first GEN_JSON_STEPS-1 points."""
  from sketch_rnn_tf.data import npz_io, strokes
  sketch = next(s for s in npz_io.read_npz(sheep_path)["test"] if len(s) >= GEN_JSON_STEPS)
  s5 = strokes.to_stroke5(np.asarray(sketch[:GEN_JSON_STEPS - 1], np.float32), start_token=True)
  return s5[:GEN_JSON_STEPS]


def broken_export(tfjs_dir, out_dir):
  """A copy of a TF.js export whose decode_step uses an op no TF.js backend has (NoSuchOp)."""
  shutil.copytree(tfjs_dir, out_dir)
  path = os.path.join(out_dir, "decode_step", "model.json")
  with open(path, encoding="utf-8") as f:
    graph = json.load(f)
  for node in graph["modelTopology"]["node"]:
    if node["op"] == "Sigmoid":
      node["op"] = "NoSuchOp"
  with open(path, "w", encoding="utf-8") as f:
    json.dump(graph, f)
  return out_dir
