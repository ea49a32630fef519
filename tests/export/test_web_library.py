"""The sketch-rnn-tf npm package (export/web/): packed with `npm pack`, installed into a temp
project and run in Node (tests/js_tfjs/check_library.mjs), against Python.

The install needs no network: its dependencies (@tensorflow/tfjs and
@tensorflow/tfjs-backend-wasm 4.22) come from export/web/node_modules (`npm ci` there, as
scripts/setup_js.sh does), hard-linked into the temp project, and `npm install --offline`
adds the tarball. Without node, npm or those modules these tests skip, and fail under CI.
"""
import json
import os
import shutil
import subprocess
import tarfile
import time

import numpy as np
import pytest

from sketch_rnn_tf.testing import (GEN_JSON_TOLERANCE, REPO, FileServer, model_pdf,
                                   pretrained_path, random_noise, require, small_gen_json_document)
from tests.export.test_gen_json import _endless  # a server that streams forever

WEB = os.path.join(REPO, "export", "web")
DRIVER = os.path.join(REPO, "tests", "js_tfjs", "check_library.mjs")
OLD_HEADER = {"mode": "gen", "version": 2, "r_loss": -0.2745, "training_size": 70000}
# JS (float32, its own summation order) against Python, per MDN parameter / state value.
STEP_TOLERANCE = 1e-4

pytestmark = pytest.mark.slow  # npm, Node and training runs


@pytest.fixture(scope="module")
def project(tmp_path_factory):
  """A temp project with the packed package installed by npm; returns its directory."""
  for tool in ("node", "npm"):
    require(shutil.which(tool) is not None, f"{tool} missing: apt-get install -y nodejs npm")
  for dep in ("tfjs", "tfjs-backend-wasm"):
    require(os.path.isdir(os.path.join(WEB, "node_modules", "@tensorflow", dep)),
            f"@tensorflow/{dep} missing: cd export/web && npm ci")
  tmp = tmp_path_factory.mktemp("npm")
  r = subprocess.run(["npm", "pack", "--json", "--pack-destination", str(tmp)], cwd=WEB,
                     capture_output=True, text=True, timeout=300)
  assert r.returncode == 0, r.stderr[-3000:]
  tarball = tmp / json.loads(r.stdout)[0]["filename"]
  proj = tmp / "project"
  proj.mkdir()
  (proj / "package.json").write_text(json.dumps({"name": "t", "private": True,
                                                 "type": "module"}))
  install(tarball, proj, tmp)
  shutil.copy(DRIVER, proj / "check_library.mjs")
  return {"dir": proj, "tarball": tarball}


def install(tarball, proj, tmp):
  """`npm install --offline` of the tarball, its dependencies already in place: export/web's
  node_modules hard-linked in (no copy, no network). Where hard links cannot be made (another
  file system), the tarball is unpacked where npm would put it and the dependencies are
  linked to export/web's."""
  modules = os.path.join(WEB, "node_modules")
  try:
    shutil.copytree(modules, proj / "node_modules", copy_function=os.link, symlinks=True,
                    ignore=shutil.ignore_patterns(".package-lock.json", "@magenta"))
  except OSError:
    shutil.rmtree(proj / "node_modules", ignore_errors=True)
    (proj / "node_modules").mkdir()
    with tarfile.open(tarball) as tar:
      tar.extractall(tmp / "unpacked", filter="data")
    (tmp / "unpacked" / "package").rename(proj / "node_modules" / "sketch-rnn-tf")
    os.symlink(os.path.join(modules, "@tensorflow"), proj / "node_modules" / "@tensorflow")
    return
  r = subprocess.run(["npm", "install", "--offline", "--no-audit", "--no-fund",
                      "--no-package-lock", str(tarball)], cwd=proj, capture_output=True,
                     text=True, timeout=300)
  assert r.returncode == 0, r.stderr[-3000:]
  assert (proj / "node_modules" / "sketch-rnn-tf" / "src" / "index.js").exists()


def run_tasks(project, tasks, timeout=600):
  request = project["dir"] / f"request_{time.monotonic_ns()}.json"
  result = request.with_suffix(".out.json")
  request.write_text(json.dumps({"tasks": tasks}))
  r = subprocess.run(["node", "check_library.mjs", str(request), str(result)],
                     cwd=project["dir"], capture_output=True, text=True, timeout=timeout)
  assert r.returncode == 0, r.stderr[-3000:]
  results = json.loads(result.read_text())
  return results


def ok(result):
  assert "error" not in result or result.get("error") is None, result.get("error")
  return result


def test_packed_tarball(project):
  """What `npm pack` puts in the package: the library, its README and licence, no more."""
  with tarfile.open(project["tarball"]) as tar:
    names = sorted(tar.getnames())
    meta = json.load(tar.extractfile("package/package.json"))
  assert "package/README.md" in names and "package/LICENSE" in names
  assert "package/src/index.js" in names
  assert all(n.startswith("package/src/") or n in (
      "package/README.md", "package/LICENSE", "package/package.json") for n in names), names
  assert meta["name"] == "sketch-rnn-tf" and meta["type"] == "module"
  assert meta["license"] == "Apache-2.0"
  assert meta["exports"]["."] == "./src/index.js"
  assert meta["dependencies"] == {"@tensorflow/tfjs": "4.22.0",
                                  "@tensorflow/tfjs-backend-wasm": "4.22.0"}
  assert meta["devDependencies"]["@magenta/sketch"] == "0.2.0"


# ---- .gen.json decoders -----------------------------------------------------------------

def compare_pdf(js_steps, ours, label):
  names = dict(pi="pi", mu_x="muX", mu_y="muY", sigma_x="sigmaX", sigma_y="sigmaY",
               rho="corr", pen="pen")
  diffs = {}
  for name, js in names.items():
    got = np.array([step[js] for step in js_steps], np.float64)
    assert got.shape == ours[name].shape, (name, got.shape, ours[name].shape)
    diffs[name] = float(np.abs(got - ours[name]).max())
  print(f"{label}: max abs diff to Python: {diffs}")
  assert max(diffs.values()) <= GEN_JSON_TOLERANCE, diffs


@pytest.mark.shared
@pytest.mark.parametrize("backend", ["wasm-simd", "js"])
def test_gen_json_steps_match_python(project, sheep_inputs, backend):
  """The JS decoder step (lstm_decoder.js) on the published sheep decoder, teacher-forced over
  a real sheep: getPDF after each step against our Keras model, at temperature 1 (the plain
  parameters) and 0.5 (getPDF's temperature means what Python's does)."""
  from sketch_rnn_tf.export import gen_json
  path = pretrained_path("sheep")
  model = gen_json.model_from_gen_json(path)
  results = run_tasks(project, [
      {"kind": "steps", "source": path, "backend": backend, "inputs": sheep_inputs.tolist(),
       "temperature": tau} for tau in (1.0, 0.5)])
  for result, tau in zip(results, (1.0, 0.5)):
    assert ok(result)["backend"] == backend
    compare_pdf(result["pdf"], model_pdf(model, sheep_inputs, tau), f"sheep {backend} {tau}")


def test_old_header_and_small_decoder_match_python(project, tmp_path):
  """Both header forms parse; a small decoder's steps match Python's (no ../shared needed)."""
  from sketch_rnn_tf.export import gen_json
  from sketch_rnn_tf.testing import synthetic_inputs, unconditional_model
  doc = gen_json.gen_json_document(unconditional_model(units=24, seed=4))
  paths = {}
  for header in ("current", "old"):
    if header == "old":
      doc[0].update(OLD_HEADER)
    paths[header] = str(tmp_path / f"{header}.gen.json")
    with open(paths[header], "w", encoding="utf-8") as f:
      json.dump(doc, f)
  inputs = synthetic_inputs(20, seed=2)
  results = run_tasks(project, [{"kind": "steps", "source": p, "inputs": inputs.tolist()}
                                for p in paths.values()])
  for (header, path), result in zip(paths.items(), results):
    compare_pdf(ok(result)["pdf"], model_pdf(gen_json.model_from_gen_json(path), inputs), header)


def python_loop(model, noise, temperature, z=None, labels=None):
  """Python's sampling loop (the TF.js-flavoured graph function, eager) on the same noise."""
  import tensorflow as tf
  from sketch_rnn_tf.export import tfjs_graphs
  cond = {} if z is None else {"z": tf.constant(np.asarray(z, np.float32))}
  if labels is not None:
    cond["labels"] = tf.constant(np.asarray(labels, np.int32))
  out = tfjs_graphs.TfjsGraphs(model).sample_noise(
      tf.constant(np.full([noise.shape[1]], temperature, np.float32)), tf.constant(noise), **cond)
  return out["strokes"].numpy(), out["lengths"].numpy()


def compare_sketches(model, sketches, noise, temperature, z=None, labels=None):
  want, lengths = python_loop(model, noise, temperature, z, labels)
  scale = model.scale_factor
  assert [len(s) for s in sketches] == lengths.tolist()
  assert lengths.max() > 5  # the comparison covers real drawing
  for s, w, n in zip(sketches, want, lengths):
    got = np.asarray(s, np.float64).reshape(-1, 5)
    np.testing.assert_allclose(got[:, :2] / scale, w[:n, :2] / scale, atol=1e-4)
    np.testing.assert_array_equal(got[:, 2:], w[:n, 2:])


@pytest.mark.shared
def test_gen_json_generate_matches_python(project):
  """Whole sketches from the sheep decoder: the same noise draws the same points."""
  from sketch_rnn_tf.export import gen_json
  path = pretrained_path("sheep")
  noise, tau = random_noise(100, 3, seed=5), 0.4
  [result] = run_tasks(project, [{"kind": "generate", "source": path, "noise": noise.tolist(),
                                  "temperature": tau}])
  compare_sketches(gen_json.model_from_gen_json(path), ok(result)["sketches"], noise, tau)


# ---- our TF.js export (a trained VAE) -----------------------------------------------------

def python_steps(model, inputs, z):
  """Python's initial state from z and the decode_step chain over the inputs."""
  import tensorflow as tf
  from sketch_rnn_tf.testing import python_decode_step
  z = np.asarray([z], np.float32)
  state = np.concatenate([v.numpy() for v in model.decoder.initial_state(tf.constant(z), 1)], 1)
  steps = [state]
  for prev in inputs:
    out = python_decode_step(model, np.asarray([prev], np.float32), steps[-1], z)
    steps.append(out.pop("state"))
    yield out, steps[-1]


@pytest.mark.shared  # the trained VAE: a tiny run on ../shared's sheep
@pytest.mark.parametrize("backend", ["tfjs-wasm", "tfjs-cpu"])
def test_export_steps_match_python(project, converted, backend):
  """The export through the @magenta/sketch surface (zeroState(z), update) against Python's
  decoder: the initial state, every step's MDN parameters and state."""
  from sketch_rnn_tf.export import tfjs_graphs
  model, tfjs_dir = converted
  rng = np.random.default_rng(1)
  z = rng.normal(size=model.hp.z_size).tolist()
  points = np.concatenate([rng.normal(0, 20, (11, 2)), np.eye(3)[rng.integers(0, 2, 11)]], 1)
  inputs = np.concatenate([[[0, 0, 1, 0, 0]], points]).astype(np.float32)
  [result] = run_tasks(project, [{"kind": "steps", "source": os.path.join(tfjs_dir, "manifest.json"),
                                  "inputs": inputs.tolist(), "z": z, "backend": backend}])
  assert ok(result)["backend"] == backend
  import tensorflow as tf
  want0 = np.concatenate([v.numpy() for v in model.decoder.initial_state(
      tf.constant([z], tf.float32), 1)], 1)[0]
  np.testing.assert_allclose(result["initial_state"], want0, atol=STEP_TOLERANCE)
  layout = tfjs_graphs.params_layout(model.hp.num_mixture)
  for k, (want, state) in enumerate(python_steps(model, inputs, z)):
    got = np.asarray(result["params"][k])
    for name, value in want.items():
      lo, hi = layout[name]
      np.testing.assert_allclose(got[lo:hi], value[0], atol=STEP_TOLERANCE, err_msg=f"{k} {name}")
    np.testing.assert_allclose(result["states"][k], state[0], atol=STEP_TOLERANCE)


def sheep_drawings(sheep_path, count=3, longest=40):
  """Real sheep (stroke-5 rows in pixels, no start token), cut to `longest` points."""
  from sketch_rnn_tf.data import npz_io, strokes
  out = []
  for s in npz_io.read_npz(sheep_path)["test"][:count]:
    s3 = np.asarray(s[:longest], np.float32)
    out.append(strokes.to_stroke5(s3)[:len(s3)])
  return out


@pytest.mark.shared  # the trained VAE: a tiny run on ../shared's sheep
@pytest.mark.parametrize("backend", ["tfjs-wasm", "tfjs-cpu"])
def test_export_encode_and_reconstruct_match_python(project, converted, sheep_path, backend):
  """encode: our encoder's mu for real sheep (a batch of unequal lengths and one alone);
  generate from z and reconstruct: Python's loop on the same noise (batches of 2: the
  wasm backend runs the graphs with their MatMul + BiasAdd unfused)."""
  import tensorflow as tf
  model, tfjs_dir = converted
  source = os.path.join(tfjs_dir, "manifest.json")
  drawings = sheep_drawings(sheep_path)
  noise, tau = random_noise(60, 2, seed=8), 0.5
  z = np.random.default_rng(3).normal(size=(2, model.hp.z_size))
  results = run_tasks(project, [
      {"kind": "encode", "source": source, "drawings": [d.tolist() for d in drawings],
       "backend": backend},
      {"kind": "reconstruct", "source": source, "drawing": drawings[1].tolist(),
       "noise": noise.tolist(), "temperature": tau, "backend": backend},
      {"kind": "generate", "source": source, "noise": noise.tolist(), "temperature": tau,
       "z": z.tolist(), "backend": backend}])
  encoded, reconstructed, generated = map(ok, results)
  lengths = [len(d) for d in drawings]
  padded = np.zeros((len(drawings), max(lengths), 5), np.float32)
  padded[..., 4] = 1
  for k, d in enumerate(drawings):
    padded[k, :len(d)] = d
  padded[..., :2] /= model.scale_factor
  mu, _ = model.encoder(tf.constant(padded), tf.constant(lengths, tf.int32))
  np.testing.assert_allclose(encoded["z"], mu.numpy(), atol=1e-5)
  assert np.abs(mu.numpy()).max() > 1e-3  # a real code, not the zero start
  np.testing.assert_allclose(reconstructed["z"], mu.numpy()[1], atol=1e-5)
  z_rec = np.repeat(np.asarray(reconstructed["z"], np.float32)[None], 2, axis=0)
  compare_sketches(model, reconstructed["sketches"], noise, tau, z_rec)
  compare_sketches(model, generated["sketches"], noise, tau, z.astype(np.float32))


def test_class_conditional_hyper_export_matches_python(project, tmp_path):
  """A HyperLSTM decoder with class labels (layer norm, the scales as a batched matmul, which
  TF.js's wasm backend runs: it has no Einsum kernel) on each TF.js backend 'auto' tries,
  against Python's loop (its scales an einsum); 'auto' starts both, with no failure."""
  from tests.export.conftest import need_converter
  from sketch_rnn_tf.export import tfjs as tfjs_convert
  from sketch_rnn_tf.testing import random_export_model
  need_converter()
  model = random_export_model("num_classes=3,dec_model=hyper")
  tfjs_convert.convert(model, str(tmp_path / "tfjs"))
  noise, tau = random_noise(40, 3, seed=2), 0.6
  z = np.random.default_rng(4).normal(size=(3, model.hp.z_size)).astype(np.float32)
  labels = [2, 0, 1]
  task = {"kind": "generate", "source": str(tmp_path / "tfjs" / "manifest.json"),
          "noise": noise.tolist(), "temperature": tau, "z": z.tolist(), "labels": labels}
  backends = ["tfjs-wasm", "tfjs-cpu", "auto"]
  results = run_tasks(project, [{**task, "backend": b} for b in backends])
  for backend, result in zip(backends, map(ok, results)):
    if backend == "auto":
      assert result["backend"] in ("tfjs-wasm", "tfjs-cpu") and result["notes"] == [], result
    else:
      assert result["backend"] == backend
    compare_sketches(model, result["sketches"], noise, tau, z, labels)


# ---- the rest of the API, memory, errors ---------------------------------------------------

def api_result(project, source, sheep_path):
  drawing = sheep_drawings(sheep_path, 1, 20)[0].tolist()
  return ok(run_tasks(project, [{"kind": "api", "source": source, "drawing": drawing}])[0])


def check_common_api(r):
  assert r["generate"]["n"] == 4 and r["generate"]["finite"]
  assert all(0 <= n <= 60 for n in r["generate"]["lengths"]) and max(r["generate"]["lengths"]) > 0
  assert r["seed_reproduces"] and r["stream_matches_generate"] and r["lines_round_trip"]
  assert r["complete"]["n"] == 3 and r["complete"]["finite"]
  assert r["magenta_loop"]["points"] > 0 and r["magenta_loop"]["finite"]
  extra = r["magenta_extra"]
  assert extra["initialized"] and extra["update_strokes_matches"] and extra["copy_is_equal"]
  assert extra["h"] == extra["c"] == extra["units"] == r["info"]["units"]
  assert extra["scale"] == r["info"]["scaleFactor"] and extra["max_seq_len"] > 0


@pytest.mark.shared  # the trained VAE: a tiny run on ../shared's sheep
def test_api_on_the_export(project, converted, sheep_path):
  from sketch_rnn_tf.sampling import latent
  r = api_result(project, os.path.join(converted[1], "manifest.json"), sheep_path)
  check_common_api(r)
  assert r["backend"].startswith("tfjs-") and r["info"]["conditional"]
  za = np.asarray(r["za"])
  for method, name in (("slerp", "slerp"), ("linear", "linear")):
    got = r[f"interpolate_{method}"]
    assert got["n"] == 5 and got["finite"]
    np.testing.assert_allclose(got["z"], latent.interpolate(za, -za, 5, name), atol=1e-5)
  assert r["interpolate_drawings"] == 3 and r["decode"] == 2 and r["stroke3_same_code"]


@pytest.mark.shared
def test_api_on_a_gen_json(project, sheep_path):
  r = api_result(project, pretrained_path("sheep"), sheep_path)
  check_common_api(r)
  assert r["backend"] in ("wasm-simd", "js") and not r["info"]["conditional"]
  for what in ("encode", "interpolate", "decode"):
    assert "needs a conditional (VAE) model" in r[f"{what}_error"]


@pytest.mark.shared
def test_no_tensor_leaks_over_100_sketches(project, converted, sheep_path):
  drawing = sheep_drawings(sheep_path, 1, 15)[0].tolist()
  results = run_tasks(project, [
      {"kind": "memory", "source": os.path.join(converted[1], "manifest.json"), "count": 100,
       "maxLen": 40, "drawing": drawing},
      {"kind": "memory", "source": pretrained_path("sheep"), "count": 100, "maxLen": 40,
       "drawing": drawing}])
  for r in map(ok, results):
    assert r["before"] == r["after"] and r["points"] > 100, r


def test_rdp_matches_python(project):
  """simplify() against sketch_rnn_tf.data.simplify on random strokes with the cases that
  decide RDP's output: ties, repeated points, closed loops, collinear runs, one-point strokes."""
  from sketch_rnn_tf.data import simplify as py_simplify
  rng = np.random.default_rng(0)
  lines = [rng.normal(0, 30, (n, 2)).cumsum(0).round(rng.integers(0, 3)).tolist()
           for n in rng.integers(0, 60, 40)]
  lines += [[[0, 0], [1, 1], [2, 0], [3, 1], [4, 0]],        # equal distances: the first wins
            [[0, 0], [5, 0], [5, 5], [0, 5], [0, 0]],        # closed: distance to the start
            [[0, 0], [1, 0], [2, 0], [10, 0], [-5, 0]],      # collinear, overshooting
            [[3, 3]], [], [[1, 1], [1, 1], [1, 1]]]
  epsilons = [0.0, 0.5, 2.0, 10.0]
  results = run_tasks(project, [{"kind": "simplify", "lines": lines, "epsilon": e}
                                for e in epsilons])
  for e, r in zip(epsilons, results):
    want = py_simplify.simplify_polylines(lines, e)
    got = ok(r)["lines"]
    assert len(got) == len(want)
    for g, w in zip(got, want):
      assert np.asarray(g, np.float64).reshape(-1, 2).tolist() == w.tolist(), e


def _silent(handler):
  """A server that accepts and never answers."""
  time.sleep(30)


@pytest.mark.shared  # the trained VAE: a tiny run on ../shared's sheep
def test_errors_are_one_clear_message(project, converted, tmp_path):
  """Each bad source rejects with an Error naming it and what is wrong, without hanging."""
  model_json = os.path.join(converted[1], "decode_step", "model.json")
  with open(os.path.join(converted[1], "manifest.json"), encoding="utf-8") as f:
    future = dict(json.load(f), export_format=99)
  files = {"future/manifest.json": future,
           "vae.gen.json": small_gen_json_document(mode=1),
           "v9.gen.json": small_gen_json_document(version=9),
           "other.json": {"hello": "world"}}
  bad_b64 = small_gen_json_document()
  bad_b64[2][3] = "!!!" + bad_b64[2][3][3:]
  files["bad_b64.gen.json"] = bad_b64
  for name, doc in files.items():
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(json.dumps(doc))
  (tmp_path / "page.html").write_text("<html>not a model</html>")
  # An export whose decode_step uses an op no TF.js backend has.
  from tests.export.conftest import broken_export
  broken = broken_export(converted[1], tmp_path / "broken")
  served = {name: str(tmp_path / name) for name in files}
  served.update({"page.html": str(tmp_path / "page.html"), "model.json": model_json,
                 "silent": _silent, "endless": _endless})
  # Positive controls: a whole export and a .gen.json, by URL.
  for root, _, names in os.walk(converted[1]):
    for name in names:
      rel = os.path.relpath(os.path.join(root, name), converted[1]).replace(os.sep, "/")
      served[f"export/{rel}"] = os.path.join(root, name)
  from sketch_rnn_tf.export import gen_json
  from sketch_rnn_tf.testing import unconditional_model
  gen_json.write_gen_json(unconditional_model(units=16), str(tmp_path / "good.gen.json"))
  served["good.gen.json"] = str(tmp_path / "good.gen.json")
  with FileServer(served) as server:
    cases = [  # (source, options, what the message must say)
        (server.url("missing.gen.json"), {}, "could not fetch: HTTP 404"),
        (server.url("page.html"), {}, "not a Sketch-RNN model (not JSON"),
        (server.url("other.json"), {}, "not a Sketch-RNN model (expected our export's manifest"),
        (server.url("model.json"), {}, "a TF.js model.json, not a Sketch-RNN model"),
        (server.url("vae.gen.json"), {}, "is a VAE .gen.json"),
        (server.url("v9.gen.json"), {}, "unknown .gen.json version 9"),
        (server.url("bad_b64.gen.json"), {}, "weights[3] is not valid base64"),
        (server.url("future/manifest.json"), {}, "export_format 99 is not one this library runs"),
        (server.url("silent"), {"timeoutMs": 1500}, "no answer within 1.5 s"),
        (server.url("endless"), {"maxBytes": 1 << 20}, "more than 1048576 bytes (option maxBytes)"),
        (str(tmp_path / "nowhere.gen.json"), {}, "could not read: no such file"),
        ("http://127.0.0.1:1/x.gen.json", {}, "could not fetch"),
        (os.path.join(converted[1], "manifest.json"), {"backend": "wasm-simd"},
         "a TF.js export runs on a TF.js backend"),
        (os.path.join(converted[1], "manifest.json"), {"backend": "tfjs-nope"}, "unknown backend"),
        (str(broken / "manifest.json"), {}, "this model cannot run on TF.js 4.22.0 here"),
        (str(broken / "manifest.json"), {}, "NoSuchOp"),
    ]
    t0 = time.monotonic()
    results = run_tasks(project, [{"kind": "load", "source": s, "options": o}
                                  for s, o, _ in cases], timeout=120)
    assert time.monotonic() - t0 < 60
    good = run_tasks(project, [{"kind": "load", "source": server.url(name)}
                               for name in ("export/manifest.json", "good.gen.json")])
  assert [g["error"] for g in good] == [None, None], good
  assert good[0]["backend"].startswith("tfjs-") and good[1]["backend"] in ("wasm-simd", "js")
  for (source, _, message), r in zip(cases, results):
    assert r["error"] is not None, (source, r)
    assert message in r["error"], (message, r["error"])
    assert r["ms"] < 10000, (source, r["ms"])
    if "unknown backend" not in message and "runs on a TF.js" not in message:
      assert source in r["error"] or source.split("/")[-1] in r["error"], r["error"]


@pytest.mark.shared
def test_page_and_library_on_a_gen_json_in_chromium(project, tmp_path):
  """In headless Chromium: the library as a <script type="module"> (the demo page, given a
  .gen.json) picks the WebAssembly SIMD kernel, draws, finishes a drawn stroke; and the module
  imported in the page draws Python's sketches on Python's noise."""
  import sys
  from sketch_rnn_tf.export import gen_json
  from tests.export.test_tfjs import _need_browser, draw_and_finish, launch_chromium
  _need_browser()
  sys.path.insert(0, WEB)
  import serve
  from playwright.sync_api import sync_playwright
  path = pretrained_path("sheep")
  extra = tmp_path / "extra"
  extra.mkdir()
  shutil.copy(path, extra / "sheep.gen.json")
  noise, tau = random_noise(80, 2, seed=11), 0.45
  server, url = serve.serve_in_thread(str(tmp_path), str(extra))
  errors = []
  try:
    with sync_playwright() as p:
      context = launch_chromium(p)
      page = context.new_page()
      page.on("pageerror", lambda e: errors.append(str(e)))
      page.goto(url + "?model=/extra/sheep.gen.json")
      page.wait_for_function("window.demoState && (window.demoState.error || "
                             "window.demoState.gallery)", timeout=120000)
      draw_and_finish(page)
      state = page.evaluate("window.demoState")
      sketches = page.evaluate("""async ([noise, tau]) => {
          const {SketchRNN} = await import('/src/index.js');
          const m = await SketchRNN.load('/extra/sheep.gen.json', {pixelFactor: 1});
          return {backend: m.backend, sketches: await m.generate(
              {n: noise[0].length, noise, temperature: tau, maxLen: noise.length})};
        }""", [noise.tolist(), tau])
      context.close()
  finally:
    server.shutdown()
  assert state["error"] is None and not errors, (state["error"], errors)
  assert state["backend"] == "wasm-simd" == sketches["backend"]
  assert len(state["completions"]) == 4 and len(state["gallery"]) == 8
  for item in state["completions"] + state["gallery"]:
    assert item["finite"] and 0 <= item["length"] <= 250
  assert all(item["lines"] > 0 for item in state["completions"])
  compare_sketches(gen_json.model_from_gen_json(path), sketches["sketches"], noise, tau)
