"""Every installed command as a newcomer meets it: --help, and a mistake in one line."""
import os
import subprocess
import sys

import pytest

from sketch_rnn_tf.testing import REPO

pytestmark = pytest.mark.slow
BIN = os.path.dirname(sys.executable)
ENV = dict(os.environ, CUDA_VISIBLE_DEVICES="")
ENV.pop("TF_CPP_MIN_LOG_LEVEL", None)   # as a user runs them
# Each command and flags that only its own help lists.
COMMANDS = {
    "sketch-rnn-data": ["--max_len", "--epsilon"],
    "sketch-rnn-train": ["--model_dir", "--preset", "--strategy"],
    "sketch-rnn-eval": ["--model_dir", "--splits"],
    "sketch-rnn-sample": ["--model_dir", "--mode", "--temperature"],
    "sketch-rnn-export": ["--model_dir", "--tfjs"],
    "sketch-rnn-import": ["--gen_json", "--write_gen_json"],
}


def run(*args, timeout=120):
  return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, env=ENV,
                        cwd=REPO)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_lists_the_commands_own_flags(command):
  r = run(os.path.join(BIN, command), "--help")
  assert r.returncode == 0, r.stderr[-2000:]
  for flag in COMMANDS[command]:
    assert flag in r.stdout, (flag, r.stdout[:2000])
  assert command in r.stdout   # the docstring's usage lines


def one_line_error(r, command, *words):
  assert r.returncode == 2, (r.returncode, r.stderr[-3000:])
  lines = [line for line in r.stderr.splitlines() if line.strip()]
  assert len(lines) == 1, r.stderr          # no traceback, no start-up noise
  assert lines[0].startswith(f"{command}: error: "), lines[0]
  for word in words:
    assert word in lines[0], lines[0]


def test_train_on_a_missing_file(tmp_path):
  model_dir = tmp_path / "run"
  r = run(os.path.join(BIN, "sketch-rnn-train"), f"--data={tmp_path / 'nope.npz'}",
          f"--model_dir={model_dir}", "--preset=tiny")
  one_line_error(r, "sketch-rnn-train", "nope.npz")
  assert not model_dir.exists()


def test_train_with_a_bad_hparam(tmp_path, sheep_path):
  model_dir = tmp_path / "run"
  r = run(os.path.join(BIN, "sketch-rnn-train"), f"--data={sheep_path}",
          f"--model_dir={model_dir}", "--hparams=z_size=big")
  one_line_error(r, "sketch-rnn-train", "z_size", "'big'")
  assert not model_dir.exists()


def test_sample_from_an_empty_model_dir(tmp_path):
  r = run(os.path.join(BIN, "sketch-rnn-sample"), f"--model_dir={tmp_path}",
          f"--out={tmp_path / 'x.svg'}")
  one_line_error(r, "sketch-rnn-sample", str(tmp_path), "hparams.json")


def test_export_and_eval_from_an_empty_model_dir(tmp_path):
  for command, extra in (("sketch-rnn-export", [f"--out={tmp_path / 'out'}"]),
                         ("sketch-rnn-eval", [])):
    r = run(os.path.join(BIN, command), f"--model_dir={tmp_path}", *extra)
    one_line_error(r, command, "hparams.json")


def test_main_sh_help():
  r = run("bash", os.path.join(REPO, "scripts", "main.sh"), "--help")
  assert r.returncode == 0, r.stderr
  for option in ("--data", "--tfds", "--steps", "--preset", "--out", "--manual_dir"):
    assert option in r.stdout
