"""TF.js artifacts: converted graphs in Node (pure @tensorflow/tfjs 4.22) and the demo page
in headless Chromium.

Needs, besides the venv with the `tfjs` extra: `cd export/web && npm ci` (TF.js for Node
and the page), `apt-get install -y chromium` and `pip install playwright` (Playwright
drives the Debian Chromium: `playwright install` is never run). Without them these tests
skip, and fail under CI (env CI set), naming the command.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest
import tensorflow as tf

from sketch_rnn_tf.data import strokes
from sketch_rnn_tf.export import signatures as export
from sketch_rnn_tf.export import tfjs_graphs
from sketch_rnn_tf.testing import (REPO, python_decode_step, random_export_model, random_noise,
                                   require)
from tests.export.conftest import need_converter

WEB = os.path.join(REPO, "export", "web")
NODE_CHECK = os.path.join(REPO, "tests", "js_tfjs", "check_tfjs.js")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.slow  # subprocesses, Node/Chromium or training runs


def _missing(message):
  require(False, message)


def _need_converter():
  need_converter()


def _need_node_tfjs():
  if shutil.which("node") is None:
    _missing("node missing: apt-get install -y nodejs npm")
  if not os.path.isdir(os.path.join(WEB, "node_modules", "@tensorflow", "tfjs")):
    _missing("@tensorflow/tfjs missing: cd export/web && npm ci")


def _need_browser():
  _need_node_tfjs()
  if not os.path.exists(CHROMIUM):
    _missing("chromium missing: apt-get install -y chromium")
  try:
    import playwright  # noqa: F401
  except ImportError:
    _missing("playwright missing: .venv/bin/pip install playwright "
             "(no `playwright install`: the Debian chromium is used)")


def test_manifest(converted):
  model, out = converted
  with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
    manifest = json.load(f)
  assert manifest["format"] == "sketch-rnn-tfjs"
  assert manifest["scale_factor"] == pytest.approx(model.scale_factor)
  assert manifest["state_sizes"] == list(model.decoder.cell.state_size)
  step = manifest["graphs"]["decode_step"]
  assert step["execute"] == "execute"
  assert manifest["graphs"]["sample"]["execute"] == "executeAsync"
  names = sorted(step["outputs"])
  assert [step["outputs"][n]["node"] for n in names] == (
      ["Identity:0"] + [f"Identity_{k}:0" for k in range(1, len(names))])
  assert step["inputs"]["prev"] == {"node": "prev:0", "dtype": "float32", "shape": [-1, 5]}
  assert sorted(step["outputs"]) == ["params", "state"]
  assert manifest["params_layout"] == tfjs_graphs.params_layout(model.hp.num_mixture)
  for name in manifest["graphs"]:
    assert os.path.exists(os.path.join(out, manifest["graphs"][name]["path"]))
    with open(os.path.join(out, name, "model.json"), encoding="utf-8") as f:
      text = f.read()
    for op in ("StatelessRandom", "StatelessMultinomial", "StatelessTruncated", "Assert",
               "CheckNumerics"):  # not in TF.js (StatelessWhile is)
      assert f'"op": "{op}' not in text and f'"op":"{op}' not in text


def run_node(model, tfjs_dir, tmp_dir, steps=60):
  """Node's answers (check_tfjs.js) for fixed inputs, and those inputs."""
  _need_node_tfjs()
  rng = np.random.default_rng(0)
  batch = 4
  prev = np.array([[0, 0, 1, 0, 0], [12.0, -3.0, 1, 0, 0], [-7.5, 20.0, 0, 1, 0],
                   [0.5, 0.5, 1, 0, 0]], np.float32)
  width = sum(model.decoder.cell.state_size)
  inputs = {"prev": prev, "state": rng.normal(0, 0.5, (batch, width)).astype(np.float32),
            "temperature": np.full([batch], 0.6, np.float32),
            "noise": random_noise(steps, batch, seed=3)}
  cond = []
  if model.hp.conditional:
    inputs["z"] = rng.normal(size=(batch, model.hp.z_size)).astype(np.float32)
    cond.append("z")
  if model.hp.num_classes:
    inputs["labels"] = (np.arange(batch) % model.hp.num_classes).astype(np.int32)
    cond.append("labels")
  request = {"tfjs_dir": tfjs_dir,
             "decode_step": {k: inputs[k].tolist() for k in ["prev", "state"] + cond},
             "sample": {k: inputs[k].tolist() for k in ["temperature", "noise"] + cond}}
  if model.hp.conditional:
    lengths = np.array([9, 3, 12, 1], np.int32)
    strokes = rng.normal(0, 15, (batch, 12, 5)).astype(np.float32)
    strokes[..., 2:] = np.eye(3, dtype=np.float32)[rng.integers(0, 2, (batch, 12))]
    inputs.update(strokes=strokes, lengths=lengths)
    request["encode"] = {"strokes": strokes.tolist(), "lengths": lengths.tolist()}
  path = os.path.join(tmp_dir, "request.json")
  with open(path, "w", encoding="utf-8") as f:
    json.dump(request, f)
  r = subprocess.run(["node", NODE_CHECK, WEB, path], capture_output=True, text=True,
                     timeout=300)
  assert r.returncode == 0, r.stderr[-3000:]
  return json.loads(r.stdout), inputs


@pytest.fixture(scope="module")
def node_result(converted, tmp_path_factory):
  return run_node(*converted, str(tmp_path_factory.mktemp("node")))


def test_node_decode_step_matches_python(converted, node_result):
  check_decode_step(converted[0], *node_result)


def check_decode_step(model, result, x):
  assert result["backend"] == "cpu"
  want = python_decode_step(model, x["prev"], x["state"], x.get("z"), x.get("labels"))
  packed = np.asarray(result["decode_step"]["params"], np.float32)
  layout = tfjs_graphs.params_layout(model.hp.num_mixture)
  assert packed.shape == (len(x["prev"]), 3 + 6 * model.hp.num_mixture)
  for name, value in want.items():
    if name == "state":
      got = np.asarray(result["decode_step"]["state"], np.float32)
    else:
      got = packed[:, layout[name][0]:layout[name][1]]
    assert got.shape == value.shape, name
    assert np.abs(got - value).max() <= 1e-4, (name, np.abs(got - value).max())


def _python_loop(model, x):
  """The same loop in Python (TF.js flavour graph function, eager): strokes px, lengths."""
  builder = tfjs_graphs.TfjsGraphs(model)
  cond = {k: tf.constant(x[k]) for k in ("z", "labels") if k in x}
  out = builder.sample_noise(tf.constant(x["temperature"]), tf.constant(x["noise"]), **cond)
  return out["strokes"].numpy(), out["lengths"].numpy()


def test_node_encode_matches_python(converted, node_result):
  import tensorflow as tf
  model, (result, x) = converted[0], node_result
  s = x["strokes"].copy()
  s[..., :2] /= model.scale_factor
  mu, presig = model.encoder(tf.constant(s), tf.constant(x["lengths"]))
  np.testing.assert_allclose(result["encode"]["mu"], mu.numpy(), atol=1e-5)
  np.testing.assert_allclose(result["encode"]["presig"], presig.numpy(), atol=1e-5)
  assert np.abs(mu.numpy()).max() > 1e-3   # a real code, not the zero start


def test_node_sample_is_well_formed_and_matches_python(converted, node_result):
  check_sample(converted[0], *node_result)


def check_sample(model, result, x, graph_loop=True):
  """The converted loop's sketches (if graph_loop) and the per-step JS loop's, against
  Python's on the same noise."""
  steps, batch = x["noise"].shape[:2]
  want, want_lengths = _python_loop(model, x)
  check_js_loop(model, result, want, want_lengths)
  if not graph_loop:
    return
  assert "error" not in result["sample_graph"], result["sample_graph"]
  s5 = np.asarray(result["sample_graph"]["strokes"], np.float32)
  lengths = np.asarray(result["sample_graph"]["lengths"])
  assert s5.shape == (batch, steps, 5) and np.isfinite(s5).all()
  np.testing.assert_array_equal(s5[..., 2:].sum(-1), 1)
  assert set(np.unique(s5[..., 2:])) <= {0.0, 1.0}
  assert ((lengths >= 0) & (lengths <= steps)).all()
  for s, n in zip(s5, lengths):
    assert (s[n:] == strokes.END_TOKEN).all() and not s[:n, 4].any()
  # The same noise gives the same sketches as Python.
  np.testing.assert_array_equal(lengths, want_lengths)
  scale = model.scale_factor
  np.testing.assert_allclose(s5[..., :2] / scale, want[..., :2] / scale, atol=1e-4)
  np.testing.assert_array_equal(s5[..., 2:], want[..., 2:])


def check_js_loop(model, result, want, want_lengths):
  """The page's per-step loop (SketchModel.continue) against Python on the same noise."""
  scale = model.scale_factor
  js = result["sample_js"]
  assert js["lengths"] == list(want_lengths)
  for b, n in enumerate(want_lengths):
    got = np.asarray(js["points"][b], np.float32).reshape(-1, 5)
    np.testing.assert_allclose(got[:, :2] / scale, want[b, :n, :2] / scale, atol=1e-4)
    np.testing.assert_array_equal(got[:, 2:], want[b, :n, 2:])


def test_node_class_conditional_hyper_model(tmp_path):
  """The HyperLSTM (einsum, layer norm) and class labels through converter and TF.js."""
  _need_converter()
  from sketch_rnn_tf.export import tfjs as tfjs_convert
  model = random_export_model("num_classes=3,dec_model=hyper")
  tfjs_convert.convert(model, str(tmp_path / "tfjs"))
  result, x = run_node(model, str(tmp_path / "tfjs"), str(tmp_path), steps=30)
  check_decode_step(model, result, x)
  # The converted HyperLSTM loop too: it only runs in TF.js because decode_loop writes
  # each step's input, not a tensor made in the body, to its TensorArray.
  check_sample(model, result, x, graph_loop=True)


# ---- the demo page in headless Chromium ---------------------------------------------

def launch_chromium(playwright):
  """A persistent context of the Debian chromium with a fresh profile."""
  profile = tempfile.mkdtemp(prefix="chromium-profile-")
  return playwright.chromium.launch_persistent_context(
      profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
      viewport={"width": 1100, "height": 720})


def draw_and_finish(page, timeout_ms=120000):
  """Draws two strokes on the pad with the mouse (pointer events) and clicks Finish."""
  box = page.locator("#pad").bounding_box()
  x0, y0 = box["x"] + 50, box["y"] + 110
  page.mouse.move(x0, y0)
  page.mouse.down()
  for k in range(1, 36):
    page.mouse.move(x0 + 6 * k, y0 + 35 * math.sin(k / 5.5))
  page.mouse.up()
  page.mouse.move(x0 + 40, y0 + 60)
  page.mouse.down()
  for k in range(1, 12):
    page.mouse.move(x0 + 40, y0 + 60 + 6 * k)
  page.mouse.up()
  runs = page.evaluate("window.demoState.runs")
  page.click("#finish")
  page.wait_for_function(f"window.demoState.runs > {runs} || window.demoState.error",
                         timeout=timeout_ms)


def test_page_draws_in_chromium(converted, tmp_path):
  _need_browser()
  sys.path.insert(0, WEB)
  import serve
  from playwright.sync_api import sync_playwright
  server, url = serve.serve_in_thread(converted[1])
  errors = []
  try:
    with sync_playwright() as p:
      context = launch_chromium(p)
      page = context.new_page()
      page.on("pageerror", lambda e: errors.append(str(e)))
      page.goto(url)
      # Loading runs a first gallery of samples.
      page.wait_for_function("window.demoState && (window.demoState.error || "
                             "window.demoState.gallery)", timeout=120000)
      draw_and_finish(page)
      state = page.evaluate("window.demoState")
      blank = page.evaluate("""() => [...document.querySelectorAll(
          '#completions canvas, #gallery canvas')].map(c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i + 2] < 200) n++;
            return n; })""")
      page.screenshot(path=str(tmp_path / "web_demo.png"), full_page=True)
      docs_copy = os.environ.get("SKETCH_RNN_DOCS_SCREENSHOT")
      if docs_copy:
        shutil.copy(tmp_path / "web_demo.png", docs_copy)
      context.close()
  finally:
    server.shutdown()
  assert state["error"] is None and not errors, (state["error"], errors)
  assert state["backend"] in ("tfjs-wasm", "tfjs-cpu")  # the library's pick for an export
  assert len(state["completions"]) == 4 and len(state["gallery"]) == 8
  for item in state["completions"] + state["gallery"]:
    assert item["finite"] and 0 <= item["length"] <= 250
  # The completions show the drawn strokes at least; the gallery drew something.
  assert all(item["lines"] > 0 for item in state["completions"])
  assert len(blank) == 12 and min(blank[:4]) > 50 and sum(blank[4:]) > 0
  assert os.path.getsize(tmp_path / "web_demo.png") > 10000
