"""Shared test fixtures: the real data in ../shared, skipped with a reason when absent."""
import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from sketch_rnn_tf.testing import SHEEP, require_file  # noqa: E402 (after the environment)


@pytest.fixture(scope="session")
def sheep_path():
  return require_file(SHEEP)


@pytest.fixture(scope="session")
def tiny_run(sheep_path, tmp_path_factory):
  """A run directory of the tiny preset trained briefly on the sheep (once per worker)."""
  import subprocess
  import sys
  log_dir = tmp_path_factory.mktemp("tiny_run") / "run"
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  r = subprocess.run([sys.executable, "-m", "sketch_rnn_tf.cli.train", f"--data={sheep_path}",
                      "--preset=tiny", f"--model_dir={log_dir}", "--steps=30", "--eval_every=30",
                      "--save_every=30", "--log_every=30", "--nojit_compile"],
                     capture_output=True, text=True, timeout=600, env=env)
  assert r.returncode == 0, r.stderr[-3000:]
  return str(log_dir)
