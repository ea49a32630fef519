"""tf.distribute: two CPU replicas and two local workers agree with one device."""
import json
import os
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # subprocesses, Node/Chromium or training runs

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "distributed_check.py")
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")


def last_json(text):
  return json.loads(text.strip().splitlines()[-1])


def check(result):
  assert result["replicas"] == 2
  assert result["loss_diff"] < 1e-6
  assert result["grad_diff"] < 1e-6 * max(1.0, result["grad_scale"])
  # Two Adam steps with clipping on the summed gradient: the same weights.
  assert result["weight_change"] > 1e-3
  assert result["weight_diff_after_2_steps"] < 1e-6


def test_mirrored_two_cpu_replicas_match_one_device():
  r = subprocess.run([sys.executable, SCRIPT, "mirrored"], capture_output=True, text=True,
                     timeout=300, env=ENV)
  assert r.returncode == 0, r.stderr[-3000:]
  check(last_json(r.stdout))


def free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_two_local_workers_match_one_device():
  ports = f"{free_port()},{free_port()}"
  procs = [subprocess.Popen([sys.executable, SCRIPT, "worker", str(i), ports],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
           for i in range(2)]
  outs = [p.communicate(timeout=300) for p in procs]
  for p, (out, err) in zip(procs, outs):
    assert p.returncode == 0, err[-3000:]
    check(last_json(out))


def test_trainer_runs_mirrored_with_xla(sheep_path, tmp_path):
  log_dir = tmp_path / "run"
  r = subprocess.run([sys.executable, SCRIPT, "trainer", "--strategy=mirrored",
                      f"--data={sheep_path}", "--preset=tiny", f"--model_dir={log_dir}",
                      "--steps=6", "--eval_every=6", "--save_every=3", "--log_every=3",
                      "--eval_batches=1"],
                     capture_output=True, text=True, timeout=600, env=ENV)
  assert r.returncode == 0, r.stderr[-3000:]
  assert "done at step 6" in r.stdout
  lines = [json.loads(l) for l in open(log_dir / "metrics.jsonl")]
  assert [l["step"] for l in lines] == [0, 6]
