"""sketch-rnn-train on a cluster of local workers, started as a cluster manager starts them.

Each worker is the real `sketch-rnn-train --strategy=multi_worker` command in its own
process, told its place by TF_CONFIG (127.0.0.1 ports), as Kubernetes, Slurm or
Vertex AI start TensorFlow workers. The reference is one process with the same
global batch split over as many CPU replicas (`--strategy=mirrored`): the same
per-replica batches from the same stream, the same per-replica random keys. In
float32 the two differ only in how the replicas' gradients are summed (a
collective over the network vs a local add), so the weights agree to float32
rounding; measured here: 9e-8 after 10 steps, 4e-7 after 100 (killed and resumed).
The tolerance is 2e-6, 100x below one Adam step (learning rate 3e-3). (bfloat16
matmuls would differ by more: oneDNN's kernels depend on each process's threads.)
"""
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # several training processes

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "distributed_check.py")
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
FLAGS = ["--preset=tiny", "--precision=float32", "--eval_batches=1", "--log_every=5",
         "--keep_checkpoints=20"]
TOL = 2e-6


def _ports(n):
  sockets = [socket.socket() for _ in range(n)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


class Cluster:
  """n worker processes of one job; `start` may be called again with the same flags."""

  def __init__(self, n, model_dir, flags):
    self.n, self.model_dir, self.flags = n, str(model_dir), flags
    self.procs, self.logs, self.round = [], [], 0

  def start(self):
    self.round += 1
    workers = [f"127.0.0.1:{p}" for p in _ports(self.n)]
    self.procs, self.logs = [], []
    for i in range(self.n):
      log = f"{self.model_dir}.round{self.round}.worker{i}.log"
      env = dict(ENV, TF_CONFIG=json.dumps({"cluster": {"worker": workers},
                                            "task": {"type": "worker", "index": i}}))
      self.logs.append(log)
      with open(log, "w") as out:
        self.procs.append(subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "sketch-rnn-train"),
             "--strategy=multi_worker", f"--model_dir={self.model_dir}"] + self.flags,
            stdout=out, stderr=subprocess.STDOUT, env=env))
    return self

  def output(self, i):
    with open(self.logs[i]) as f:
      return f.read()

  def wait(self, timeout=600):
    deadline = time.time() + timeout
    codes = []
    for p in self.procs:
      try:
        codes.append(p.wait(timeout=max(1, deadline - time.time())))
      except subprocess.TimeoutExpired:
        self.kill()
        raise AssertionError(f"a worker still runs after {timeout} s: " + self.output(0)[-3000:])
    return codes

  def wait_for(self, i, text, timeout=300):
    deadline = time.time() + timeout
    while text not in self.output(i):
      assert time.time() < deadline, f"worker {i} never printed {text!r}"
      assert self.procs[i].poll() is None, self.output(i)[-3000:]
      time.sleep(0.05)

  def kill(self):
    for p in self.procs:
      if p.poll() is None:
        p.kill()
        p.wait()


def _mirrored(model_dir, replicas, flags):
  r = subprocess.run([sys.executable, CHECK, "trainer", "--strategy=mirrored",
                      f"--model_dir={model_dir}"] + flags, capture_output=True, text=True,
                     timeout=900, env=dict(ENV, CPU_REPLICAS=str(replicas)))
  assert r.returncode == 0, r.stderr[-3000:]
  return str(model_dir)


def _weights(prefix):
  import tensorflow as tf
  reader = tf.train.load_checkpoint(prefix)
  out = {}
  for name in reader.get_variable_to_shape_map():
    value = reader.get_tensor(name)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
      out[name] = value
  return out


def _assert_same_weights(a, b):
  wa, wb = _weights(a), _weights(b)
  assert sorted(wa) == sorted(wb) and len(wa) > 20
  worst = max(float(np.abs(wa[k] - wb[k]).max()) for k in wa)
  assert worst < TOL, f"weights differ by {worst}"


def _metrics(model_dir):
  with open(os.path.join(model_dir, "metrics.jsonl")) as f:
    return [json.loads(l) for l in f]


@pytest.fixture(scope="module")
def mirrored2(sheep_path, tmp_path_factory):
  """The reference: one process, 2 CPU replicas, 60 steps, a checkpoint every 10."""
  return _mirrored(tmp_path_factory.mktemp("mirrored2") / "run", 2,
                   FLAGS + [f"--data={sheep_path}", "--steps=60", "--save_every=10",
                            "--eval_every=10"])


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_train_to_the_end_as_one_process(workers, sheep_path, tmp_path, mirrored2):
  flags = FLAGS + [f"--data={sheep_path}", "--steps=20", "--save_every=10", "--eval_every=10"]
  if workers == 3:
    flags.append("--hparams=batch_size=30")  # a global batch that splits in 3
  run = tmp_path / "run"
  cluster = Cluster(workers, run, flags).start()
  assert cluster.wait() == [0] * workers, cluster.output(0)[-3000:]
  for i in range(workers):
    assert "done at step 20" in cluster.output(i)
  reference = (mirrored2 if workers == 2 else
               _mirrored(tmp_path / "mirrored3", 3, flags))
  _assert_same_weights(os.path.join(run, "ckpt", "ckpt-20"),
                       os.path.join(reference, "ckpt", "ckpt-20"))
  # The chief wrote the run; the other workers left nothing behind.
  got, want = _metrics(run), _metrics(reference)
  assert [m["step"] for m in got] == [0, 10, 20]
  for g, w in zip(got, want):
    assert abs(g["loss"] - w["loss"]) < 1e-5, (g, w)
  assert sorted(os.listdir(run)) == ["best", "ckpt", "hparams.json", "metrics.jsonl",
                                     "model_info.json", "samples", "train", "valid"]
  for board in ("train", "valid"):
    assert len(os.listdir(run / board)) == 1  # one writer: the chief's
  assert sorted(os.listdir(run / "samples")) == [
      "step_0000010.png", "step_0000010.svg", "step_0000020.png", "step_0000020.svg"]
  best = json.load(open(run / "best" / "best.json"))
  assert best["step"] in (10, 20) and best["loss"] == min(m["loss"] for m in got[1:])


def test_a_lost_worker_stops_the_job_and_it_resumes(sheep_path, tmp_path, mirrored2):
  flags = FLAGS + [f"--data={sheep_path}", "--steps=60", "--save_every=10", "--eval_every=10"]
  run = tmp_path / "run"
  cluster = Cluster(2, run, flags).start()
  cluster.wait_for(1, "step 35/60")
  cluster.procs[1].send_signal(signal.SIGKILL)
  start = time.time()
  codes = cluster.wait(timeout=120)  # the chief must not wait forever
  assert codes[0] != 0 and time.time() - start < 120
  message = cluster.output(0)
  assert "lost contact with a worker of the cluster" in message, message[-3000:]
  assert "Start every worker again with the same command" in message
  kept = int(open(run / "ckpt" / "checkpoint").readline().split('"')[1].split("-")[1])
  assert kept >= 30  # nothing lost beyond one save interval
  # The cluster manager starts both again with the same commands.
  assert cluster.start().wait() == [0, 0], cluster.output(0)[-3000:]
  for i in range(2):
    assert f"resumed from {run}/ckpt/ckpt-{kept} at step {kept}" in cluster.output(i)
    assert "done at step 60" in cluster.output(i)
  # Killed and resumed, it ends where a run that never stopped ends.
  _assert_same_weights(os.path.join(run, "ckpt", "ckpt-60"),
                       os.path.join(mirrored2, "ckpt", "ckpt-60"))


def test_chief_killed_while_writing_a_checkpoint(sheep_path, tmp_path):
  # Checkpoints large enough (~60 MB with Adam's slots) that a write takes a while
  # to catch: the chief is killed while ckpt-N_temp/ holds a half-written shard.
  flags = FLAGS + [f"--data={sheep_path}", "--steps=400", "--save_every=2",
                   "--eval_every=1000", "--hparams=dec_rnn_size=1024,batch_size=8"]
  run = tmp_path / "run"
  cluster = Cluster(2, run, flags).start()
  deadline = time.time() + 300
  caught = []
  while not caught:
    assert time.time() < deadline and cluster.procs[0].poll() is None, cluster.output(0)[-3000:]
    if os.path.exists(run / "ckpt" / "checkpoint"):  # a complete one exists already
      caught = [p for p in glob.glob(str(run / "ckpt" / "*_temp" / "*")) if "tempstate" in p]
    if not caught:
      time.sleep(0.001)
  cluster.procs[0].send_signal(signal.SIGKILL)
  codes = cluster.wait(timeout=120)
  assert codes[1] != 0
  assert "lost contact with a worker of the cluster" in cluster.output(1)
  assert glob.glob(str(run / "ckpt" / "*_temp"))  # the half-written save is there
  kept = int(open(run / "ckpt" / "checkpoint").readline().split('"')[1].split("-")[1])
  half = int(os.path.basename(os.path.dirname(caught[0])).split("-")[1].split("_")[0])
  assert kept == half - 2  # the save before the one that was cut
  cluster.flags = [f if not f.startswith("--steps=") else f"--steps={half + 2}" for f in flags]
  assert cluster.start().wait() == [0, 0], cluster.output(0)[-3000:]
  assert f"resumed from {run}/ckpt/ckpt-{kept} at step {kept}" in cluster.output(0)
  assert f"done at step {half + 2}" in cluster.output(1)
  assert not glob.glob(str(run / "ckpt" / "*_temp"))
  assert _weights(os.path.join(run, "ckpt", f"ckpt-{half + 2}"))  # complete and readable
