"""sketch-rnn-sample: every example in BUILD.md runs on the tests' tiny model and
writes a well-formed picture with the expected number of drawings."""
import os
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from sketch_rnn_tf.testing import REPO, SHARED

pytestmark = pytest.mark.slow  # subprocesses, Node/Chromium or training runs

MARKER = "<!-- sample-cli-examples -->"


def build_md_examples():
  with open(os.path.join(REPO, "BUILD.md"), encoding="utf-8") as f:
    text = f.read()
  block = re.search(r"```bash\n(.*?)```", text[text.index(MARKER):], re.S).group(1)
  return [l for l in block.splitlines() if l.startswith("sketch-rnn-sample ")]


EXAMPLES = build_md_examples()
# Drawings per picture for each example, from its flags (inputs + rows x columns).
EXPECTED = {"generate": 3 * 8, "reconstruct": 4 + 3 * 4, "interpolate": 10,
            "analogy": 3 + 4, "complete": 2 * (1 + 6)}


def _run(args, cwd):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  return subprocess.run([sys.executable, "-m", "sketch_rnn_tf.cli.sample", *args], cwd=cwd,
                        capture_output=True, text=True, timeout=300, env=env)


def _localise(line, model_dir, out_dir):
  args = shlex.split(line)[1:]
  subs = {"runs/sheep": model_dir, "out/": out_dir + os.sep,
          "../shared/": SHARED + os.sep, "tests/fixtures/": os.path.join(REPO, "tests", "fixtures") + os.sep}
  out = []
  for a in args:
    for old, new in subs.items():
      a = a.replace("=" + old, "=" + new)
    out.append(a)
  return out


def _count_drawings(path):
  if path.endswith(".svg"):
    root = ET.parse(path).getroot()
    return len([e for e in root.iter() if e.tag.endswith("text")]), root
  from PIL import Image
  with Image.open(path) as im:
    return None, np.asarray(im.convert("L"))


def test_build_md_has_an_example_for_every_mode():
  modes = {re.search(r"--mode=(\w+)", l).group(1) for l in EXAMPLES}
  assert modes == set(EXPECTED)


@pytest.mark.parametrize("line", EXAMPLES, ids=lambda l: re.search(r"--out=\S+/(\S+)", l)
                         .group(1))
def test_build_md_example_runs(line, tiny_run, tmp_path):
  args = _localise(line, tiny_run, str(tmp_path))
  r = _run(args, REPO)
  assert r.returncode == 0, r.stderr[-3000:]
  out = next(a.split("=", 1)[1] for a in args if a.startswith("--out="))
  mode = re.search(r"--mode=(\w+)", line).group(1)
  assert f"({mode})" in r.stdout
  labels, content = _count_drawings(out)
  if out.endswith(".svg"):
    if "sketch_start.svg" not in line:
      assert labels == EXPECTED[mode]
    assert len([e for e in content.iter() if e.tag.endswith("path")]) >= labels
  else:
    assert (content < 128).mean() > 0.001  # ink on the page


def test_same_seed_same_picture_and_clear_errors(tiny_run, tmp_path):
  sheep = os.path.join(SHARED, "data", "aaron_sheep.npz")
  base = [f"--model_dir={tiny_run}", "--mode=generate", "--num=4", "--temperature=0.7"]
  outs = []
  for name, seed in (("a", 5), ("b", 5), ("c", 6)):
    r = _run(base + [f"--seed={seed}", f"--out={tmp_path}/{name}.svg"], REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    outs.append((tmp_path / f"{name}.svg").read_text())
  assert outs[0] == outs[1] and outs[0] != outs[2]
  bad = [(["--mode=interpolate", f"--input={sheep}:test:0"], "exactly 2 input sketches"),
         (["--mode=reconstruct", f"--input={sheep}:test:999999"], "no index 999999"),
         (["--mode=reconstruct"], "needs --input"),
         (["--temperature=1.5"], r"must be in \(0, 1\]"),
         (["--out=x.txt"], "must end in .svg or .png")]
  for extra, message in bad:
    args = [f"--model_dir={tiny_run}", f"--out={tmp_path}/e.svg"] + extra
    r = _run(args, REPO)
    assert r.returncode != 0
    assert re.search(message, r.stderr), (extra, r.stderr[-1500:])
