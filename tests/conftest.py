"""Shared test fixtures: the real data in ../shared, skipped with a reason when absent."""
import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared")
SHEEP = os.path.join(SHARED, "data", "aaron_sheep.npz")


def require(ok, message):
  """Skips the test with `message` unless `ok`; under CI, fails instead: CI has
  ../shared and installs every tool, so a skip there would hide a gap."""
  if not ok:
    if os.environ.get("CI"):
      pytest.fail(message)
    pytest.skip(message)


def require_file(path, what="real data"):
  require(os.path.exists(path), f"{what} not found: {path} (../shared is absent)")
  return path


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
  r = subprocess.run([sys.executable, "-m", "sketch_rnn_tf.train", f"--data={sheep_path}",
                      "--preset=tiny", f"--log_dir={log_dir}", "--steps=30", "--eval_every=30",
                      "--save_every=30", "--log_every=30", "--nojit_compile"],
                     capture_output=True, text=True, timeout=600, env=env)
  assert r.returncode == 0, r.stderr[-3000:]
  return str(log_dir)
