"""Our imported decoders against @magenta/sketch 0.2.0 itself, run by Node.

tests/js_magenta/magenta_pdf.js loads a .gen.json from a local HTTP server
(the package fetches its model), feeds a real sheep sketch step by step and
prints getPDF after each step; our teacher-forced Keras model must give the
same mixture parameters. A file written by us must load there and match too.

Needs `npm ci --prefix tests/js_magenta` (and node on the PATH).
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from sketch_rnn_tf.testing import (GEN_JSON_STEPS as STEPS, GEN_JSON_TOLERANCE as TOLERANCE,
                                   REPO, FileServer, model_pdf, pretrained_path, require,
                                   synthetic_inputs, unconditional_model)

JS_DIR = os.path.join(REPO, "tests", "js_magenta")
SCRIPT = os.path.join(JS_DIR, "magenta_pdf.js")
PACKAGE = os.path.join(JS_DIR, "node_modules", "@magenta", "sketch")
# getPDF's names for our parameters.
JS_NAMES = dict(pi="pi", mu_x="muX", mu_y="muY", sigma_x="sigmaX", sigma_y="sigmaY",
                rho="corr", pen="pen")

pytestmark = pytest.mark.slow  # subprocesses, Node/Chromium or training runs


@pytest.fixture(scope="module")
def node():
  node = shutil.which("node")
  problem = None
  if node is None:
    problem = "node is not on the PATH (install Node.js 18+)"
  elif not os.path.isdir(PACKAGE):
    problem = (f"{PACKAGE} is missing: run `npm ci --prefix tests/js_magenta` "
               "to install @magenta/sketch 0.2.0")
  require(problem is None, problem)
  return node


def magenta_pdf(node, tmp_path, url, inputs_px, temperature=1.0, softmax_temperature=1.0):
  """getPDF after each input stroke, from @magenta/sketch: dict of [T, ...] arrays."""
  request = tmp_path / "request.json"
  request.write_text(json.dumps({"url": url, "strokes": np.asarray(inputs_px).tolist(),
                                 "temperature": temperature,
                                 "softmax_temperature": softmax_temperature}))
  r = subprocess.run([node, SCRIPT, str(request)], capture_output=True, text=True,
                     timeout=300, cwd=JS_DIR)
  assert r.returncode == 0, r.stderr[-3000:]
  steps = json.loads(r.stdout)["steps"]
  assert len(steps) == len(inputs_px)
  return {ours: np.array([s[js] for s in steps], np.float64) for ours, js in JS_NAMES.items()}


def compare(ours, theirs, label):
  diffs = {k: float(np.abs(ours[k] - theirs[k]).max()) for k in ours}
  print(f"{label}: max abs diff to @magenta/sketch over {len(ours['pi'])} steps: {diffs}")
  assert all(ours[k].shape == theirs[k].shape for k in ours)
  assert max(diffs.values()) <= TOLERANCE, diffs


# A temperature of 1 compares the plain parameters; 0.5 (with the same softmax
# temperature) checks that our temperature_params means what getPDF means.
@pytest.mark.shared
@pytest.mark.parametrize("name, temperature", [("bird", 1.0), ("sheep", 0.5)])
def test_published_decoder_matches_magenta_sketch(node, tmp_path, sheep_inputs, name,
                                                  temperature):
  from sketch_rnn_tf.export import gen_json
  path = pretrained_path(name)
  with FileServer({f"{name}.gen.json": path}) as server:
    theirs = magenta_pdf(node, tmp_path, server.url(f"{name}.gen.json"), sheep_inputs,
                         temperature, temperature)
  ours = model_pdf(gen_json.model_from_gen_json(path), sheep_inputs, temperature)
  compare(ours, theirs, f"{name} (temperature {temperature})")


def test_written_file_loads_in_magenta_sketch(node, tmp_path):
  from sketch_rnn_tf.export import gen_json
  model = unconditional_model(units=64, seed=3)
  path = str(tmp_path / "ours.gen.json")
  gen_json.write_gen_json(model, path)
  inputs = synthetic_inputs(STEPS, seed=5)
  with FileServer({"ours.gen.json": path}) as server:
    theirs = magenta_pdf(node, tmp_path, server.url("ours.gen.json"), inputs)
  # What the file holds, read back: the same numbers @magenta/sketch runs.
  compare(model_pdf(gen_json.model_from_gen_json(path), inputs), theirs, "written by us")


@pytest.mark.shared
def test_file_written_from_a_model_trained_here_loads_in_magenta_sketch(node, tmp_path,
                                                                        sheep_path,
                                                                        sheep_inputs):
  """The trainer's own output (an unconditional LSTM decoder, M = 20) -> sketch-rnn-import
  --write_gen_json -> @magenta/sketch, against our outputs on real sheep strokes."""
  from sketch_rnn_tf.export import gen_json
  from sketch_rnn_tf.utils import run_dir
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  run = str(tmp_path / "run")
  path = str(tmp_path / "trained.gen.json")
  for args in (["-m", "sketch_rnn_tf.cli.train", f"--data={sheep_path}", "--preset=tiny",
                "--hparams=conditional=false,num_mixture=20", f"--model_dir={run}", "--steps=20",
                "--eval_every=20", "--save_every=20", "--log_every=20", "--nojit_compile"],
               ["-m", "sketch_rnn_tf.cli.import_model", f"--model_dir={run}",
                f"--write_gen_json={path}"]):
    r = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                       timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
  trained = run_dir.load_model(run)
  inputs = sheep_inputs
  with FileServer({"trained.gen.json": path}) as server:
    theirs = magenta_pdf(node, tmp_path, server.url("trained.gen.json"), inputs)
  compare(model_pdf(gen_json.model_from_gen_json(path), inputs), theirs, "trained here")
  # And the trained model itself, before int16 rounding: within what rounding
  # (10 / 32767 per weight, H + 1 terms per output) can move the parameters.
  ours = model_pdf(trained, inputs)
  bound = (trained.hp.dec_rnn_size + 6) * 10.0 / 32767
  for key in ours:
    assert np.abs(ours[key] - theirs[key]).max() <= bound, key
