"""Training throughput of the paper (HyperLSTM) and LSTM configs, in one run.

Usage: python benchmarks/train_throughput.py [--data=...aaron_sheep.npz] [--steps=30]

For each config, in a fresh subprocess (so peak memory is its own): batch 100
of the sheep training set through the real pipeline (bucketed, augmented),
the jit-compiled train step warmed up on every bucket shape, then `--steps`
timed steps. Prints sketches/s, the model's useful FLOPs per step (matmul
work on real, unpadded points, forward and backward), the achieved GFLOP/s,
the machine's float32 matmul GFLOP/s and peak RSS. The last line is one JSON
object.
"""
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

_HERE = os.path.dirname(os.path.abspath(__file__))
flags.DEFINE_string("data", os.path.join(_HERE, "..", "..", "shared", "data", "aaron_sheep.npz"),
                    "Sketch .npz file.")
flags.DEFINE_integer("steps", 30, "Timed steps per config.")
flags.DEFINE_string("configs", "hyper,lstm", "Which configs: hyper (paper), lstm (magenta).")
flags.DEFINE_string("worker", None, "Internal: run one config and print its JSON.")
flags.DEFINE_bool("jit_compile", True, "XLA-compile the train step.")
FLAGS = flags.FLAGS

PRESETS = {"hyper": "paper", "lstm": "magenta"}


def forward_flops_per_point(hp):
  """Matmul FLOPs (2 per multiply-add) of one real point through the model."""
  e, d = hp.enc_rnn_size, hp.dec_rnn_size
  flops = 2 * 2 * (5 * 4 * e + e * 4 * e)                   # bi-LSTM encoder
  flops += 2 * (5 * 4 * d + d * 4 * d)                       # decoder (z part once per sketch)
  flops += 2 * d * (3 + 6 * hp.num_mixture)                  # MDN head
  if hp.dec_model == "hyper":
    hh, emb = hp.hyper_num_units, hp.hyper_embedding_size
    flops += 2 * (5 * 4 * hh + (d + hh) * 4 * hh)            # hyper cell
    flops += 2 * (hh * 12 * emb + 12 * emb * d)              # embeddings and scales
  return flops


def matmul_gflops(n=2048, reps=20):
  """float32 matmul throughput: a chain of dependent n x n products in one graph."""
  import tensorflow as tf
  a = tf.random.normal([n, n]) / n ** 0.5

  @tf.function
  def chain(x):
    for _ in range(reps):
      x = tf.matmul(x, a)
    return x

  chain(a).numpy()
  start = time.perf_counter()
  chain(a).numpy()
  return reps * 2 * n ** 3 / (time.perf_counter() - start) / 1e9


def run_worker(kind):
  import numpy as np
  import tensorflow as tf
  from sketch_rnn_tf.data import datasets, pipeline
  from sketch_rnn_tf.model import hparams
  from sketch_rnn_tf.model.optimizer import make_optimizer
  from sketch_rnn_tf.model.sketch_rnn import SketchRNN

  hp = hparams.get(PRESETS[kind])
  data = datasets.load_npz_files([FLAGS.data], max_len=hp.max_seq_len)
  train = data["train"]
  model = SketchRNN(hp, data.scale_factor)
  model.build()
  model.optimizer = make_optimizer(hp)
  model.optimizer.build(model.trainable_variables)
  model.compile_gradients(FLAGS.jit_compile)
  step = tf.function(model.train_step, reduce_retracing=True)
  bounds = pipeline.bucket_boundaries(train.lengths, hp.num_buckets)
  ds = pipeline.make_dataset(train, data.scale_factor, hp.batch_size, seed=0,
                             random_scale=hp.random_scale_factor,
                             drop_prob=hp.augment_stroke_prob, boundaries=bounds,
                             pad="bucket", drop_remainder=True)
  it = iter(ds)
  start = time.perf_counter()
  seen = set()
  while len(seen) < len(bounds):  # compile every bucket shape before timing
    batch = next(it)
    seen.add(int(batch["strokes"].shape[1]))
    step(batch)
  compile_s = time.perf_counter() - start
  points = 0
  start = time.perf_counter()
  for _ in range(FLAGS.steps):
    batch = next(it)
    points += int(batch["lengths"].numpy().sum())
    logs = step(batch)
  float(logs["loss"])
  elapsed = time.perf_counter() - start
  flops = 3 * forward_flops_per_point(hp) * points / FLAGS.steps  # forward + backward
  return {
      "kind": kind, "sketches_per_s": FLAGS.steps * hp.batch_size / elapsed,
      "step_ms": 1000 * elapsed / FLAGS.steps, "useful_gflop_per_step": flops / 1e9,
      "achieved_gflops": flops * FLAGS.steps / elapsed / 1e9, "compile_s": compile_s,
      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
      "loss": float(np.asarray(logs["loss"])),
  }


def main(_):
  if FLAGS.worker:
    print(json.dumps(run_worker(FLAGS.worker)))
    return
  if not os.path.exists(FLAGS.data):
    sys.exit(f"data not found: {FLAGS.data}")
  results = {}
  for kind in FLAGS.configs.split(","):
    out = subprocess.run(
        [sys.executable, __file__, f"--worker={kind}", f"--data={FLAGS.data}",
         f"--steps={FLAGS.steps}", f"--jit_compile={FLAGS.jit_compile}"],
        capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{kind:>6} ({PRESETS[kind]} preset): {r['sketches_per_s']:.1f} sketches/s, "
          f"{r['step_ms']:.0f} ms/step, {r['useful_gflop_per_step']:.1f} useful GFLOP/step, "
          f"{r['achieved_gflops']:.1f} GFLOP/s, peak RSS {r['peak_rss_mb']:.0f} MB, "
          f"compile {r['compile_s']:.0f} s")
    results[f"{kind}_sketches_per_s"] = round(r["sketches_per_s"], 1)
    results[f"{kind}_achieved_gflops"] = round(r["achieved_gflops"], 1)
    results[f"{kind}_useful_gflop_per_step"] = round(r["useful_gflop_per_step"], 2)
    results.setdefault("peak_rss_mb", 0)
    results["peak_rss_mb"] = round(max(results["peak_rss_mb"], r["peak_rss_mb"]))
  results["matmul_gflops"] = round(matmul_gflops(), 1)
  print(f"float32 matmul 2048^2: {results['matmul_gflops']} GFLOP/s")
  print(json.dumps(results))


if __name__ == "__main__":
  app.run(main)
