"""The demo page (export/web/index.html, app.js) in headless Chromium: every capability, driven
by real pointer events (Playwright's mouse on the pad) and buttons, checked for ink on the
canvases and finite numbers, and against Python for the same model, noise and seed.

The page samples with the library's seeded noise (src/sampling.js: a seed gives the noise
[T][B][4] and the prior's codes); the tests read that noise in the page (the library's own
generator, imported there) and run Python's sampling loop on it, so a sketch the page shows
must be the sketch Python draws: same lengths, points within 1e-4 of the scale factor.

Needs what tests/export/test_tfjs.py's browser tests need (npm ci in export/web, Debian's
chromium, playwright); skips without them, and fails under CI.
"""
import io
import math
import os
import shutil
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from sketch_rnn_tf.testing import REPO

WEB = os.path.join(REPO, "export", "web")
TIMEOUT_MS = 180000
# JS (float32) against Python, per point / code value, as tests/export/test_web_library.py.
CODE_TOLERANCE = 1e-5

pytestmark = pytest.mark.slow  # Chromium, Node modules, training runs


# ---- driving the page (also used by scripts/web_page_screenshots.py) ------------------------

def sheep_strokes():
  """A sheep to draw on the 320 px pad: a woolly body, a head, two legs (canvas px)."""
  body = []
  for k in range(61):
    a = math.pi + 2 * math.pi * k / 60
    r = 1 + 0.07 * abs(math.sin(5 * a))
    body.append((175 + 88 * r * math.cos(a), 150 + 52 * r * math.sin(a)))
  head = [(95 + 24 * math.cos(a), 128 + 18 * math.sin(a))
          for a in (2 * math.pi * k / 24 for k in range(25))]
  return [body, head, [(140, 196), (138, 232)], [(215, 196), (217, 232)]]


def draw(page, strokes, element="#pad"):
  """Each stroke drawn with the mouse (pointerdown, pointermove per point, pointerup)."""
  box = page.locator(element).bounding_box()
  for stroke in strokes:
    x, y = stroke[0]
    page.mouse.move(box["x"] + x, box["y"] + y)
    page.mouse.down()
    for x, y in stroke[1:]:
      page.mouse.move(box["x"] + x, box["y"] + y)
    page.mouse.up()


def wait_count(page, name, count, timeout=TIMEOUT_MS):
  page.wait_for_function(
      f"(window.demoState.counts['{name}'] || 0) >= {count} || window.demoState.error",
      timeout=timeout)


def open_page(page, url):
  page.goto(url)
  page.wait_for_function("window.demoState && (window.demoState.error || "
                         "window.demoState.gallery)", timeout=TIMEOUT_MS)


def drive(page, url, strokes=None):
  """Opens the page on a model and uses every capability the model has: draws on the pad
  (the endings are redrawn after each stroke), auto-encodes, interpolates from the drawing to
  a sample, waits for an endless drawing to finish. Returns window.demoState."""
  open_page(page, url)
  error = page.evaluate("window.demoState.error")
  if error:
    return page.evaluate("window.demoState")
  strokes = strokes or sheep_strokes()
  draw(page, strokes)
  # The endings follow the drawing by themselves: wait for those of the whole drawing.
  page.wait_for_function(f"(window.demoState.finishInput || {{}}).strokes === {len(strokes)} "
                         "|| window.demoState.error", timeout=TIMEOUT_MS)
  if page.evaluate("window.demoState.info.conditional"):
    page.click("#autoencode")
    page.click("#a-from-pad")
    page.click("#b-sample")
    page.click("#interpolate")
    wait_count(page, "interpolate", 1)
  page.wait_for_function("window.demoState.endless.length >= 1 || window.demoState.error",
                         timeout=TIMEOUT_MS)
  return page.evaluate("window.demoState")


# ---- fixtures --------------------------------------------------------------------------------

def need_browser():
  from tests.export.test_tfjs import _need_browser
  _need_browser()


@pytest.fixture(scope="module")
def browser():
  need_browser()
  from playwright.sync_api import sync_playwright
  from tests.export.test_tfjs import launch_chromium
  with sync_playwright() as p:
    context = launch_chromium(p)
    yield context
    context.close()


def serve(tfjs_dir, extra_dir):
  sys.path.insert(0, WEB)
  import serve as web_serve
  return web_serve.serve_in_thread(tfjs_dir, extra_dir)


def new_page(browser, errors):
  page = browser.new_page()
  page.on("pageerror", lambda e: errors.append(str(e)))
  return page


def screenshot(page, tmp_path, name):
  """A full-page screenshot; copied to $SKETCH_RNN_DOCS_DIR when set (docs/ pictures come
  from scripts/web_page_screenshots.py, on trained models)."""
  path = tmp_path / name
  page.screenshot(path=str(path), full_page=True)
  docs = os.environ.get("SKETCH_RNN_DOCS_DIR")
  if docs:
    shutil.copy(path, os.path.join(docs, name))
  return path


# ---- references --------------------------------------------------------------------------------

def page_noise(page, seed, steps, batch):
  """The noise [T, B, 4] a seed gives in the library (its generator, read in the page)."""
  return np.asarray(page.evaluate("""async ([seed, steps, batch]) => {
      const {seededRandom, stepNoise} = await import('/src/sampling.js');
      const random = seededRandom(seed);
      return Array.from({length: steps}, () => Array.from({length: batch}, () => stepNoise(random)));
    }""", [seed, steps, batch]), np.float32)


def page_prior(page, seed, batch, size):
  """The prior codes [B, Nz] the library draws for a seed (from seed + 1, as startFor)."""
  return np.asarray(page.evaluate("""async ([seed, batch, size]) => {
      const {seededRandom, normalVector} = await import('/src/sampling.js');
      const random = seededRandom(seed + 1);
      return Array.from({length: batch}, () => normalVector(size, random));
    }""", [seed, batch, size]), np.float32)


def to_stroke3(rows):
  rows = np.asarray(rows, np.float32).reshape(-1, 5)
  return np.concatenate([rows[:, :2], rows[:, 3:4]], 1)


def data_px(rows, pixel_factor):
  return np.asarray(rows, np.float64).reshape(-1, 5) * [pixel_factor, pixel_factor, 1, 1, 1]


def python_encode(model, drawing_rows, pixel_factor):
  from sketch_rnn_tf.sampling.sampler import Sampler
  return Sampler(model, jit_compile=False).encode(
      [to_stroke3(data_px(drawing_rows, pixel_factor))])[0]


def python_complete(model, rows, noise, temperature, max_len):
  """Sampler.complete's work on given noise: the drawing's own code (conditional models),
  teacher-forced priming, then the sampling loop. rows: data px. Returns (stroke-5 data px
  [B, T, 5], lengths)."""
  import tensorflow as tf
  from sketch_rnn_tf.sampling.sampler import Sampler
  sampler = Sampler(model, jit_compile=False)
  s3 = to_stroke3(rows)
  batch = noise.shape[1]
  z = sampler.encode([s3]) if model.hp.conditional else None
  state, prev = sampler.prime([s3], z)
  state = [tf.tile(v, [batch, 1]) for v in state]
  zs = None if z is None else np.repeat(z, batch, axis=0)
  _, _, cond = sampler._inputs(batch, zs, None, 0)
  out, lengths, _ = sampler._loop(cond, state, tf.constant(np.repeat(prev, batch, axis=0)),
                                  tf.constant(temperature, tf.float32), tf.constant(noise),
                                  max_len - len(s3), False)
  out = out.numpy()
  out[..., :2] *= model.scale_factor
  return out, lengths.numpy()


def same_sketches(model, sketches, want, lengths, pixel_factor):
  """The page's sketches (screen px = data px / pixel factor) against Python's (data px);
  returns how many points were compared."""
  scale = model.scale_factor
  assert [len(s) for s in sketches] == lengths.tolist()
  for s, w, n in zip(sketches, want, lengths):
    got = np.asarray(s, np.float64).reshape(-1, 5) * [pixel_factor, pixel_factor, 1, 1, 1]
    np.testing.assert_allclose(got[:, :2] / scale, w[:n, :2] / scale, atol=1e-4)
    np.testing.assert_array_equal(got[:, 2:], w[:n, 2:])
  return int(lengths.sum())


def check_from_prior(page, model, sketches, seed, temperature, max_len, z=None, labels=None):
  pf = page.evaluate("window.demoState.pixelFactor")
  """Sketches the page drew with generate/stream/reconstruct/interpolate (a seed, maybe
  codes) against Python's loop on the same noise and codes."""
  from tests.export.test_web_library import python_loop
  batch = len(sketches)
  noise = page_noise(page, seed, max_len, batch)
  if model.hp.conditional and z is None:
    z = page_prior(page, seed, batch, model.hp.z_size)
  want, lengths = python_loop(model, noise, temperature, z, labels)
  return same_sketches(model, sketches, want, lengths, pf)


def check_completions(page, model, state):
  """The page's endings: ink in each (the drawing is in each), finite, and Python's completion
  on the page's noise. Returns how many points were compared."""
  check_ink_and_finite(state["completions"], everyone=True)
  inp, pf = state["finishInput"], state["pixelFactor"]
  noise = page_noise(page, inp["seed"], inp["maxLen"], inp["n"])
  want, lengths = python_complete(model, data_px(inp["rows"], pf), noise, inp["temperature"],
                                  inp["maxLen"])
  return same_sketches(model, rows_of(state["completions"]), want, lengths, pf)


def rows_of(items):
  return [item["rows"] for item in items]


def check_ink_and_finite(items, everyone=False):
  """Finite numbers, and ink on the canvases (a briefly trained model may end a sketch at
  once: then on most of them)."""
  assert items and all(item["finite"] for item in items)
  inked = sum(item["ink"] > 0 for item in items)
  assert inked == len(items) if everyone else inked >= len(items) / 2, [i["ink"] for i in items]


def check_pad(state):
  """The pad's simplified strokes are Python's RDP of the raw pointer path, and the rows the
  model read are those strokes' moves."""
  from sketch_rnn_tf.data import simplify as py_simplify
  s = state["simplified"]
  want = py_simplify.simplify_polylines([np.asarray(l, np.float64) for l in s["raw"]],
                                        s["epsilon"])
  assert [np.asarray(l).tolist() for l in s["lines"]] == [w.tolist() for w in want]
  assert s["rawPoints"] > s["points"] > 0  # simplification did something
  rows = np.asarray(state["finishInput"]["rows"], np.float64)
  points = np.concatenate([np.asarray(l) for l in s["lines"]])
  np.testing.assert_allclose(points[0] + np.cumsum(rows[:, :2], 0), points[1:], atol=1e-9)
  ends = np.cumsum([len(l) for l in s["lines"]])[:] - 2  # the row reaching each stroke's end
  assert (rows[ends, 3] == 1).all() and rows[:, 3].sum() == len(s["lines"])


def check_saves(page, tmp_path):
  """A completion, selected by a click, saved as SVG (paths of finite numbers) and PNG (an
  image with ink)."""
  from PIL import Image
  page.click("#completions canvas >> nth=1")
  size = page.eval_on_selector("#completions canvas >> nth=1", "c => [c.height, c.width]")
  with page.expect_download() as got:
    page.click("#save-svg")
  svg_path = tmp_path / got.value.suggested_filename
  got.value.save_as(svg_path)
  root = ET.parse(svg_path).getroot()
  paths = [p.get("d") for p in root.iter("{http://www.w3.org/2000/svg}path")]
  assert len(paths) >= 2, paths  # the drawn strokes and the ending
  numbers = [float(v) for d in paths for v in d.replace("M", " ").replace("L", " ")
             .replace("l", " ").split()]
  assert numbers and all(math.isfinite(v) for v in numbers)
  with page.expect_download() as got:
    page.click("#save-png")
  png = got.value.path().read_bytes()
  image = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
  assert list(image.shape) == size and (image < 200).sum() > 50
  assert svg_path.suffix == ".svg" and got.value.suggested_filename.endswith(".png")


# ---- a conditional model (our export) ----------------------------------------------------------

@pytest.fixture(scope="module")
def vae_page(browser, converted, tmp_path_factory):
  """The page on the trained VAE export after drive(): (state, page, model, tmp)."""
  tmp = tmp_path_factory.mktemp("vae_page")
  server, url = serve(converted[1], str(tmp))
  errors = []
  page = new_page(browser, errors)
  try:
    state = drive(page, url + "?model=/model/manifest.json&units=1")
    yield {"state": state, "page": page, "model": converted[0], "tmp": tmp, "errors": errors}
  finally:
    page.close()
    server.shutdown()


@pytest.mark.shared  # the tiny run trains on ../shared's sheep
def test_vae_page_loads_and_shows_its_backend(vae_page):
  state, page = vae_page["state"], vae_page["page"]
  assert state["error"] is None and not vae_page["errors"], (state["error"], vae_page["errors"])
  assert state["backend"] in ("tfjs-wasm", "tfjs-cpu")
  assert page.inner_text("#backend").startswith(state["backend"])
  assert state["info"]["conditional"]
  assert page.is_visible("#vae-note") is False and page.is_enabled("#autoencode")


@pytest.mark.shared
def test_vae_page_finishes_the_drawing_as_python(vae_page):
  """Four endings, redrawn as the four strokes are drawn; the last ones equal Python's
  completion (the drawing's own code, priming, the loop) on the page's noise."""
  state, page, model = vae_page["state"], vae_page["page"], vae_page["model"]
  check_pad(state)
  # Redrawn as the strokes came (at least once, at most once per stroke), without a click.
  assert 1 <= state["counts"]["finish"] <= 4 and state["finishInput"]["strokes"] == 4
  assert check_completions(page, model, state) > 4


@pytest.mark.shared
def test_vae_page_autoencodes_as_python(vae_page):
  state, page, model = vae_page["state"], vae_page["page"], vae_page["model"]
  v = state["variations"]
  check_ink_and_finite(v["sketches"])
  z = python_encode(model, v["input"], state["pixelFactor"])
  np.testing.assert_allclose(v["z"], z, atol=CODE_TOLERANCE)
  assert np.abs(z).max() > 1e-3
  assert check_from_prior(page, model, rows_of(v["sketches"]), v["seed"], v["temperature"],
                          model.hp.max_seq_len, np.repeat(z[None], len(v["sketches"]), 0)) > 6


@pytest.mark.shared
def test_vae_page_interpolates_as_python(vae_page):
  """From the drawing to a sample: the codes are Python's encodings slerped, each sketch
  Python's decoding with the same noise (the seed's, every step of the path)."""
  from sketch_rnn_tf.sampling import latent
  state, page, model = vae_page["state"], vae_page["page"], vae_page["model"]
  it = state["interpolation"]
  assert it["method"] == "slerp" and len(it["sketches"]) == 8
  check_ink_and_finite(it["sketches"])
  assert it["a"] == state["finishInput"]["rows"]  # A is the pad's drawing
  pf = state["pixelFactor"]
  za, zb = python_encode(model, it["a"], pf), python_encode(model, it["b"], pf)
  want_z = latent.interpolate(za, zb, 8, "slerp")
  np.testing.assert_allclose(it["z"], want_z, atol=CODE_TOLERANCE)
  # B is the library's sample for seed + 1: Python draws it too.
  check_from_prior(page, model, [it["b"]], it["seed"] + 1, it["temperature"],
                   model.hp.max_seq_len)
  noise = page_noise(page, it["seed"], model.hp.max_seq_len, 1)
  from tests.export.test_web_library import python_loop
  want, lengths = python_loop(model, np.repeat(noise, 8, axis=1), it["temperature"],
                              np.asarray(it["z"], np.float32))
  assert same_sketches(model, rows_of(it["sketches"]), want, lengths, pf) > 8


@pytest.mark.shared
def test_vae_page_interpolates_linearly_too(vae_page):
  from sketch_rnn_tf.sampling import latent
  state, page, model = vae_page["state"], vae_page["page"], vae_page["model"]
  page.select_option("#interp-method", "linear")
  page.click("#interpolate")
  wait_count(page, "interpolate", state["counts"]["interpolate"] + 1)
  it = page.evaluate("window.demoState.interpolation")
  assert it["method"] == "linear" and page.evaluate("window.demoState.error") is None
  pf = state["pixelFactor"]
  want = latent.interpolate(python_encode(model, it["a"], pf), python_encode(model, it["b"], pf),
                            8, "linear")
  np.testing.assert_allclose(it["z"], want, atol=CODE_TOLERANCE)
  check_ink_and_finite(it["sketches"])


@pytest.mark.shared
def test_vae_page_random_codes_at_several_temperatures(vae_page):
  """basic_vae: two codes from the prior, each decoded at four temperatures; every column
  equals Python's loop on the seed's codes and noise."""
  state, page, model = vae_page["state"], vae_page["page"], vae_page["model"]
  g, inp = state["gallery"], state["galleryInput"]
  assert len(g) == 8 and inp["temperatures"] == [0.1, 0.4, 0.7, 1.0]
  assert all(item["finite"] for item in g)
  assert sum(item["ink"] > 0 for item in g) >= 6  # a code may decode to a dot at 0.1
  compared = 0
  for c, tau in enumerate(inp["temperatures"]):
    column = [g[r * 4 + c] for r in range(2)]
    assert all(item["temperature"] == tau for item in column)
    compared += check_from_prior(page, model, rows_of(column), inp["seed"], tau, inp["maxLen"])
  assert compared > 20


@pytest.mark.shared
def test_vae_page_draws_endlessly_point_by_point(vae_page):
  """basic_predict: the stream animates one point per frame (the count grows between
  frames), and a finished drawing is Python's for its seed."""
  state, page, model = vae_page["state"], vae_page["page"], vae_page["model"]
  first = state["endless"][0]
  assert first["finite"]
  check_from_prior(page, model, [first["rows"]], first["seed"], first["temperature"],
                   model.hp.max_seq_len)
  counts = np.array(page.evaluate("""async () => {
      const out = [];
      for (let k = 0; k < 180; k++) {  // ~3 s: longer than the pause between drawings
        out.push(window.demoState.endlessPoints);
        await new Promise(r => requestAnimationFrame(() => r()));
      }
      return out; }"""))
  steps = np.diff(counts)
  assert steps.sum() > 0 and steps.max() <= 2, steps  # point by point, not all at once


@pytest.mark.shared
def test_vae_page_saves_svg_and_png(vae_page):
  check_saves(vae_page["page"], vae_page["tmp"])


@pytest.mark.shared
def test_vae_page_screenshot(vae_page):
  path = screenshot(vae_page["page"], vae_page["tmp"], "web_page_vae.png")
  assert os.path.getsize(path) > 20000


@pytest.mark.shared
def test_page_says_when_no_backend_runs_the_export(browser, converted, tmp_path):
  """An export whose decode_step uses an op no TF.js backend has: one error line naming it."""
  from tests.export.conftest import broken_export
  broken = broken_export(converted[1], tmp_path / "broken")
  server, url = serve(str(broken), str(tmp_path))
  page = new_page(browser, [])
  try:
    page.goto(url + "?model=/model/manifest.json")
    page.wait_for_function("window.demoState.error || window.demoState.ready", timeout=60000)
    text = page.inner_text("#status")
    assert text.startswith("could not load the model: /model/manifest.json: this model cannot "
                           "run on TF.js") and "NoSuchOp" in text, text
    assert page.is_disabled("#finish") and page.inner_text("#backend") == "none"
  finally:
    page.close()
    server.shutdown()


def test_class_conditional_export_has_a_class_picker(browser, tmp_path):
  """A class-conditional export: the page offers its classes; choosing one redraws the codes
  at several temperatures with that label, as Python draws them."""
  from sketch_rnn_tf.export import tfjs as tfjs_convert
  from sketch_rnn_tf.testing import random_export_model
  from tests.export.conftest import need_converter
  need_converter()
  need_browser()
  model = random_export_model("num_classes=3")
  tfjs_convert.convert(model, str(tmp_path / "tfjs"))
  server, url = serve(str(tmp_path / "tfjs"), None)
  errors = []
  page = new_page(browser, errors)
  try:
    open_page(page, url + "?model=/model/manifest.json&endless=0")
    assert page.is_visible("#label-box")
    assert page.eval_on_selector_all("#label option", "os => os.map(o => o.textContent)") == [
        "a", "b", "c"]
    page.select_option("#label", "2")
    wait_count(page, "gallery", 2)
    state = page.evaluate("window.demoState")
    assert state["error"] is None and not errors, (state["error"], errors)
    g, inp = state["gallery"], state["galleryInput"]
    assert inp["labels"] == [2] and all(item["finite"] for item in g)
    compared = 0
    for c, tau in enumerate(inp["temperatures"]):
      compared += check_from_prior(page, model, [g[c]["rows"], g[4 + c]["rows"]], inp["seed"],
                                   tau, inp["maxLen"], labels=[2, 2])
    assert compared > 20
  finally:
    page.close()
    server.shutdown()


# ---- a decoder-only model (.gen.json) ----------------------------------------------------------

@pytest.fixture(scope="module")
def gen_json_dir(tmp_path_factory):
  """A small decoder-only .gen.json (random weights: no ../shared needed), and files that are
  not models this page can run."""
  import json
  from sketch_rnn_tf.export import gen_json
  from sketch_rnn_tf.testing import small_gen_json_document, unconditional_model
  d = tmp_path_factory.mktemp("gen_json")
  model = unconditional_model(units=32, seed=3, max_seq_len=60)
  gen_json.write_gen_json(model, str(d / "small.gen.json"), name="small")
  (d / "vae.gen.json").write_text(json.dumps(small_gen_json_document(mode=1)))
  (d / "notes.json").write_text(json.dumps({"hello": "world"}))
  (d / "page.html").write_text("<html>not a model</html>")
  return d


@pytest.fixture(scope="module")
def gen_json_page(browser, gen_json_dir):
  from sketch_rnn_tf.export import gen_json
  server, url = serve(None, str(gen_json_dir))
  errors = []
  page = new_page(browser, errors)
  try:
    state = drive(page, url + "?model=/extra/small.gen.json")
    yield {"state": state, "page": page, "url": url, "errors": errors, "tmp": gen_json_dir,
           "model": gen_json.model_from_gen_json(str(gen_json_dir / "small.gen.json"))}
  finally:
    page.close()
    server.shutdown()


def test_gen_json_page_runs_the_decoder_demos_as_python(gen_json_page):
  """A published-format decoder: the kernel backend shown, endings of the drawing, samples at
  several temperatures and the endless drawing equal Python's on the same noise."""
  state, page, model = gen_json_page["state"], gen_json_page["page"], gen_json_page["model"]
  assert state["error"] is None and not gen_json_page["errors"]
  assert state["backend"] in ("wasm-simd", "js") and page.inner_text("#backend") == state["backend"]
  check_pad(state)
  compared = check_completions(page, model, state)
  g, ginp = state["gallery"], state["galleryInput"]
  for c, tau in enumerate(ginp["temperatures"]):
    compared += check_from_prior(page, model, [g[c]["rows"], g[4 + c]["rows"]], ginp["seed"],
                                 tau, ginp["maxLen"])
  first = state["endless"][0]
  compared += check_from_prior(page, model, [first["rows"]], first["seed"],
                               first["temperature"], ginp["maxLen"])
  assert compared > 50, compared  # the comparisons cover real drawing


def test_gen_json_page_disables_the_encoder_demos_with_a_note(gen_json_page):
  page = gen_json_page["page"]
  for button in ("#autoencode", "#a-from-pad", "#b-sample", "#interpolate"):
    assert page.is_disabled(button), button
  for note in ("#vae-note", "#interp-note"):
    assert page.is_visible(note)
    assert "needs a conditional (VAE) model" in page.inner_text(note)
    assert "decoder-only" in page.inner_text(note)


def test_gen_json_page_controls_and_saving(gen_json_page):
  """A new seed redraws the gallery (other sketches); a higher temperature changes the
  endings; stopping the endless drawing stops its points; SVG and PNG saves."""
  page, state = gen_json_page["page"], gen_json_page["state"]
  before = [item["rows"] for item in state["gallery"]]
  runs = page.evaluate("window.demoState.counts.gallery")
  page.click("#sample")
  wait_count(page, "gallery", runs + 1)
  after = page.evaluate("window.demoState")
  assert after["galleryInput"]["seed"] == state["galleryInput"]["seed"] + 1
  assert [item["rows"] for item in after["gallery"]] != before
  page.eval_on_selector("#temperature", "e => { e.value = '0.9'; "
                        "e.dispatchEvent(new Event('input')); }")
  assert page.inner_text("#temperature-value") == "0.90"
  page.click("#finish")
  wait_count(page, "finish", state["counts"]["finish"] + 1)
  finished = page.evaluate("window.demoState")
  assert finished["finishInput"]["temperature"] == 0.9
  assert rows_of(finished["completions"]) != rows_of(state["completions"])
  page.select_option("#num-endings", "9")  # a bigger grid, at once
  wait_count(page, "finish", finished["counts"]["finish"] + 1)
  nine = page.evaluate("window.demoState")
  assert nine["finishInput"]["n"] == 9 and len(nine["completions"]) == 9
  check_completions(page, gen_json_page["model"], nine)
  page.click("#endless-toggle")
  assert page.inner_text("#endless-toggle") == "Start"
  n0 = page.evaluate("window.demoState.endlessPoints")
  page.wait_for_timeout(500)
  assert page.evaluate("window.demoState.endlessPoints") == n0
  check_saves(page, gen_json_page["tmp"])
  page.click("#endless-toggle")
  screenshot(page, gen_json_page["tmp"], "web_page_gen_json.png")


def test_model_picker_lists_and_loads(gen_json_page):
  """serve.py lists what it serves; a model chosen in the picker loads in a fresh page."""
  page, url = gen_json_page["page"], gen_json_page["url"]
  options = page.eval_on_selector_all("#model-list option", "os => os.map(o => o.value)")
  assert "/extra/small.gen.json" in options and "/extra/vae.gen.json" in options
  assert any(o.startswith("https://storage.googleapis.com/") and o.endswith(".gen.json")
             for o in options)
  page.goto(url + "?endless=0&model=/extra/vae.gen.json")
  page.wait_for_function("window.demoState.ready || window.demoState.error", timeout=TIMEOUT_MS)
  assert "is a VAE .gen.json" in page.inner_text("#status")
  page.fill("#model-url", "/extra/small.gen.json")  # typed, then Load
  page.click("#load-model")
  page.wait_for_function("window.demoState && window.demoState.gallery", timeout=TIMEOUT_MS)
  assert page.evaluate("[window.demoState.source, window.demoState.error]") == [
      "/extra/small.gen.json", None]
  assert "model=%2Fextra%2Fsmall.gen.json" in page.url
  page.goto(url + "?endless=0&model=/extra/small.gen.json&backend=js")  # a backend asked for
  page.wait_for_function("window.demoState.ready || window.demoState.error", timeout=TIMEOUT_MS)
  assert page.inner_text("#backend") == "js" == page.evaluate("window.demoState.backend")
  page.goto(url + "?endless=0")  # no ?model=: the first one served
  page.wait_for_function("window.demoState.ready || window.demoState.error", timeout=TIMEOUT_MS)
  assert page.evaluate("[window.demoState.source, window.demoState.ready]") == [
      "/extra/small.gen.json", True]


@pytest.mark.parametrize("name, message", [
    ("missing.gen.json", "could not fetch: HTTP 404"),
    ("page.html", "not a Sketch-RNN model (not JSON"),
    ("notes.json", "not a Sketch-RNN model (expected our export's manifest"),
    ("vae.gen.json", "is a VAE .gen.json"),
])
def test_load_errors_are_one_clear_message(browser, gen_json_dir, name, message):
  """A wrong URL, a file that is not a model, a model this runtime cannot run: one message in
  the page (the status line, marked as an error), the demos stay disabled, nothing hangs."""
  server, url = serve(None, str(gen_json_dir))
  errors = []
  page = new_page(browser, errors)
  try:
    page.goto(url + f"?model=/extra/{name}")
    page.wait_for_function("window.demoState.error || window.demoState.ready", timeout=30000)
    text = page.inner_text("#status")
    assert page.evaluate("document.getElementById('status').classList.contains('error')")
    assert text.startswith("could not load the model: ") and message in text, text
    assert name in text and text.count("\n") == 0
    assert page.inner_text("#backend") == "none"
    for button in ("#finish", "#sample", "#autoencode", "#interpolate", "#endless-toggle"):
      assert page.is_disabled(button), button
    assert not errors, errors
  finally:
    page.close()
    server.shutdown()
