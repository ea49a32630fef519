"""Pretrained @magenta/sketch decoders (.gen.json): reading, importing, writing.

The published bird and sheep decoders are checked against an independent
float64 numpy decoder written here from the format's equations (not from our
code); error cases, URL loading, the write -> read round trip and the import
into a model directory are checked on small files made here.
"""
import base64
import functools
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

from sketch_rnn_tf.testing import (GEN_JSON_STEPS as STEPS, GEN_JSON_TOLERANCE as TOLERANCE,
                                   PRETRAINED, REPO, SHARED, FileServer, model_pdf,
                                   pretrained_path, require_file, synthetic_inputs,
                                   unconditional_model)
from sketch_rnn_tf.testing import small_gen_json_document as small_document
QUANT_STEP = 10.0 / 32767


# ---------------------------------------------------------------- the reference

def reference_weights(path):
  """The file's tensors in float64, decoded here from the format's definition."""
  with open(path, encoding="utf-8") as f:
    info, shapes, strings = json.load(f)
  weights = [10.0 * np.frombuffer(base64.b64decode(s), "<i2").astype(np.float64) / 32767
             for s in strings]
  return info, [w.reshape(shape) for w, shape in zip(weights, shapes)]


def reference_pdf(weights, scale_factor, inputs_px, temperature=1.0):
  """Per-step MDN parameters of a decoder-only model, float64, one step at a time.

  LSTM: [i, j, f, o] = [x, h] [W_xh; W_hh] + b, c' = c s(f + 1) + s(i) tanh(j),
  h' = tanh(c') s(o); y = h' W + b = [pen 3 | pi | mu_x | mu_y | log s_x | log s_y | r].
  Temperature tau: logits / tau, sigma * sqrt(tau).
  """
  out_w, out_b, w_xh, w_hh, bias = weights
  units = w_hh.shape[0]
  kernel = np.concatenate([w_xh, w_hh], axis=0)
  c, h = np.zeros(units), np.zeros(units)

  def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))

  def softmax(v):
    e = np.exp(v - v.max())
    return e / e.sum()

  steps = []
  for row in np.asarray(inputs_px, np.float64):
    x = row.copy()
    x[:2] /= scale_factor
    a = np.concatenate([x, h]) @ kernel + bias
    i, j, f, o = np.split(a, 4)
    c = c * sigmoid(f + 1.0) + sigmoid(i) * np.tanh(j)
    h = np.tanh(c) * sigmoid(o)
    y = h @ out_w + out_b
    pi, mu_x, mu_y, log_sx, log_sy, r = np.split(y[3:], 6)
    steps.append(dict(pi=softmax(pi / temperature), mu_x=mu_x, mu_y=mu_y,
                      sigma_x=np.exp(log_sx) * np.sqrt(temperature),
                      sigma_y=np.exp(log_sy) * np.sqrt(temperature), rho=np.tanh(r),
                      pen=softmax(y[:3] / temperature)))
  return {k: np.stack([s[k] for s in steps]) for k in steps[0]}


def max_diffs(a, b):
  return {k: float(np.abs(a[k] - b[k]).max()) for k in a}


# ---------------------------------------------------------------- published decoders

@pytest.mark.shared
@pytest.mark.parametrize("name", ["bird", "sheep"])
def test_published_decoder_matches_reference(name, sheep_inputs):
  from sketch_rnn_tf.export import gen_json
  path = pretrained_path(name)
  info, ref_weights = reference_weights(path)
  gen = gen_json.read_gen_json(path)
  assert gen.info == info
  for ours, ref in zip(gen.weights, ref_weights):
    assert ours.dtype == np.float32 and ours.shape == ref.shape
    np.testing.assert_array_equal(ours, ref.astype(np.float32))
  model = gen_json.model_from_gen_json(gen)
  units = ref_weights[3].shape[0]
  assert (model.hp.conditional, model.hp.dec_model, model.hp.dec_rnn_size,
          model.hp.num_mixture, model.hp.max_seq_len) == (False, "lstm", units, 20,
                                                          info["max_seq_len"])
  assert model.scale_factor == pytest.approx(info["scale_factor"])
  ref = reference_pdf(ref_weights, info["scale_factor"], sheep_inputs)
  diffs = max_diffs(model_pdf(model, sheep_inputs), ref)
  print(f"{name}: max abs diff over {STEPS} steps: {diffs}")
  assert max(diffs.values()) <= TOLERANCE, diffs
  # The reference's mixtures are not degenerate: the comparison means something.
  assert ref["pi"].max() > 0.2 and ref["sigma_x"].min() > 0


# ---------------------------------------------------------------- small files made here

def write_doc(tmp_path, doc, name="model.gen.json"):
  path = tmp_path / name
  path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
  return str(path)


def test_small_file_reads_and_imports(tmp_path):
  from sketch_rnn_tf.export import gen_json
  path = write_doc(tmp_path, small_document())
  gen = gen_json.read_gen_json(path)
  assert [w.shape for w in gen.weights] == [(4, 123), (123,), (5, 16), (4, 16), (16,)]
  assert all(np.abs(w).max() <= 10.0 for w in gen.weights)
  model = gen_json.model_from_gen_json(path)
  cell, dense = model.decoder.cell, model.decoder.head.dense
  for var, w in zip((dense.kernel, dense.bias, cell.w_x, cell.w_h, cell.bias), gen.weights):
    np.testing.assert_array_equal(var.numpy(), w)


def _mutate(doc, where, value):
  doc = json.loads(json.dumps(doc))
  target = doc
  for key in where[:-1]:
    target = target[key]
  target[where[-1]] = value
  return doc


ERROR_CASES = {
    "truncated": (lambda d: json.dumps(d)[:200], "not valid JSON"),
    "not_json": (lambda d: "<html>404</html>", "not valid JSON"),
    "two_elements": (lambda d: d[:2], "3-element array"),
    "object": (lambda d: {"info": d[0]}, "3-element array"),
    "unknown_version": (lambda d: _mutate(d, [0, "version"], 99), "unknown version 99"),
    "no_version": (lambda d: _mutate(d, [0, "version"], None), "unknown version None"),
    "unknown_mode": (lambda d: _mutate(d, [0, "mode"], "draw"), "unknown mode 'draw'"),
    "vae_mode": (lambda d: _mutate(d, [0, "mode"], 1), "VAE"),
    "vae_layout": (lambda d: [d[0], [[5, 16]] * 17, [d[2][2]] * 17], "VAE layout"),
    "bad_scale": (lambda d: _mutate(d, [0, "scale_factor"], -1), "scale_factor"),
    "wrong_shapes": (lambda d: _mutate(d, [1, 3], [4, 8]), "not the decoder-only layout"),
    "wrong_width": (lambda d: _mutate(_mutate(d, [1, 0], [4, 63]), [1, 1], [63]),
                    "not the decoder-only layout"),
    "bad_base64": (lambda d: _mutate(d, [2, 1], "@@not base64@@"),
                   "weights[1] is not valid base64"),
    "short_tensor": (lambda d: _mutate(d, [2, 4], d[2][4][:8]), "weights[4] holds 6 bytes"),
    "missing_tensor": (lambda d: _mutate(d, [2], d[2][:4]), "list of 5 base64 strings"),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_malformed_files_give_errors_naming_the_file(tmp_path, case):
  from sketch_rnn_tf.export import gen_json
  make, message = ERROR_CASES[case]
  path = write_doc(tmp_path, make(small_document()), name=f"{case}.gen.json")
  with pytest.raises(gen_json.GenJsonError, match=re.escape(message)) as e:
    gen_json.read_gen_json(path)
  assert str(e.value).startswith(path + ":"), str(e.value)


def test_missing_file_is_an_os_error(tmp_path):
  from sketch_rnn_tf.export import gen_json
  with pytest.raises(OSError):
    gen_json.read_gen_json(str(tmp_path / "absent.gen.json"))


# ---------------------------------------------------------------- URLs

def test_read_from_url(tmp_path):
  from sketch_rnn_tf.export import gen_json
  path = write_doc(tmp_path, small_document(units=3, seed=2))
  bad = write_doc(tmp_path, json.dumps(small_document())[:100], name="bad.gen.json")
  with FileServer({"small.gen.json": path, "bad.gen.json": bad}) as server:
    from_url = gen_json.read_gen_json(server.url("small.gen.json"))
    with pytest.raises(OSError, match="could not fetch: HTTP 404") as e:
      gen_json.read_gen_json(server.url("absent.gen.json"))
    assert server.url("absent.gen.json") in str(e.value)
    with pytest.raises(gen_json.GenJsonError, match="not valid JSON") as e:
      gen_json.read_gen_json(server.url("bad.gen.json"))
    assert str(e.value).startswith(server.url("bad.gen.json") + ":")
  from_file = gen_json.read_gen_json(path)
  assert from_url.info == from_file.info
  for a, b in zip(from_url.weights, from_file.weights):
    np.testing.assert_array_equal(a, b)


def _endless(handler):
  """A response that never ends: 64 KB chunks of a JSON array's inside, forever."""
  handler.send_response(200)
  handler.end_headers()
  try:
    handler.wfile.write(b"[")
    while True:
      handler.wfile.write(b"0," * 32768)
  except (BrokenPipeError, ConnectionResetError):
    pass


def _drip(handler):
  """A byte every 0.2 s, forever: each read is within the socket timeout."""
  import time
  handler.send_response(200)
  handler.end_headers()
  try:
    while True:
      handler.wfile.write(b" ")
      handler.wfile.flush()
      time.sleep(0.2)
  except (BrokenPipeError, ConnectionResetError):
    pass


def _huge_length(handler):
  handler.send_response(200)
  handler.send_header("Content-Length", str(10**12))
  handler.end_headers()


def test_url_that_streams_forever_is_cut_off(monkeypatch):
  from sketch_rnn_tf.export import gen_json
  monkeypatch.setenv("SKETCH_RNN_MAX_GEN_JSON_BYTES", str(8 << 20))
  monkeypatch.setenv("SKETCH_RNN_MAX_FETCH_SECONDS", "1.5")
  with FileServer({"endless": _endless, "drip": _drip, "huge": _huge_length}) as server:
    with pytest.raises(gen_json.GenJsonError, match=r"endless: the download passed the limit "
                       r"of 8,388,608 bytes.*SKETCH_RNN_MAX_GEN_JSON_BYTES"):
      gen_json.read_gen_json(server.url("endless"))
    with pytest.raises(OSError, match=r"drip: could not fetch: not done after 1.5 s"):
      gen_json.read_gen_json(server.url("drip"))
    with pytest.raises(ValueError, match=r"huge: its Content-Length is 1,000,000,000,000, "
                       r"over the limit"):
      gen_json.read_gen_json(server.url("huge"))


def test_file_over_the_limit_is_refused(tmp_path, monkeypatch):
  from sketch_rnn_tf.export import gen_json
  path = write_doc(tmp_path, small_document())
  monkeypatch.setenv("SKETCH_RNN_MAX_GEN_JSON_BYTES", "1000")
  with pytest.raises(gen_json.GenJsonError, match=r"model.gen.json: its size in bytes is "
                     r"[\d,]+, over the limit of 1,000"):
    gen_json.read_gen_json(path)


# ---------------------------------------------------------------- writing


def decoder_tensors(model):
  cell, dense = model.decoder.cell, model.decoder.head.dense
  return [v.numpy() for v in (dense.kernel, dense.bias, cell.w_x, cell.w_h, cell.bias)]


def raw_outputs(model, x):
  import tensorflow as tf
  return model.decoder(tf.constant(x[None]))[0][0].numpy()


def test_write_read_round_trip(tmp_path):
  from sketch_rnn_tf.export import gen_json
  inputs = synthetic_inputs()
  model = unconditional_model()
  path = str(tmp_path / "mine.gen.json")
  with warnings.catch_warnings():
    warnings.simplefilter("error")  # nothing is clipped: no warning
    gen_json.write_gen_json(model, path)
  info, ref_weights = reference_weights(path)
  assert info == {"mode": 2, "version": 6, "max_seq_len": 80, "name": "mine",
                  "scale_factor": 37.5}
  # Every weight within half a quantisation step (plus float32 rounding).
  for original, stored in zip(decoder_tensors(model), ref_weights):
    assert np.abs(original - stored).max() <= QUANT_STEP / 2 + 1e-6
  back = gen_json.model_from_gen_json(path)
  assert back.hp.dec_rnn_size == 48 and back.scale_factor == 37.5
  # The reloaded model is exactly the stored (quantised) decoder ...
  ref = reference_pdf(ref_weights, 37.5, inputs)
  exact = max_diffs(model_pdf(back, inputs), ref)
  assert max(exact.values()) <= TOLERANCE, exact
  # ... and close to the original: the output layer's rounding alone can move a raw
  # output by up to (H + 1) * step / 2 (|h| <= 1); the recurrence adds a little.
  x = inputs.copy()
  x[:, :2] /= 37.5
  drift = float(np.abs(raw_outputs(back, x) - raw_outputs(model, x)).max())
  print(f"round trip: max abs diff to the reference {exact}; raw outputs moved by "
        f"{drift:.2e} (quantisation step {QUANT_STEP:.2e})")
  assert drift <= 49 * QUANT_STEP / 2
  # Writing what was read gives the same file.
  again = str(tmp_path / "again.gen.json")
  gen_json.write_gen_json(back, again, name="mine")
  with open(path) as a, open(again) as b:
    assert a.read() == b.read()


def test_write_clips_with_a_warning(tmp_path):
  from sketch_rnn_tf.export import gen_json
  model = unconditional_model(units=8)
  cell = model.decoder.cell
  w = cell.w_h.numpy()
  w[0, 0], w[1, 1] = 12.5, -40.0
  cell.w_h.assign(w)
  path = str(tmp_path / "clipped.gen.json")
  with pytest.warns(UserWarning, match=r"^2 of \d+ weights lie outside \+-10"):
    gen_json.write_gen_json(model, path)
  stored = gen_json.read_gen_json(path).weights[3]
  assert stored[0, 0] == 10.0 and stored[1, 1] == -10.0


@pytest.mark.parametrize("overrides, message", [
    (dict(conditional=True), "conditional"),
    (dict(dec_model="hyper"), "hyper decoder"),
    (dict(dec_model="layer_norm"), "layer_norm decoder"),
    (dict(num_mixture=3), "num_mixture is 3"),
    (dict(num_classes=2), "class-conditional"),
])
def test_write_refuses_what_the_format_cannot_hold(tmp_path, overrides, message):
  from sketch_rnn_tf.export import gen_json
  model = unconditional_model(units=8, **overrides)
  path = tmp_path / "x.gen.json"
  with pytest.raises(gen_json.GenJsonError, match=message):
    gen_json.write_gen_json(model, str(path))
  assert not path.exists()


# ---------------------------------------------------------------- model directories

@pytest.mark.shared
def test_import_to_model_dir_loads_and_samples(tmp_path):
  from sketch_rnn_tf.export import gen_json
  from sketch_rnn_tf.sampling.sampler import Sampler
  from sketch_rnn_tf.utils import run_dir
  path = pretrained_path("bird")
  out = str(tmp_path / "bird")
  gen_json.import_to_model_dir(path, out)
  hp, info = run_dir.read_config(out)
  assert info["imported_from"]["gen_json"] == os.path.abspath(path)
  assert info["imported_from"]["name"] == "bird"
  model = run_dir.load_model(out)
  assert int(model.optimizer.iterations.numpy()) == 0
  for var, w in zip(decoder_tensors(model), gen_json.read_gen_json(path).weights):
    np.testing.assert_array_equal(var, w)
  s5, lengths = Sampler(model, jit_compile=False).sample(num=4, temperature=0.4, seed=3)
  assert np.isfinite(s5).all() and s5.shape == (4, hp.max_seq_len, 5)
  # Birds end: not every sketch runs to the length limit.
  assert (lengths < hp.max_seq_len).any() and (lengths > 5).all()
  with pytest.raises(FileExistsError, match="already holds a model"):
    gen_json.import_to_model_dir(path, out)


def run_cli(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  return subprocess.run([sys.executable, "-m", "sketch_rnn_tf.cli.import_model", *args], cwd=REPO,
                        capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow
@pytest.mark.shared
def test_cli_import_then_export_gives_the_published_weights(tmp_path):
  path = pretrained_path("sheep")
  out = str(tmp_path / "sheep")
  r = run_cli(f"--gen_json={path}", f"--out={out}")
  assert r.returncode == 0, r.stderr[-3000:]
  assert os.path.exists(os.path.join(out, "best", "checkpoint"))
  written = str(tmp_path / "sheep_again.gen.json")
  r = run_cli(f"--model_dir={out}", f"--write_gen_json={written}", "--name=sheep")
  assert r.returncode == 0, r.stderr[-3000:]
  with open(path) as a, open(written) as b:
    original, again = json.load(a), json.load(b)
  # int16 -> float32 -> int16 is exact: the same tensors, bit for bit.
  assert again[1:] == original[1:]
  assert {k: again[0][k] for k in ("mode", "max_seq_len", "name", "scale_factor")} == {
      k: original[0][k] for k in ("mode", "max_seq_len", "name", "scale_factor")}


@pytest.mark.slow
def test_cli_errors(tmp_path):
  bad = write_doc(tmp_path, json.dumps(small_document())[:50], name="bad.gen.json")
  r = run_cli(f"--gen_json={bad}", f"--out={tmp_path / 'x'}")
  assert r.returncode == 2
  assert f"sketch-rnn-import: error: {bad}: not valid JSON" in r.stderr
  assert not (tmp_path / "x" / "hparams.json").exists()
  r = run_cli(f"--gen_json={bad}")
  assert r.returncode != 0 and "import needs --out and one of --gen_json or --tf1_checkpoint" in r.stderr


@pytest.mark.slow
@pytest.mark.shared
def test_imported_model_draws_and_exports_through_the_clis(tmp_path):
  """The issue's promise: after sketch-rnn-import, sketch-rnn-sample and
  sketch-rnn-export work on the directory, and the SavedModel draws what Python draws."""
  import tensorflow as tf
  from sketch_rnn_tf.sampling.sampler import Sampler
  from sketch_rnn_tf.utils import run_dir
  out = str(tmp_path / "bird")
  assert run_cli(f"--gen_json={pretrained_path('bird')}", f"--out={out}").returncode == 0
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  svg = str(tmp_path / "birds.svg")
  for module, args in (("cli.sample", ["--mode=generate", "--num=16", "--temperature=0.5",
                                       f"--out={svg}"]),
                       ("cli.export", [f"--out={tmp_path / 'export'}"])):
    r = subprocess.run([sys.executable, "-m", f"sketch_rnn_tf.{module}", f"--model_dir={out}",
                        *args], cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
  assert open(svg).read().count("<text") == 16
  loaded = tf.saved_model.load(str(tmp_path / "export" / "sketch_rnn" / "1"))
  got = loaded.signatures["sample"](temperature=tf.constant([0.5]), max_len=tf.constant([40]),
                                    seed=tf.constant([7]))
  model = run_dir.load_model(out)
  s5, lengths = Sampler(model, jit_compile=False).sample(num=1, temperature=0.5, max_len=40,
                                                         seed=7)
  n = int(lengths[0])
  assert int(got["lengths"][0]) == n
  np.testing.assert_allclose(got["strokes"].numpy()[0, :n, :2] / model.scale_factor,
                             s5[0, :n, :2], atol=1e-4)


# ---------------------------------------------------------------- both sizes, both headers

OLD_HEADER = {"mode": "gen", "version": 2, "r_loss": -0.2745, "training_size": 70000}


def _random_decoder(units, seed=0):
  """An unconditional LSTM decoder of `units` (20 mixtures) with random weights."""
  from sketch_rnn_tf.model.hparams import HParams
  from sketch_rnn_tf.model.sketch_rnn import SketchRNN
  model = SketchRNN(HParams(conditional=False, dec_model="lstm", dec_rnn_size=units,
                            num_mixture=20, max_seq_len=100), scale_factor=40.0)
  model.build()
  rng = np.random.default_rng(seed)
  for var in model.trainable_variables:
    var.assign(rng.normal(0, 0.05, var.shape).astype(np.float32))
  return model


@pytest.mark.parametrize("units", [512, 1024])
@pytest.mark.parametrize("header", ["current", "old"])
def test_both_sizes_and_headers_import_sample_and_write(tmp_path, units, header):
  """The published files come with 512 and 1024 units and two headers; a file written
  here stands in for the 1024-unit ones (they cannot be downloaded here)."""
  from sketch_rnn_tf.export import gen_json
  from sketch_rnn_tf.sampling.sampler import Sampler
  from sketch_rnn_tf.utils import run_dir
  path = str(tmp_path / "m.gen.json")
  gen_json.write_gen_json(_random_decoder(units), path, name="m")
  if header == "old":
    with open(path) as f:
      doc = json.load(f)
    doc[0].update(OLD_HEADER)
    write_doc(tmp_path, doc, "m.gen.json")
  written = json.load(open(path))
  out = str(tmp_path / "model")
  gen_json.import_to_model_dir(path, out)
  model = run_dir.load_model(out)
  assert model.decoder.cell.units == units
  s5, lengths = Sampler(model, jit_compile=False).sample(num=2, temperature=0.5, max_len=20,
                                                         seed=0)
  assert np.isfinite(s5).all() and s5.shape == (2, 20, 5)
  again = str(tmp_path / "again.gen.json")
  gen_json.write_gen_json(model, again, name="m")
  assert json.load(open(again))[1:] == written[1:]   # the int16 tensors, bit for bit
  line = gen_json.describe(gen_json.read_gen_json(path))
  assert f"lstm {units} decoder" in line
  if header == "old":
    assert "version 2, mode 'gen'" in line and "r_loss -0.2745" in line
    assert "training size 70000" in line


@pytest.mark.slow
def test_cli_import_shows_the_old_headers_training_figures(tmp_path):
  doc = small_document(**OLD_HEADER)
  path = write_doc(tmp_path, doc, "old.gen.json")
  r = run_cli(f"--gen_json={path}", f"--out={tmp_path / 'old'}")
  assert r.returncode == 0, r.stderr[-3000:]
  assert "r_loss -0.2745; training size 70000" in r.stdout
