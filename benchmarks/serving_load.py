"""Serving under load: 8 clients x 250 requests against one loaded SavedModel.

Usage: python benchmarks/serving_load.py [--saved_model=DIR | --preset=magenta]
           [--clients=8] [--requests=250] [--data=../shared/data/aaron_sheep.npz]

The SavedModel (given, or a --preset model with random weights biased to draw
to max_len, exported to a temporary directory) is served by
`export/serving/rest_server.py` in its own process, as TF Serving's REST API
serves it. The request bodies are made from the export's own signatures
(`request_bodies`): `sample`, `reconstruct` (the data's test sketches) and
`decode_step`, in several batch sizes, lengths and seeds, with bad requests
mixed in (NaN, a length past the limit, a ragged batch, an unknown signature,
malformed JSON, a body over the size limit).

1. Every distinct body is sent once, alone: the single-threaded answers.
2. --clients threads, each with its own keep-alive connection, send --requests
   bodies each, drawn at random from the distinct ones (one in ten a bad one). Every answer must equal
   the single-threaded one for the same body (exactly: the same graph on the same
   shapes runs the same kernels in the same order, and each row's noise is keyed
   by its seed, not by what else runs), and every bad request must get its 400.
3. The server's RSS is sampled all along; after warm-up (the first tenth of the
   load) it must not grow.

Prints latency per signature, then one JSON line with p50_ms, p99_ms,
requests_per_s, errors (unexpected: wrong or failed answers; 0 when all is
well), mismatches, bad_requests (answered as expected / sent), rss_warm_mb,
rss_end_mb, rss_growth_mb.
"""
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from absl import app, flags  # noqa: E402
import numpy as np  # noqa: E402

import peaks  # noqa: E402  (benchmarks/peaks.py)

flags.DEFINE_string("saved_model", None, "An export's version directory (default: export "
                    "a --preset model with random weights).")
flags.DEFINE_string("preset", "magenta", "HParams preset of the model exported by default.")
flags.DEFINE_integer("clients", 8, "Concurrent clients.")
flags.DEFINE_integer("requests", 250, "Requests per client.")
flags.DEFINE_string("data", None, "Sketch .npz whose test split fills `strokes` "
                    "(default: ../shared/data/aaron_sheep.npz if present, else scribbles).")
flags.DEFINE_integer("max_len", 250, "The longest sample a request asks for.")
flags.DEFINE_integer("seed", 0, "Picks the clients' request sequences.")
FLAGS = flags.FLAGS

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SERVER = os.path.join(REPO, "export", "serving", "rest_server.py")
MAX_BODY_BYTES = 8 << 20  # the server's limit in this run; one bad body is over it
BAD_FRACTION = 0.1


def export_model(preset, out_dir):
  from sketch_rnn_tf.export import signatures
  from sketch_rnn_tf.testing import random_export_model
  path, _ = signatures.export_saved_model(random_export_model({}, preset=preset), out_dir,
                                          "sketch_rnn")
  return path


def load_sketches(path):
  from sketch_rnn_tf.data import npz_io
  from sketch_rnn_tf.testing import SHEEP
  path = path or (SHEEP if os.path.exists(SHEEP) else None)
  return (npz_io.load_npz(path, ("test",))["test"] if path else None), path


def distinct_bodies(metadata, sketches, max_len):
  """[(kind, body bytes)]: good bodies of several shapes and seeds, then bad ones."""
  from sketch_rnn_tf.export import request_bodies
  good = []
  kinds = [k for k in ("sample", "reconstruct", "decode_step") if k in metadata["signatures"]]
  for i, (batch, length) in enumerate([(1, max_len), (1, max_len // 2), (2, max_len),
                                       (4, max_len // 5), (1, 30), (3, max_len)]):
    picked = None if sketches is None else sketches[7 * i:7 * i + batch]
    bodies = request_bodies.make(metadata, picked, batch=batch, seed=100 * i,
                                 temperature=0.2 + 0.1 * i, max_len=length)
    for kind in kinds:
      form = "inputs" if i % 2 == 0 else "instances"
      good.append((kind, json.dumps(bodies[f"{kind}.{form}"]).encode()))
  base = request_bodies.make(metadata, None if sketches is None else sketches[:2], batch=2)
  nan = json.loads(json.dumps(base["decode_step.inputs"]))
  nan["inputs"]["prev"][1][0] = float("nan")
  too_long = json.loads(json.dumps(base["sample.inputs"]))
  too_long["inputs"]["max_len"] = [metadata["max_len_limit"] + 1] * 2
  ragged = json.loads(json.dumps(base["decode_step.inputs"]))
  ragged["inputs"]["state"][1] = ragged["inputs"]["state"][1][:-1]
  bad = [json.dumps(nan).encode(), json.dumps(too_long).encode(), json.dumps(ragged).encode(),
         json.dumps({"signature_name": "no_such", "inputs": {}}).encode(),
         b'{"signature_name": "sample", "inputs": {',
         b" " * (MAX_BODY_BYTES + 1)]
  return good + [("bad", b) for b in bad]


class Client:
  """One keep-alive connection; reconnects after the server closes it (a 413)."""

  def __init__(self, port):
    self.port, self.conn = port, None

  def post(self, body):
    if self.conn is None:
      self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
    try:
      self.conn.request("POST", "/v1/models/sketch_rnn:predict", body,
                        {"Content-Type": "application/json"})
      response = self.conn.getresponse()
      data = response.read()
      if response.getheader("Connection", "").lower() == "close":
        self.conn.close()
        self.conn = None
      return response.status, data
    except (OSError, http.client.HTTPException):
      self.conn.close()
      self.conn = None
      raise


def rss_mb(pid):
  with open(f"/proc/{pid}/status") as f:
    return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024


def start_server(saved_model):
  proc = subprocess.Popen([sys.executable, SERVER, f"--saved_model={saved_model}", "--port=0",
                           f"--max_body_bytes={MAX_BODY_BYTES}"],
                          stdout=subprocess.PIPE, text=True)
  line = proc.stdout.readline()
  match = re.match(r"listening on [\d.]+:(\d+)", line)
  if match is None:
    proc.kill()
    raise SystemExit(f"the server did not start: {line!r}")
  return proc, int(match.group(1))


def same_answer(a, b):
  """Equal JSON answers (NaN == NaN; the graph's outputs are deterministic)."""
  return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def main(argv):
  del argv
  from sketch_rnn_tf.export import signatures
  cpu, _ = peaks.cpu_name()
  with tempfile.TemporaryDirectory() as tmp:
    saved_model = FLAGS.saved_model or export_model(FLAGS.preset, tmp)
    metadata = signatures.read_metadata(saved_model)
    sketches, data = load_sketches(FLAGS.data)
    bodies = distinct_bodies(metadata, sketches, FLAGS.max_len)
    proc, port = start_server(saved_model)
    try:
      result = run_load(proc, port, bodies)
    finally:
      proc.terminate()
      proc.wait(timeout=60)
  hp = metadata["hparams"]
  print(f"CPU: {cpu}, {os.cpu_count()} CPUs; model {hp['dec_model']} {hp['dec_rnn_size']} "
        f"(z {metadata['z_size']}); strokes from {data or 'scribbles'}; "
        f"{FLAGS.clients} clients x {FLAGS.requests} requests, {len(bodies)} distinct bodies")
  for kind, stats in sorted(result.pop("per_kind").items()):
    print(f"  {kind:12s} n={stats['n']:5d}  p50 {stats['p50_ms']:8.1f} ms  "
          f"p99 {stats['p99_ms']:8.1f} ms")
  print(f"  all: {result['requests_per_s']:.1f} requests/s; p50 {result['p50_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms; server RSS {result['rss_warm_mb']:.0f} MB after "
        f"warm-up, {result['rss_end_mb']:.0f} MB at the end")
  print(json.dumps(dict(result, cpu=cpu, preset=None if FLAGS.saved_model else FLAGS.preset,
                        clients=FLAGS.clients, requests_per_client=FLAGS.requests)))


def run_load(proc, port, bodies):
  # 1. Single-threaded answers, one request at a time (also the warm-up of each shape).
  alone = Client(port)
  reference = [alone.post(body) for _, body in bodies]
  for (kind, body), (status, data) in zip(bodies, reference):
    if (status == 200) != (kind != "bad"):
      raise SystemExit(f"single-threaded: {kind} answered {status}: {data[:300]!r}")

  # 2. Concurrent clients.
  bad = [i for i, (kind, _) in enumerate(bodies) if kind == "bad"]
  good_ids = [i for i, (kind, _) in enumerate(bodies) if kind != "bad"]
  total = FLAGS.clients * FLAGS.requests
  done = [0]
  lock = threading.Lock()
  records = []   # (kind, seconds, ok)
  failures = []
  rss = []       # (requests done, MB)
  stop = threading.Event()

  def sample_rss():
    while not stop.is_set():
      with lock:
        n = done[0]
      rss.append((n, rss_mb(proc.pid)))
      stop.wait(0.2)

  def client(index):
    rng = random.Random(FLAGS.seed * 1000 + index)
    conn = Client(port)
    for _ in range(FLAGS.requests):
      # One request in ten is a bad one.
      i = rng.choice(bad if rng.random() < BAD_FRACTION else good_ids)
      kind, body = bodies[i]
      start = time.perf_counter()
      try:
        status, data = conn.post(body)
      except Exception as e:  # noqa: BLE001  (counted, reported)
        status, data = None, repr(e).encode()
      seconds = time.perf_counter() - start
      want_status, want_data = reference[i]
      ok = status == want_status and (
          status != 200 or same_answer(json.loads(data), json.loads(want_data)))
      if status == 400 and ok:
        ok = json.loads(data) == json.loads(want_data)  # the same message
      with lock:
        records.append((kind, seconds, ok))
        done[0] += 1
        if not ok:
          failures.append((kind, status, data[:300]))

  sampler = threading.Thread(target=sample_rss, daemon=True)
  sampler.start()
  threads = [threading.Thread(target=client, args=(c,)) for c in range(FLAGS.clients)]
  start = time.perf_counter()
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  elapsed = time.perf_counter() - start
  stop.set()
  sampler.join()
  rss.append((total, rss_mb(proc.pid)))
  for kind, status, data in failures[:5]:
    print(f"UNEXPECTED: {kind} -> {status}: {data!r}")

  good = [s for k, s, _ in records if k != "bad"]
  warm = [mb for n, mb in rss if n >= total // 10]
  per_kind = {}
  for kind in sorted({k for k, _, _ in records}):
    ms = sorted(1000 * s for k, s, _ in records if k == kind)
    per_kind[kind] = {"n": len(ms), "p50_ms": statistics.median(ms),
                      "p99_ms": float(np.percentile(ms, 99))}
  bad_sent = sum(k == "bad" for k, _, _ in records)
  bad_ok = sum(k == "bad" and ok for k, _, ok in records)
  ms = [1000 * s for s in good]
  return {
      "p50_ms": statistics.median(ms), "p99_ms": float(np.percentile(ms, 99)),
      "requests_per_s": len(records) / elapsed, "good_requests_per_s": len(good) / elapsed,
      "errors": len(failures), "mismatches": sum(
          1 for k, st, _ in failures if st == 200),
      "bad_requests": f"{bad_ok}/{bad_sent}", "requests": len(records),
      "rss_warm_mb": warm[0], "rss_end_mb": warm[-1], "rss_max_mb": max(warm),
      "rss_growth_mb": warm[-1] - warm[0], "per_kind": per_kind,
      "seconds": elapsed,
  }


if __name__ == "__main__":
  app.run(main)
