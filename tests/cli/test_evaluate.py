"""sketch-rnn-eval on a trained tiny model: the paper's table, checked against the metrics."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from sketch_rnn_tf.data import datasets, pipeline
from sketch_rnn_tf.model import losses
from sketch_rnn_tf.utils import run_dir

pytestmark = pytest.mark.slow  # subprocesses, Node/Chromium or training runs


def test_eval_table_matches_an_independent_pass(tiny_run, sheep_path):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  r = subprocess.run([sys.executable, "-m", "sketch_rnn_tf.cli.evaluate", f"--model_dir={tiny_run}"],
                     capture_output=True, text=True, timeout=300, env=env)
  assert r.returncode == 0, r.stderr[-3000:]
  rows = {m.group(1): [float(x) for x in m.group(3).split()]
          for m in re.finditer(r"^(valid|test)\s+(\d+)\s+(.*)$", r.stdout, re.M)}
  assert set(rows) == {"valid", "test"}
  l_r, l_kl, l_s, l_p, l_r_ref = rows["valid"]
  assert abs(l_r - (l_s + l_p)) < 2e-4

  # The same numbers computed here from the model's pieces, 100 sketches a batch.
  model = run_dir.load_model(tiny_run)
  data = datasets.load_npz_files([sheep_path])
  s_all, p_all, kl_all = [], [], []
  for batch in pipeline.make_dataset(data["valid"], model.scale_factor, 100, shuffle=False,
                                     epochs=1, bucket=False, pad=250):
    out = model(batch, training=False, seed=model._step_seed(0))
    l_s_b, l_p_b, _ = losses.reconstruction(out["y"], batch["strokes"][:, 1:], batch["lengths"],
                                            model.hp.num_mixture, 250, model.hp.mdn_epsilon)
    s_all.append(l_s_b.numpy().mean())
    p_all.append(l_p_b.numpy().mean())
    kl_all.append(losses.kl_divergence(out["mu"], out["presig"]).numpy().mean())
  assert abs(l_s - np.mean(s_all)) < 2e-4 and abs(l_p - np.mean(p_all)) < 2e-4
  assert abs(l_kl - np.mean(kl_all)) < 2e-4
  assert l_r_ref < l_r  # fewer pen terms


@pytest.mark.parametrize("metric", ["chamfer", "samples"])
def test_eval_metrics_end_with_one_json_line(tiny_run, metric):
  import json
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  r = subprocess.run([sys.executable, "-m", "sketch_rnn_tf.cli.evaluate", f"--model_dir={tiny_run}",
                      f"--metric={metric}", "--num=12", "--temperature=0.5"],
                     capture_output=True, text=True, timeout=300, env=env)
  assert r.returncode == 0, r.stderr[-3000:]
  result = json.loads(r.stdout.strip().splitlines()[-1])
  assert result["split"] == "test" and result["num"] == 12
  if metric == "chamfer":
    keys = ["chamfer_own", "chamfer_other", "chamfer_own_temperature",
            "chamfer_other_temperature", "untrained_chamfer_own", "untrained_chamfer_other"]
    assert all(np.isfinite(result[k]) and result[k] > 0 for k in keys)
    assert result["untrained_chamfer_own"] != result["chamfer_own"]
  else:
    ks = [k for k in result if k.startswith("ks_") or k.startswith("baseline_ks_")]
    assert len(ks) == 10 and all(0.0 <= result[k] <= 1.0 for k in ks)
