"""Fine-tuning a published decoder against training the same decoder from scratch.

Usage: python benchmarks/finetune_sheep.py [--steps=300] [--every=50]
           [--gen_json=../shared/pretrained/sheep.gen.json] [--data=...aaron_sheep.npz]
           [--picture=docs/finetune_sheep.png]

Imports the published @magenta/sketch sheep decoder (an unconditional LSTM
512, trained on Quick, Draw! sheep) with sketch-rnn-import, then, on the
aaron_sheep training set, runs sketch-rnn-train three times for `--steps`
with the imported model's hparams and the same seed:

  finetune_rescaled  --init_from=IMPORT --rescale (the data's scale factor)
  finetune_kept      --init_from=IMPORT (the source's scale factor, the default)
  scratch            the same hparams, fresh weights

The fine-tuning runs take `--finetune_hparams` (default learning_rate=1e-4,
a tenth of the from-scratch rate, as fine-tuning usually runs). All three
take `--precision` (default float32, so that the step-0 figure is the source's
own: with bfloat16 operands, this CPU's training default, the published
decoder scores 0.509 instead of 0.459 before any step; its mixtures are sharp.
After 300 fine-tuning steps the two precisions were within 0.003).
"""
import json
import math
import os
import subprocess
import sys
import tempfile

from absl import app, flags

_HERE = os.path.dirname(os.path.abspath(__file__))
_SHARED = os.path.join(_HERE, "..", "..", "shared")
flags.DEFINE_string("gen_json", os.path.join(_SHARED, "pretrained", "sheep.gen.json"),
                    "The published decoder.")
flags.DEFINE_string("data", os.path.join(_SHARED, "data", "aaron_sheep.npz"), "Sketch .npz.")
flags.DEFINE_integer("steps", 300, "Training steps of each run.")
flags.DEFINE_integer("every", 50, "Evaluate every N steps.")
flags.DEFINE_string("finetune_hparams", "learning_rate=0.0001",
                    "--hparams of the fine-tuning runs (training options only).")
flags.DEFINE_string("precision", "float32", "--precision of all three runs (see the docstring).")
flags.DEFINE_string("picture", None, "A PNG of samples of the three models (rows).")
flags.DEFINE_string("work_dir", None, "Where the runs go (default: a temporary directory).")
FLAGS = flags.FLAGS

RUNS = ("finetune_rescaled", "finetune_kept", "scratch")


def cli(module, *args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  subprocess.run([sys.executable, "-m", f"sketch_rnn_tf.cli.{module}", *args], check=True,
                 env=env, stdout=sys.stderr)


def curve(model_dir):
  with open(os.path.join(model_dir, "metrics.jsonl")) as f:
    return {m["step"]: m for m in map(json.loads, f)}


def main(_):
  from sketch_rnn_tf.data import datasets
  from sketch_rnn_tf.utils import run_dir
  work = FLAGS.work_dir or tempfile.mkdtemp(prefix="finetune_sheep_")
  source = os.path.join(work, "import")
  if not os.path.exists(os.path.join(source, run_dir.HPARAMS)):
    cli("import_model", f"--gen_json={FLAGS.gen_json}", f"--out={source}")
  hp, info = run_dir.read_config(source)
  common = [f"--data={FLAGS.data}", f"--steps={FLAGS.steps}", f"--eval_every={FLAGS.every}",
            f"--precision={FLAGS.precision}",
            f"--save_every={FLAGS.steps}", "--log_every=50", "--seed=0"]
  fields = ("conditional", "dec_model", "dec_rnn_size", "num_mixture", "max_seq_len")
  scratch_hparams = ",".join(f"{k}={getattr(hp, k)}" for k in fields)
  tune = [f"--init_from={source}", f"--hparams={FLAGS.finetune_hparams}"]
  flags_of = {"finetune_rescaled": tune + ["--rescale"], "finetune_kept": tune,
              "scratch": ["--preset=magenta", f"--hparams={scratch_hparams}"]}
  curves = {}
  for name in RUNS:
    model_dir = os.path.join(work, name)
    cli("train", f"--model_dir={model_dir}", *common, *flags_of[name])
    curves[name] = curve(model_dir)
  scratch_hp, _ = run_dir.read_config(os.path.join(work, "scratch"))
  assert scratch_hp == hp, "the scratch run must have the imported model's hparams"

  data = datasets.load_npz_files([FLAGS.data], max_len=hp.max_seq_len or None)
  k_data = data.scale_factor
  k_source = info["scale_factor"]
  shift = 2 * math.log(k_source / k_data) * float(data["valid"].lengths.mean()) / hp.max_seq_len
  from sketch_rnn_tf.utils import compute_path
  model = compute_path.read_cpuinfo()[0]
  print(f"CPU: {model}; data scale factor {k_data:.4g}, source's {k_source:.4g}; kept-scale "
        f"L_R in the data's units = its own + {shift:.4f}")
  steps = sorted(curves["scratch"])
  print("| step | " + " | ".join(RUNS) + " | finetune_kept in the data's units |")
  print("|---" * (len(RUNS) + 2) + "|")
  for s in steps:
    row = [f"{curves[n][s]['recon']:.4f}" for n in RUNS]
    print(f"| {s} | " + " | ".join(row) + f" | {curves['finetune_kept'][s]['recon'] + shift:.4f} |")
  if FLAGS.picture:
    from sketch_rnn_tf.sampling import applications
    from sketch_rnn_tf.sampling.sampler import Sampler
    sketches, labels = [], []
    for name in RUNS:
      grid = applications.generate(Sampler(run_dir.load_model(os.path.join(work, name),
                                                              "latest")), 8, [0.3], seed=1)
      sketches += grid.sketches
      labels += [name] * len(grid.sketches)
    applications.write_grid(FLAGS.picture, applications.Grid(sketches, labels, 8))
    print(f"samples: {FLAGS.picture} (rows: {', '.join(RUNS)}; temperature 0.3)")
  last = steps[-1]
  print(json.dumps({"cpu": model, "steps": last, "work_dir": work,
                    **{f"{n}_valid_recon": round(curves[n][last]["recon"], 4) for n in RUNS},
                    "finetune_kept_valid_recon_data_units": round(
                        curves["finetune_kept"][last]["recon"] + shift, 4)}))


if __name__ == "__main__":
  app.run(main)
