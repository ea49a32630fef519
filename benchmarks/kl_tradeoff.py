"""The paper's KL trade-off: L_R against L_KL for w_KL 0.25, 0.5, 1.0 and no encoder.

Usage: python benchmarks/kl_tradeoff.py [--preset=quickstart] [--steps=3000]
           [--data=FILE.npz] [--seed=0] [--work_dir=DIR]
           [--plot=docs/kl_tradeoff.png] [--samples=docs/kl_tradeoff_samples.png]

The paper (Ha & Eck 2018, Table 1) trains each setting to convergence and reports
test L_R and L_KL: a lower w_KL buys a better L_R with a higher L_KL, and the
unconditional model (no latent, L_KL = 0) has the worst L_R. This trains the
preset once per setting on --data (default ../shared/data/aaron_sheep.npz) with
sketch-rnn-train, the same seed and steps for all, then measures with
sketch-rnn-eval: test L_R and L_KL (`--metric=loss`, the last checkpoint) and,
for the conditional models, the Chamfer distance of greedy reconstructions to
their own and to another test sketch (`--metric=chamfer`). It writes a plot
(L_R against L_KL, one point per setting) and the models' free samples side by
side (one row per setting, the same seed and temperature), and checks the
paper's ordering. The last line is one JSON object.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from absl import app, flags

_HERE = os.path.dirname(os.path.abspath(__file__))
flags.DEFINE_string("data", os.path.join(_HERE, "..", "..", "shared", "data", "aaron_sheep.npz"),
                    "Sketch .npz file.")
flags.DEFINE_string("preset", "quickstart", "Hyperparameter preset.")
# The paper's Table 1 trains with KL tolerance 0.2 (the quickstart preset's is 1.0).
flags.DEFINE_string("hparams", "kl_tolerance=0.2", "Overrides applied to every setting, k=v,...")
flags.DEFINE_integer("steps", 3000, "Training steps per setting.")
flags.DEFINE_integer("seed", 0, "Seed of every run.")
flags.DEFINE_integer("chamfer_num", 100, "Test sketches reconstructed for the Chamfer figure.")
flags.DEFINE_string("work_dir", None, "Where the runs go (default: a temporary directory); "
                    "a setting whose run already reached --steps is not trained again.")
flags.DEFINE_string("plot", os.path.join(_HERE, "..", "docs", "kl_tradeoff.png"),
                    "Plot of L_R against L_KL (PNG).")
flags.DEFINE_string("samples", os.path.join(_HERE, "..", "docs", "kl_tradeoff_samples.png"),
                    "Free samples of each setting, one row each (PNG).")
flags.DEFINE_float("temperature", 0.3, "Temperature of the free samples.")
FLAGS = flags.FLAGS

# (name, hparams override): the paper's Table 1 settings.
SETTINGS = (("w_KL=0.25", "kl_weight=0.25"), ("w_KL=0.50", "kl_weight=0.5"),
            ("w_KL=1.00", "kl_weight=1.0"), ("unconditional", "conditional=false"))


def _tool(module, *args):
  """Runs one of our commands; returns its last output line parsed as JSON."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  out = subprocess.run([sys.executable, "-m", f"sketch_rnn_tf.cli.{module}", *args], check=True,
                       env=env, stdout=subprocess.PIPE, text=True).stdout
  sys.stderr.write(out)
  return json.loads(out.strip().splitlines()[-1]) if module == "evaluate" else None


def _trained_to(log_dir):
  try:
    with open(os.path.join(log_dir, "metrics.jsonl")) as f:
      return max(json.loads(line)["step"] for line in f)
  except (OSError, ValueError):
    return -1


def run_setting(work, name, override):
  log_dir = os.path.join(work, name.replace("=", "").replace(".", ""))
  overrides = ",".join(o for o in (FLAGS.hparams, override) if o)
  if _trained_to(log_dir) < FLAGS.steps:
    _tool("train", f"--data={FLAGS.data}", f"--preset={FLAGS.preset}", f"--hparams={overrides}",
          f"--model_dir={log_dir}", f"--steps={FLAGS.steps}", f"--eval_every={FLAGS.steps}",
          f"--save_every={FLAGS.steps}", "--log_every=100", f"--seed={FLAGS.seed}")
  row = {"setting": name, "model_dir": log_dir}
  loss = _tool("evaluate", f"--model_dir={log_dir}", "--splits=test", "--checkpoint=latest")
  row.update(recon=loss["test"]["recon"], kl=loss["test"]["kl"])
  if override != "conditional=false":
    ch = _tool("evaluate", f"--model_dir={log_dir}", "--splits=test", "--checkpoint=latest",
               "--metric=chamfer", f"--num={FLAGS.chamfer_num}", f"--seed={FLAGS.seed}")
    row.update(chamfer_own=ch["chamfer_own"], chamfer_other=ch["chamfer_other"],
               chamfer_ratio=ch["chamfer_other"] / ch["chamfer_own"])
  return row


def write_plot(rows, path, size=480, margin=60):
  """A scatter plot of L_R (y) against L_KL (x), drawn with Pillow."""
  from PIL import Image, ImageDraw
  from sketch_rnn_tf.utils import render
  kl = np.array([r["kl"] for r in rows])
  lr = np.array([r["recon"] for r in rows])
  x_hi = max(kl.max() * 1.15, 0.1)
  y_lo, y_hi = lr.min() - 0.05 * (np.ptp(lr) + 0.1), lr.max() + 0.05 * (np.ptp(lr) + 0.1)
  image = Image.new("RGB", (size, size), "white")
  draw = ImageDraw.Draw(image)
  inner = size - 2 * margin

  def xy(k, r):
    return margin + k / x_hi * inner, size - margin - (r - y_lo) / (y_hi - y_lo) * inner

  draw.rectangle([margin, margin, size - margin, size - margin], outline="black")
  for t in np.linspace(0, x_hi, 5):
    x, _ = xy(t, y_lo)
    draw.line([x, size - margin, x, size - margin + 5], fill="black")
    draw.text((x, size - margin + 14), f"{t:.2f}", fill="black", anchor="mm")
  for t in np.linspace(y_lo, y_hi, 5):
    _, y = xy(0, t)
    draw.line([margin - 5, y, margin, y], fill="black")
    draw.text((margin - 8, y), f"{t:.3f}", fill="black", anchor="rm")
  draw.text((size / 2, size - 18), "test L_KL", fill="black", anchor="mm")
  draw.text((12, margin - 20), "test L_R", fill="black", anchor="lm")
  for i, r in enumerate(rows):
    x, y = xy(r["kl"], r["recon"])
    c = render.PALETTE[i % len(render.PALETTE)]
    draw.ellipse([x - 5, y - 5, x + 5, y + 5], fill=c)
    # Alternate above / below: neighbouring settings often land close together.
    draw.text((x + 9, y + (10 if i % 2 else -10)), r["setting"], fill=c, anchor="lm")
  render.write_png(path, np.asarray(image))


def write_samples(rows, path, num=8):
  """Each setting's free samples in a row (same seed and temperature for all)."""
  from sketch_rnn_tf.sampling.sampler import Sampler
  from sketch_rnn_tf.utils import render, run_dir
  sketches, labels = [], []
  for r in rows:
    sampler = Sampler(run_dir.load_model(r["model_dir"], "latest"))
    s5, lengths = sampler.sample(num=num, temperature=FLAGS.temperature, seed=FLAGS.seed)
    sketches += sampler.to_stroke3_pixels(s5, lengths)
    labels += [r["setting"]] + [""] * (num - 1)
  render.write_png(path, render.png_grid(sketches, labels=labels, cols=num))


def ordering(rows):
  """The paper's ordering: L_R rises and L_KL falls with w_KL; no encoder is worst in L_R."""
  cond = [r for r in rows if "chamfer_own" in r]
  uncond = [r for r in rows if "chamfer_own" not in r]
  recon_rises = all(a["recon"] < b["recon"] for a, b in zip(cond, cond[1:]))
  kl_falls = all(a["kl"] > b["kl"] for a, b in zip(cond, cond[1:]))
  uncond_worst = all(u["recon"] > max(c["recon"] for c in cond) for u in uncond)
  return {"recon_rises_with_w_kl": recon_rises, "kl_falls_with_w_kl": kl_falls,
          "unconditional_worst_recon": uncond_worst}


def main(_):
  work = FLAGS.work_dir or tempfile.mkdtemp(prefix="kl_tradeoff_")
  rows = [run_setting(work, name, override) for name, override in SETTINGS]
  print(f"{FLAGS.preset} preset, {FLAGS.steps} steps, seed {FLAGS.seed}, "
        f"{os.path.basename(FLAGS.data)} test split")
  print(f"{'setting':<14} {'L_R':>7} {'L_KL':>7} {'Chamfer own':>12} {'other':>7} {'ratio':>6}")
  for r in rows:
    tail = (f" {r['chamfer_own']:>12.2f} {r['chamfer_other']:>7.2f} {r['chamfer_ratio']:>6.2f}"
            if "chamfer_own" in r else "")
    print(f"{r['setting']:<14} {r['recon']:>7.3f} {r['kl']:>7.3f}{tail}")
  write_plot(rows, FLAGS.plot)
  write_samples(rows, FLAGS.samples)
  result = {"preset": FLAGS.preset, "steps": FLAGS.steps, "seed": FLAGS.seed,
            "settings": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()
                          if k != "model_dir"} for r in rows]}
  order = ordering(rows)
  result.update(order, paper_ordering=all(order.values()))
  print(json.dumps(result))


if __name__ == "__main__":
  app.run(main)
