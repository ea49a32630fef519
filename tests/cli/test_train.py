"""The trainer on real sheep with the tiny preset: learning, resuming, bad input (in
process), and faults (killed subprocesses)."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from sketch_rnn_tf.model import hparams
from sketch_rnn_tf.training import trainer
from sketch_rnn_tf.utils.errors import InputError

pytestmark = pytest.mark.slow  # subprocesses, Node/Chromium or training runs

HERE = os.path.dirname(os.path.abspath(__file__))
FAST = ["--preset=tiny", "--nojit_compile", "--log_every=10"]


def train(log_dir, data, *flags, script=None, timeout=300):
  cmd = [sys.executable] + ([script] if script else ["-m", "sketch_rnn_tf.cli.train"])
  cmd += list(flags) + [f"--data={data}", f"--model_dir={log_dir}"] + FAST
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def metrics(log_dir):
  with open(os.path.join(log_dir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


def weights(log_dir):
  path = tf.train.latest_checkpoint(os.path.join(log_dir, "ckpt"))
  reader = tf.train.load_checkpoint(path)
  # Every saved value: the weights (stored under the optimizer's references), the
  # optimizer's moments and step, the model's counters.
  names = sorted(n for n in reader.get_variable_to_shape_map() if "VARIABLE_VALUE" in n)
  assert len(names) > 20
  return path, {n: reader.get_tensor(n) for n in names}


def config(model_dir, sheep, **kw):
  """The tiny preset without XLA, as the subprocess runs below use."""
  args = dict(model_dir=str(model_dir), data=[sheep], preset="tiny", jit_compile=False,
              log_every=10)
  args.update(kw)
  return trainer.TrainConfig(**args)


def test_short_run_lowers_validation_cost_and_resumes_exactly(sheep_path, tmp_path, capsys):
  straight, split = tmp_path / "straight", tmp_path / "split"
  assert trainer.train(config(straight, sheep_path, steps=80, eval_every=40,
                              save_every=40)) == 80
  out = capsys.readouterr().out
  curve = metrics(straight)
  assert [m["step"] for m in curve] == [0, 40, 80]
  assert curve[-1]["recon"] < curve[0]["recon"] - 0.5  # clearly lower L_R
  assert "sketches/s" in out and "ETA" in out
  for name in ("hparams.json", "model_info.json", "best/best.json"):
    assert os.path.exists(os.path.join(straight, name))
  hp = hparams.get("tiny")
  final = {m["step"]: m["recon"] + hp.kl_weight * max(m["kl"], hp.kl_tolerance) for m in curve}
  with open(os.path.join(straight, "best", "best.json")) as f:
    assert json.load(f)["step"] == min(final, key=final.get)

  trainer.train(config(split, sheep_path, steps=40, eval_every=40, save_every=40))
  capsys.readouterr()
  trainer.train(config(split, sheep_path, steps=80, eval_every=40, save_every=40))
  out = capsys.readouterr().out
  assert "at step 40" in out and "resumed from" in out
  # Same schedules, same data order, same random draws, same graph: bit for bit the
  # same weights. (A graph traced from the first batch's shapes rounded differently
  # after a resume; bfloat16 matmuls grew that to 1e-4 by step 80.)
  path_a, a = weights(straight)
  path_b, b = weights(split)
  assert path_a.endswith("ckpt-80") and path_b.endswith("ckpt-80")
  for name in a:
    np.testing.assert_array_equal(a[name], b[name], err_msg=name)
  assert [m["step"] for m in metrics(split)] == [0, 40, 80]
  np.testing.assert_allclose(metrics(split)[-1]["recon"], curve[-1]["recon"], rtol=1e-5)


def test_resume_refuses_other_hparams(sheep_path, tmp_path):
  trainer.train(config(tmp_path / "run", sheep_path, steps=2, eval_every=2))
  with pytest.raises(InputError, match="other hparams"):
    trainer.train(config(tmp_path / "run", sheep_path, steps=4, hparams="z_size=4"))


@pytest.mark.parametrize("bad, message", [
    (dict(hparams="no_such_field=1"), "unknown hparam 'no_such_field'"),
    (dict(hparams="z_size=many"), "z_size: 'many' is not a int"),
    (dict(preset="huge"), "unknown preset 'huge'"),
    (dict(data=["missing.npz"]), "missing.npz"),
])
def test_bad_input_writes_nothing_and_the_fixed_run_starts(sheep_path, tmp_path, bad, message):
  """A failed first run leaves no run directory, so the corrected rerun is a new run."""
  model_dir = tmp_path / "run"
  with pytest.raises((InputError, OSError), match=re.escape(message)):
    trainer.train(config(model_dir, sheep_path, steps=1, eval_every=1, **bad))
  assert not model_dir.exists()
  assert trainer.train(config(model_dir, sheep_path, steps=1, eval_every=1,
                              eval_batches=1)) == 1


def test_nonfinite_run_stops_with_a_clear_message(sheep_path, tmp_path):
  with pytest.raises(trainer.NonFiniteRun, match="steps in a row had a non-finite loss"):
    trainer.train(config(tmp_path / "run", sheep_path, steps=50, max_nonfinite=3,
                         hparams="learning_rate=1e30,grad_clip=1e30,clip_mode=global_norm"))


def test_bfloat16_precision_trains_and_draws(sheep_path, tmp_path, capsys):
  trainer.train(config(tmp_path / "run", sheep_path, steps=4, eval_every=4, save_every=4,
                       precision="bfloat16", eval_batches=1))
  assert "training path: graph mode, bfloat16 matmuls on the CPU (graph mode and bfloat16 as " \
         "asked" in capsys.readouterr().out
  last = metrics(tmp_path / "run")[-1]
  assert last["step"] == 4 and np.isfinite(last["loss"])
  assert os.path.exists(tmp_path / "run" / "samples" / "step_0000004.png")


@pytest.mark.parametrize("mode, nth", [("shards", 2), ("index", 3)])
def test_kill_during_checkpoint_write_resumes_from_last_complete(sheep_path, tmp_path, mode, nth):
  log_dir = str(tmp_path / "run")
  flags = ["--steps=30", "--save_every=5", "--eval_every=1000"]
  r = train(log_dir, sheep_path, mode, str(nth), *flags,
            script=os.path.join(HERE, "fault_injection.py"))
  assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr[-2000:])
  killed = int(re.search(r"killing while saving .*ckpt-(\d+)", r.stdout).group(1))
  last_complete = killed - 5  # the save before the one that was cut short
  assert last_complete >= 5
  state = tf.train.get_checkpoint_state(os.path.join(log_dir, "ckpt"))
  assert state.model_checkpoint_path.endswith(f"ckpt-{last_complete}")
  r = train(log_dir, sheep_path, *flags)
  assert r.returncode == 0, r.stderr[-3000:]
  assert f"at step {last_complete}" in r.stdout
  path, _ = weights(log_dir)
  assert path.endswith("ckpt-30")


def test_sigkill_at_random_points_never_corrupts(sheep_path, tmp_path):
  log_dir = str(tmp_path / "run")
  flags = ["--steps=60", "--save_every=3", "--eval_every=1000", "--log_every=1"]
  rng = np.random.default_rng(0)
  resumed_at = []
  for attempt in range(3):
    cmd = [sys.executable, "-m", "sketch_rnn_tf.cli.train", f"--data={sheep_path}",
           f"--model_dir={log_dir}", "--preset=tiny", "--nojit_compile"] + flags
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env)
    target = int(rng.integers(2, 8))  # progress lines to wait for before the kill
    seen, lines = 0, []
    for line in proc.stdout:
      lines.append(line)
      if line.startswith("step ") and "/60" in line:
        seen += 1
        if seen == target:
          time.sleep(float(rng.uniform(0, 0.05)))  # land anywhere, saves included
          proc.send_signal(signal.SIGKILL)
          break
    proc.wait(timeout=60)
    proc.stdout.close()
    text = "".join(lines)
    m = re.search(r"at step (\d+)", text)
    resumed_at.append(int(m.group(1)) if m else 0)
    last_step = max(int(s) for s in re.findall(r"^step (\d+)/60", text, re.M))
    assert resumed_at[-1] <= last_step
  r = train(log_dir, sheep_path, *flags)
  assert r.returncode == 0, r.stderr[-3000:]
  m = re.search(r"at step (\d+)", r.stdout)
  assert m and int(m.group(1)) % 3 == 0
  assert weights(log_dir)[0].endswith("ckpt-60")
  assert resumed_at == sorted(resumed_at)  # progress is never lost beyond a save interval


def test_trains_from_tfds_built_offline(sheep_path, tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  (manual / "sheep.npz").symlink_to(sheep_path)
  log_dir = str(tmp_path / "run")
  cmd = [sys.executable, "-m", "sketch_rnn_tf.cli.train", "--tfds=quickdraw_sketch_rnn/sheep",
         f"--manual_dir={manual}", f"--data_dir={tmp_path / 'tfds'}", f"--model_dir={log_dir}",
         "--steps=3", "--eval_every=3", "--save_every=3", "--eval_batches=1"] + FAST
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
  assert r.returncode == 0, r.stderr[-3000:]
  info = json.load(open(os.path.join(log_dir, "model_info.json")))
  assert info["data"]["tfds"] == ["quickdraw_sketch_rnn/sheep"]
  assert abs(info["scale_factor"] - 18.519827) < 1e-5 and len(info["class_names"]) == 345


def test_n_max_is_the_datas_longest_sketch_unless_set(sheep_path, tmp_path):
  """As the reference sets it: N_max = the longest sketch of all splits, none dropped."""
  data = np.load(sheep_path, allow_pickle=True, encoding="latin1")
  rng = np.random.default_rng(0)
  splits = {}
  for split, n in (("train", 64), ("valid", 8), ("test", 8)):
    cut = []
    for s in data[split][:n]:
      s = np.array(s[:rng.integers(10, 37)], np.int16)
      s[-1, 2] = 1
      cut.append(s)
    splits[split] = np.array(cut, dtype=object)
  splits["test"][3] = np.array(data["test"][0][:41], np.int16)  # the longest: in test
  small = tmp_path / "small.npz"
  np.savez(small, **splits)
  # 64 sketches make no full batch in each of tiny's 10 length buckets: one bucket.
  trainer.train(config(tmp_path / "auto", str(small), steps=2, eval_every=2, save_every=2,
                       hparams="num_buckets=1"))
  hp = json.load(open(tmp_path / "auto" / "hparams.json"))
  assert hp["max_seq_len"] == 41
  trainer.train(config(tmp_path / "set", str(small), steps=2, eval_every=2, save_every=2,
                       hparams="num_buckets=1,max_seq_len=38"))
  assert json.load(open(tmp_path / "set" / "hparams.json"))["max_seq_len"] == 38
