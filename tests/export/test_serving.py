"""Request bodies made from an export's signatures; the REST server; serving under load.

The generated bodies are checked against what the model's hparams say the shapes
must be (z_size, the cell's state width, N_max) and the sample answers against
`Sampler` for the same z and seed. The REST server's answers are compared with
`local_predict` run on the same files in another process, and the load benchmark's
short form must end with no unexpected error, every concurrent answer equal to the
single-threaded one, and no memory growth after warm-up.
"""
import http.client
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from sketch_rnn_tf.data import npz_io
from sketch_rnn_tf.export import request_bodies, signatures
from sketch_rnn_tf.sampling.sampler import Sampler
from sketch_rnn_tf.testing import REPO, random_export_model

pytestmark = pytest.mark.slow  # exports, subprocesses, a server

SERVING = os.path.join(REPO, "export", "serving")
sys.path.insert(0, SERVING)
import local_predict  # noqa: E402

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")


def _export(overrides, tmp_path, preset="tiny"):
  model = random_export_model(overrides, preset=preset)
  path, _ = signatures.export_saved_model(model, str(tmp_path), "m")
  return model, path


@pytest.mark.parametrize("overrides", [
    "z_size=24,dec_rnn_size=96,dec_model=hyper,hyper_num_units=40,max_seq_len=120",
    "conditional=false,num_classes=3,dec_model=layer_norm,dec_rnn_size=80",
])
def test_bodies_fit_a_model_that_is_not_the_tiny_preset(overrides, tmp_path, sheep_path):
  model, path = _export(overrides, tmp_path)
  hp = model.hp
  sketches = npz_io.load_npz(sheep_path, ("test",))["test"]
  bodies = request_bodies.make(signatures.read_metadata(path), sketches, batch=3,
                               seed=4, max_len=60)
  loaded = tf.saved_model.load(path)
  width = sum(model.decoder.cell.state_size)
  for stem, body in sorted(bodies.items()):
    answer = local_predict.predict(loaded, body)
    assert "error" not in answer, (stem, answer)
  x = bodies["decode_step.inputs"]["inputs"]
  assert np.asarray(x["state"]).shape == (3, width)
  assert np.asarray(x["prev"])[0].tolist() == [0, 0, 1, 0, 0]
  step = local_predict.predict(loaded, bodies["decode_step.inputs"])["outputs"]
  assert np.asarray(step["pi_logits"]).shape == (3, hp.num_mixture)
  sample = local_predict.predict(loaded, bodies["sample.inputs"])["outputs"]
  assert np.asarray(sample["strokes"]).shape == (3, 60, 5)
  rows = local_predict.predict(loaded, bodies["sample.instances"])["predictions"]
  assert len(rows) == 3
  for b, row in enumerate(rows):  # row form = columnar form
    np.testing.assert_array_equal(row["strokes"], sample["strokes"][b])
  s = bodies["sample.inputs"]["inputs"]
  if hp.conditional:
    assert np.asarray(s["z"]).shape == (3, hp.z_size)
    r = bodies["reconstruct.inputs"]["inputs"]
    lengths = [min(len(k), hp.max_seq_len) for k in sketches[:3]]
    assert r["lengths"] == lengths and np.asarray(r["strokes"]).shape == (3, max(lengths), 5)
  else:
    assert "reconstruct.inputs" not in bodies and "z" not in s
    assert s["labels"] == [0, 1, 2]
  # What the answer draws is what Sampler draws for that row's z, label and seed (the
  # SavedModel's graph and the sampler's loop round differently: a few float32 ulps of
  # offsets of a few units, after 60 steps).
  sampler = Sampler(model, jit_compile=False)
  for b in range(3):
    s5, n = sampler.sample(num=1, z=np.asarray(s["z"][b:b + 1], np.float32) if "z" in s
                           else None, labels=np.asarray(s["labels"][b:b + 1]) if "labels" in s
                           else None, temperature=s["temperature"][b], max_len=60,
                           seed=s["seed"][b])
    assert sample["lengths"][b] == int(n[0])
    np.testing.assert_allclose(np.asarray(sample["strokes"][b])[:int(n[0]), :2] / 7.0,
                               s5[0, :int(n[0]), :2], atol=3e-5, rtol=1e-5)


def test_unknown_input_is_named():
  meta = {"hparams": {"max_seq_len": 10}, "z_size": 0, "state_sizes": [4], "num_classes": 0,
          "max_len_limit": 100, "scale_factor": 1.0,
          "signatures": {"odd": {"inputs": {"gamma": ["float32", [-1]]}, "outputs": {}}}}
  with pytest.raises(ValueError, match="signature 'odd': no rule to fill the input 'gamma'"):
    request_bodies.make(meta)


def test_make_requests_tool_writes_bodies_local_predict_answers(tmp_path):
  _, path = _export("dec_rnn_size=48,z_size=12", tmp_path / "export")
  out = tmp_path / "requests"
  r = subprocess.run([sys.executable, os.path.join(SERVING, "make_requests.py"),
                      f"--saved_model={path}", f"--out={out}", "--batch=2", "--max_len=40"],
                     capture_output=True, text=True, env=ENV, timeout=300)
  assert r.returncode == 0, r.stderr[-2000:]
  files = sorted(str(p) for p in out.glob("*.json"))
  names = {"decode_step", "sample", "encode", "initial_state", "sample_prior", "reconstruct",
           "metadata"}
  assert sorted(os.path.basename(f) for f in files) == sorted(
      [f"{n}.{form}.json" for n in names for form in ("inputs", "instances")]
      + ["serving_default.json"])
  r = subprocess.run([sys.executable, os.path.join(SERVING, "local_predict.py"),
                      f"--saved_model={path}"] + files,
                     capture_output=True, text=True, env=ENV, timeout=300)
  assert r.returncode == 0, r.stderr[-2000:]
  answers = [json.loads(l) for l in r.stdout.splitlines()]
  assert len(answers) == len(files) and not [a for a in answers if "error" in a]


# ---- the REST server ------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
  _, path = _export("", tmp_path_factory.mktemp("served"))
  proc = subprocess.Popen([sys.executable, os.path.join(SERVING, "rest_server.py"),
                           f"--model_base_path={os.path.dirname(path)}", "--model_name=m",
                           "--port=0", "--max_body_bytes=100000"],
                          stdout=subprocess.PIPE, text=True, env=ENV)
  line = proc.stdout.readline()
  port = int(re.match(r"listening on [\d.]+:(\d+)", line).group(1))
  yield path, port
  proc.terminate()
  proc.wait(timeout=60)


def _call(port, method, url, body=None):
  conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
  try:
    conn.request(method, url, body)
    response = conn.getresponse()
    return response.status, json.loads(response.read())
  finally:
    conn.close()


def test_server_answers_as_local_predict(server):
  path, port = server
  files = sorted(os.path.join(SERVING, "requests", n)
                 for n in os.listdir(os.path.join(SERVING, "requests")))
  r = subprocess.run([sys.executable, os.path.join(SERVING, "local_predict.py"),
                      f"--saved_model={path}"] + files,
                     capture_output=True, text=True, env=ENV, timeout=300)
  assert r.returncode == 0, r.stderr[-2000:]
  for name, line in zip(files, r.stdout.splitlines()):
    want = json.loads(line)
    with open(name, "rb") as f:
      status, got = _call(port, "POST", "/v1/models/m:predict", f.read())
    if "error" in want:
      assert status == 400 and got["error"] == want["error"], name
    else:
      assert status == 200 and got == want, name


def test_server_status_metadata_and_errors(server):
  path, port = server
  status, body = _call(port, "GET", "/v1/models/m")
  assert status == 200 and body["model_version_status"][0]["state"] == "AVAILABLE"
  assert body["model_version_status"][0]["version"] == "1"
  status, body = _call(port, "GET", "/v1/models/m/versions/1/metadata")
  assert status == 200
  assert body["metadata"]["signature_def"] == signatures.read_metadata(path)["signatures"]
  assert _call(port, "POST", "/v1/models/other:predict", b"{}")[0] == 404
  status, body = _call(port, "POST", "/v1/models/m/versions/2:predict", b"{}")
  assert status == 404 and "serving version 1" in body["error"]
  status, body = _call(port, "POST", "/v1/models/m:predict", b'{"inputs": ')
  assert status == 400 and body["error"]
  status, body = _call(port, "POST", "/v1/models/m:predict", b"[1, 2]")
  assert status == 400 and "JSON object" in body["error"]
  status, body = _call(port, "POST", "/v1/models/m:predict", b" " * 100001)
  assert status == 413 and "100000" in body["error"]
  good = json.dumps({"signature_name": "metadata", "instances": [0]}).encode()
  status, body = _call(port, "POST", "/v1/models/m:predict", good)
  assert status == 200 and body["predictions"][0]["scale_factor"] == 7.0


def test_load_short_form():
  r = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "serving_load.py"),
                      "--preset=tiny", "--clients=4", "--requests=40", "--max_len=60"],
                     capture_output=True, text=True, env=ENV, timeout=900)
  assert r.returncode == 0, r.stderr[-3000:]
  result = json.loads(r.stdout.strip().splitlines()[-1])
  assert result["errors"] == 0 and result["mismatches"] == 0, r.stdout[-3000:]
  sent_ok, sent = map(int, result["bad_requests"].split("/"))
  assert sent > 0 and sent_ok == sent
  assert result["requests"] == 160
  assert result["rss_growth_mb"] < 50, result
