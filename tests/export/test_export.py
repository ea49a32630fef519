"""The SavedModel export: layout, signatures, TF Serving request bodies, bad requests.

Outputs are compared with the Python model on the same inputs: decode_step with the
teacher-forced decoder, encode with the encoder, sample / reconstruct with
`Sampler.sample(num=1, seed=s)` per row. The documented request bodies in
export/serving/requests/ (written for the tiny preset: z_size 8, state 64) are fed
as they are, in a fresh process, through export/serving/local_predict.py.
"""
import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from sketch_rnn_tf.data import strokes
from sketch_rnn_tf.export import signatures as export
from sketch_rnn_tf.layers import mdn
from sketch_rnn_tf.sampling.sampler import Sampler
from sketch_rnn_tf.testing import python_decode_step, random_export_model, REPO
from sketch_rnn_tf.utils import run_dir

pytestmark = pytest.mark.slow  # subprocesses, Node/Chromium or training runs

REQUESTS = os.path.join(REPO, "export", "serving", "requests")
LOCAL_PREDICT = os.path.join(REPO, "export", "serving", "local_predict.py")
BIN = os.path.dirname(sys.executable)
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
TOL = 1e-5  # in normalised units (pixels / scale factor)


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
  model = run_dir.load_model(tiny_run)
  out = tmp_path_factory.mktemp("export")
  path, info = export.export_saved_model(model, str(out), "sheep")
  return model, path, info


@pytest.fixture(scope="module")
def loaded(exported):
  return tf.saved_model.load(exported[1])


def _sampler(model):
  return Sampler(model, jit_compile=False)  # the SavedModel runs without XLA too


def _stroke3(s5, length):
  return strokes.to_stroke3(np.asarray(s5, np.float32)[:length])


def test_layout_and_metadata(exported, loaded, tmp_path):
  model, path, info = exported
  base, version = os.path.split(path)
  assert version == "1" and os.path.basename(base) == "sheep"
  assert os.path.exists(os.path.join(path, "saved_model.pb"))
  assert export.next_version(base) == 2
  assert not [n for n in os.listdir(base) if n.startswith(".tmp")]
  meta = export.read_metadata(path)
  assert meta["scale_factor"] == pytest.approx(model.scale_factor)
  assert meta["class_names"] == model.class_names and meta["model_version"] == 1
  assert meta["hparams"] == json.loads(model.hp.to_json())
  assert meta["serving_default"] == "sample_prior"
  out = {k: v.numpy()[0] for k, v in loaded.signatures["metadata"](rows=tf.constant([0])).items()}
  assert json.loads(out["hparams_json"]) == meta["hparams"]
  assert float(out["scale_factor"]) == pytest.approx(model.scale_factor)
  assert [s.decode() for s in out["class_names"]] == model.class_names
  assert int(out["model_version"]) == 1
  described = json.loads(out["signatures_json"])
  assert described == {k: v for k, v in meta["signatures"].items() if k != "metadata"}
  assert sorted(loaded.signatures) == sorted(
      ["decode_step", "encode", "initial_state", "metadata", "reconstruct", "sample",
       "sample_prior", "serving_default"])
  with pytest.raises(FileExistsError):
    export.export_saved_model(model, os.path.dirname(base), "sheep", version=1)


def test_saved_model_cli_show(exported):
  r = subprocess.run([os.path.join(BIN, "saved_model_cli"), "show", "--all", "--dir",
                      exported[1]], capture_output=True, text=True, env=ENV, timeout=120)
  assert r.returncode == 0, r.stderr[-2000:]
  text = r.stdout
  for sig in ("decode_step", "encode", "sample", "sample_prior", "reconstruct",
              "initial_state", "metadata", "serving_default"):
    assert f"signature_def['{sig}']" in text
  step = text.split("signature_def['decode_step']")[1].split("signature_def[")[0]
  for expected in ("inputs['prev']", "shape: (-1, 5)", "inputs['state']", "shape: (-1, 64)",
                   "inputs['z']", "shape: (-1, 8)", "outputs['mu_x']", "outputs['state']"):
    assert expected in step
  sample = text.split("signature_def['sample']")[1].split("signature_def[")[0]
  for expected in ("inputs['seed']", "DT_INT32", "inputs['temperature']", "outputs['strokes']",
                   "shape: (-1, -1, 5)", "outputs['lengths']"):
    assert expected in sample


def _cli_run(path, signature, arrays, tmp_path, outdir=None):
  files = []
  for name, value in arrays.items():
    f = tmp_path / f"{signature}_{name}.npy"
    np.save(f, value)
    files.append(f"{name}={f}")
  cmd = [os.path.join(BIN, "saved_model_cli"), "run", "--dir", path, "--tag_set", "serve",
         "--signature_def", signature, "--inputs", ";".join(files)]
  if outdir:
    cmd += ["--outdir", str(outdir), "--overwrite"]
  return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=120)


def _assert_step_close(model, got, want):
  for k, v in want.items():
    scale = model.scale_factor if k in ("mu_x", "mu_y", "sigma_x", "sigma_y") else 1.0
    np.testing.assert_allclose(np.asarray(got[k]) / scale, v / scale, atol=TOL, err_msg=k)


def test_saved_model_cli_run(exported, tmp_path):
  model, path, _ = exported
  rng = np.random.default_rng(0)
  prev = np.array([[0, 0, 1, 0, 0], [12.0, -4.0, 0, 1, 0]], np.float32)
  state = rng.normal(0, 0.3, (2, 64)).astype(np.float32)
  z = rng.normal(size=(2, 8)).astype(np.float32)
  r = _cli_run(path, "decode_step", {"prev": prev, "state": state, "z": z}, tmp_path,
               tmp_path / "out")
  assert r.returncode == 0, r.stderr[-2000:]
  got = {k: np.load(tmp_path / "out" / f"{k}.npy") for k in
         ("pen_logits", "pi_logits", "mu_x", "mu_y", "sigma_x", "sigma_y", "rho", "state")}
  _assert_step_close(model, got, python_decode_step(model, prev, state, z))
  # A NaN gives the graph's message and a clean exit status, not a crash.
  prev[1, 0] = np.nan
  r = _cli_run(path, "decode_step", {"prev": prev, "state": state, "z": z}, tmp_path)
  assert r.returncode != 0 and r.returncode > 0
  assert "decode_step: input prev has NaN or Inf values" in r.stderr


# ---- the documented TF Serving request bodies, in a fresh process ----------------

BAD = {
    "nan.json": {"signature_name": "decode_step", "inputs": {
        "prev": [[float("nan"), 0, 1, 0, 0]], "state": [[0.0] * 64], "z": [[0.0] * 8]}},
    "shape.json": {"signature_name": "decode_step", "inputs": {
        "prev": [[0, 0, 1, 0]], "state": [[0.0] * 64], "z": [[0.0] * 8]}},
    "dtype.json": {"signature_name": "sample_prior", "instances": [
        {"temperature": 0.5, "max_len": 10, "seed": 1.5}]},
    "ragged.json": {"signature_name": "encode", "inputs": {
        "strokes": [[[1, 2, 1, 0, 0]], [[1, 2, 1, 0, 0], [0, 0, 0, 0, 1]]],
        "lengths": [1, 1], "seed": [0, 0]}},
    "lengths.json": {"signature_name": "encode", "inputs": {
        "strokes": [[[1, 2, 1, 0, 0]]], "lengths": [3], "seed": [0]}},
    "pen.json": {"signature_name": "encode", "inputs": {
        "strokes": [[[1, 2, 0.5, 0.5, 0]]], "lengths": [1], "seed": [0]}},
    "batch.json": {"signature_name": "sample_prior", "inputs": {
        "temperature": [0.5, 0.5], "max_len": [10], "seed": [1, 2]}},
    "temperature.json": {"signature_name": "sample_prior", "inputs": {
        "temperature": [0.0], "max_len": [10], "seed": [1]}},
    "max_len.json": {"signature_name": "sample_prior", "inputs": {
        "temperature": [0.5], "max_len": [100000], "seed": [1]}},
    "missing.json": {"signature_name": "sample", "inputs": {
        "temperature": [0.5], "max_len": [10], "seed": [1]}},
}
BAD_MESSAGES = {
    "nan.json": "decode_step: input prev has NaN or Inf values",
    "shape.json": "input 'prev' has shape [1, 4], the signature wants [-1, 5]",
    "dtype.json": "input 'seed' must hold integers",
    "ragged.json": "input 'strokes' is ragged",
    "lengths.json": "encode: lengths must be <= the padded length",
    "pen.json": "encode: the pen columns (2:5) of every real row must be one-hot",
    "batch.json": "sample_prior: inputs temperature and max_len have different batch sizes",
    "temperature.json": "sample_prior: temperature must be > 0",
    "max_len.json": "sample_prior: max_len must be <= 1000",
    "missing.json": "signature 'sample' takes inputs ['max_len', 'seed', 'temperature', 'z']",
}


@pytest.fixture(scope="module")
def answers(exported, tmp_path_factory):
  """{request file name: the JSON answer} from one fresh process."""
  bad_dir = tmp_path_factory.mktemp("bad_requests")
  for name, body in BAD.items():
    (bad_dir / name).write_text(json.dumps(body))
  files = sorted(glob.glob(os.path.join(REQUESTS, "*.json")))
  # A good request last: the process is still answering after the bad ones.
  files += [str(bad_dir / n) for n in sorted(BAD)] + [files[0]]
  r = subprocess.run([sys.executable, LOCAL_PREDICT, f"--saved_model={exported[1]}"] + files,
                     capture_output=True, text=True, env=ENV, timeout=300)
  assert r.returncode == 0, r.stderr[-3000:]
  lines = r.stdout.strip().splitlines()
  assert len(lines) == len(files)
  out = {os.path.basename(f): json.loads(line) for f, line in zip(files[:-1], lines)}
  out["again"] = json.loads(lines[-1])
  return out


def _body(name):
  with open(os.path.join(REQUESTS, name), encoding="utf-8") as f:
    return json.load(f)


def _columns(body):
  """(columnar inputs, columnar outputs getter) of a request body and its answer."""
  if "instances" in body:
    rows = body["instances"]
    return {k: np.asarray([r[k] for r in rows]) for k in rows[0]}
  return {k: np.asarray(v) for k, v in body["inputs"].items()}


def _outputs(answer):
  if "predictions" in answer:
    rows = answer["predictions"]
    return {k: np.asarray([r[k] for r in rows]) for k in rows[0]}
  assert "outputs" in answer, answer
  return {k: np.asarray(v) for k, v in answer["outputs"].items()}


def test_every_request_file_is_answered(answers):
  names = sorted(os.listdir(REQUESTS))
  assert len(names) >= 12
  for name in names:
    assert "error" not in answers[name], (name, answers[name])
  assert answers["again"] == answers[names[0]]


def test_metadata_request(exported, answers):
  model, path, _ = exported
  (row,) = answers["metadata.instances.json"]["predictions"]
  assert row["scale_factor"] == pytest.approx(model.scale_factor)
  assert json.loads(row["hparams_json"]) == export.read_metadata(path)["hparams"]
  assert row["class_names"] == model.class_names and row["model_version"] == 1


@pytest.mark.parametrize("name", ["decode_step.instances.json", "decode_step.inputs.json"])
def test_decode_step_requests(exported, answers, name):
  model = exported[0]
  x = _columns(_body(name))
  want = python_decode_step(model, x["prev"].astype(np.float32), x["state"].astype(np.float32),
                      x["z"].astype(np.float32))
  _assert_step_close(model, _outputs(answers[name]), want)


def test_initial_state_request(exported, answers):
  model = exported[0]
  z = _columns(_body("initial_state.inputs.json"))["z"].astype(np.float32)
  want = np.concatenate([v.numpy() for v in model.decoder.initial_state(tf.constant(z))], 1)
  np.testing.assert_allclose(_outputs(answers["initial_state.inputs.json"])["state"], want,
                             atol=TOL)


def _pixel_sketches(x):
  return [strokes.to_stroke3(s[:n]) for s, n in zip(x["strokes"].astype(np.float32),
                                                    x["lengths"])]


@pytest.mark.parametrize("name", ["encode.instances.json", "encode.inputs.json"])
def test_encode_requests(exported, answers, name):
  model = exported[0]
  x = _columns(_body(name))
  got = _outputs(answers[name])
  sketches = _pixel_sketches(x)
  sampler = _sampler(model)
  np.testing.assert_allclose(got["mu"], sampler.encode(sketches), atol=TOL)
  for b, seed in enumerate(x["seed"]):
    want = sampler.encode(sketches[b:b + 1], sample=True, seed=int(seed))
    np.testing.assert_allclose(got["z"][b:b + 1], want, atol=TOL)
  # The encoder itself, on the normalised rows (padding ignored).
  s5 = x["strokes"].astype(np.float32).copy()
  s5[..., :2] /= model.scale_factor
  mu, presig = model.encoder(tf.constant(s5), tf.constant(x["lengths"], tf.int32))
  np.testing.assert_allclose(got["sigma"], np.exp(presig.numpy() / 2), atol=TOL)


def _assert_samples_match(model, got, x, z_rows):
  sampler = _sampler(model)
  scale = model.scale_factor
  for b in range(len(x["seed"])):
    z = None if z_rows is None else np.asarray(z_rows[b:b + 1], np.float32)
    s5, lengths = sampler.sample(num=1, z=z, temperature=float(x["temperature"][b]),
                                 max_len=int(x["max_len"][b]), seed=int(x["seed"][b]))
    n = int(lengths[0])
    assert int(got["lengths"][b]) == n
    strokes_px = np.asarray(got["strokes"][b], np.float32)
    np.testing.assert_allclose(strokes_px[:n, :2] / scale, s5[0, :n, :2], atol=TOL)
    np.testing.assert_array_equal(strokes_px[:n, 2:], s5[0, :n, 2:])
    assert (strokes_px[n:] == strokes.END_TOKEN).all()


@pytest.mark.parametrize("name", ["sample.instances.json", "sample.inputs.json",
                                  "sample_prior.instances.json", "sample_prior.inputs.json",
                                  "serving_default.json"])
def test_sample_requests(exported, answers, name):
  model = exported[0]
  x = _columns(_body(name))
  got = _outputs(answers[name])
  if "z" in x:
    z = x["z"]
  else:  # sample_prior / serving_default return the z they drew; it is Sampler's
    z = got["z"]
    for b, seed in enumerate(x["seed"]):
      want = tf.random.stateless_normal([1, model.hp.z_size], [int(seed), -1]).numpy()
      np.testing.assert_allclose(z[b:b + 1], want, atol=1e-6)
  assert np.asarray(got["strokes"]).shape[1] == max(x["max_len"])
  _assert_samples_match(model, got, x, z)


@pytest.mark.parametrize("name", ["reconstruct.instances.json", "reconstruct.inputs.json"])
def test_reconstruct_requests(exported, answers, name):
  model = exported[0]
  x = _columns(_body(name))
  got = _outputs(answers[name])
  z = _sampler(model).encode(_pixel_sketches(x))
  np.testing.assert_allclose(got["z"], z, atol=TOL)
  _assert_samples_match(model, got, x, z)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_requests_give_clear_errors(answers, name):
  assert "error" in answers[name], answers[name]
  assert BAD_MESSAGES[name] in answers[name]["error"]


# ---- every kind of model and cell ---------------------------------------------------

@pytest.mark.parametrize("overrides", [
    "conditional=false,dec_model=lstm",
    "conditional=false,num_classes=3,dec_model=layer_norm",
    "num_classes=3,dec_model=hyper",
])
def test_model_kinds(overrides, tmp_path):
  model = random_export_model(overrides)
  path, info = export.export_saved_model(model, str(tmp_path), "kind")
  sigs = tf.saved_model.load(path).signatures
  hp = model.hp
  expected = {"decode_step", "sample", "metadata", "serving_default"}
  if hp.conditional:
    expected |= {"encode", "initial_state", "sample_prior", "reconstruct"}
  assert set(sigs) == expected
  assert ("z" in sigs["decode_step"].structured_input_signature[1]) == hp.conditional
  assert ("labels" in sigs["sample"].structured_input_signature[1]) == bool(hp.num_classes)
  rng = np.random.default_rng(1)
  batch, width = 3, sum(model.decoder.cell.state_size)
  prev = np.array([[0, 0, 1, 0, 0], [9.0, -2.0, 1, 0, 0], [-3.0, 5.0, 0, 1, 0]], np.float32)
  state = rng.normal(0, 0.3, (batch, width)).astype(np.float32)
  z = rng.normal(size=(batch, hp.z_size)).astype(np.float32) if hp.conditional else None
  labels = np.array([0, 2, 1], np.int32) if hp.num_classes else None
  cond = {}
  if z is not None:
    cond["z"] = tf.constant(z)
  if labels is not None:
    cond["labels"] = tf.constant(labels)
  got = sigs["decode_step"](prev=tf.constant(prev), state=tf.constant(state), **cond)
  _assert_step_close(model, {k: v.numpy() for k, v in got.items()},
                     python_decode_step(model, prev, state, z, labels))
  x = {"temperature": np.array([0.5, 0.8, 1.0], np.float32), "max_len": np.array([40, 40, 25]),
       "seed": np.array([11, 12, 13])}
  got = sigs["sample"](temperature=tf.constant(x["temperature"]),
                       max_len=tf.constant(x["max_len"], tf.int32),
                       seed=tf.constant(x["seed"], tf.int32), **cond)
  got = {k: v.numpy() for k, v in got.items()}
  assert got["lengths"].max() > 10
  sampler = _sampler(model)
  for b in range(batch):  # per row, with the row's z and label
    s5, lengths = sampler.sample(num=1, z=None if z is None else z[b:b + 1],
                                 labels=None if labels is None else labels[b:b + 1],
                                 temperature=float(x["temperature"][b]),
                                 max_len=int(x["max_len"][b]), seed=int(x["seed"][b]))
    n = int(lengths[0])
    assert got["lengths"][b] == n
    # The SavedModel's graph and the sampler's XLA loop round differently; over a long
    # drawing the offsets (up to ~5 units) differ by a few float32 ulps of their size.
    np.testing.assert_allclose(got["strokes"][b, :n, :2] / 7.0, s5[0, :n, :2], atol=TOL,
                               rtol=1e-5)
    np.testing.assert_array_equal(got["strokes"][b, :n, 2:], s5[0, :n, 2:])
  if hp.num_classes:
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be < num_classes"):
      sigs["sample"](temperature=tf.constant([0.5]), max_len=tf.constant([5]),
                     seed=tf.constant([1]), labels=tf.constant([3]),
                     **({"z": tf.constant(z[:1])} if z is not None else {}))
  meta = sigs["metadata"](rows=tf.constant([0, 1]))
  assert [s.decode() for s in meta["class_names"].numpy()[1]] == model.class_names
  assert list(meta["state_sizes"].numpy()[1]) == list(model.decoder.cell.state_size)


def test_serving_config_matches_the_layout():
  """The example TF Serving config serves what export_saved_model writes by default."""
  import re
  with open(os.path.join(REPO, "export", "serving", "models.config"), encoding="utf-8") as f:
    text = f.read()
  name = re.search(r'name: "([^"]+)"', text).group(1)
  base = re.search(r'base_path: "([^"]+)"', text).group(1)
  assert name == "sketch_rnn" and os.path.basename(base) == name
  assert "model_platform: \"tensorflow\"" in text
  import inspect
  assert inspect.signature(export.export_saved_model).parameters["model_name"].default == name
