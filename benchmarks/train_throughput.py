"""Training throughput of the paper (HyperLSTM) and LSTM configs against this machine's peaks.

Usage: python benchmarks/train_throughput.py [--data=...aaron_sheep.npz] [--steps=30]
           [--paths=auto,xla_float32,graph_bfloat16] [--configs=hyper,lstm]
           [--profile_steps=3]

First the machine's own float32 and bfloat16 matmul peaks (`peaks.py`: graph
mode and XLA, at the square, weight-gradient and one-step shapes). Then, for
each config and each path, in a fresh subprocess (so peak memory is its own):
batch 100 of the sheep training set through the real pipeline (bucketed,
augmented), the train step warmed up on every bucket shape, then `--steps`
timed steps. A path is `auto` (what `compute_path.choose` takes on this
machine, as the trainer does) or `xla_float32`, `graph_bfloat16`, ...

Prints per config and path: sketches/s, the model's useful FLOPs per step
(matmul work on real, unpadded points, forward and backward), the achieved
GFLOP/s, its ratio to the float32 peak and to the best-precision peak, the
same counting the decoder over every step of the loss (a preset padded to
N_max sums L_p over all N_max steps, as the paper's loss does, so the
decoder's steps after each sketch's end are part of the objective), the
path line and peak RSS; with --profile_steps, where one step's time goes by
op type (matmuls, elementwise, loop state, the executor's dispatch). The last line is one JSON object; its unsuffixed keys
(`hyper_sketches_per_s`, ...) are the first path's.
"""
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from absl import app, flags  # noqa: E402

import op_profile  # noqa: E402  (benchmarks/op_profile.py)
import peaks  # noqa: E402  (benchmarks/peaks.py)

_HERE = os.path.dirname(os.path.abspath(__file__))
flags.DEFINE_string("data", os.path.join(_HERE, "..", "..", "shared", "data", "aaron_sheep.npz"),
                    "Sketch .npz file.")
flags.DEFINE_integer("steps", 30, "Timed steps per config.")
flags.DEFINE_string("configs", "hyper,lstm", "Which configs: hyper (paper), lstm (magenta), "
                    "quick (quickstart, README's main job).")
flags.DEFINE_string("paths", "auto", "Comma-separated: auto, or {xla,graph}_{float32,bfloat16}.")
flags.DEFINE_integer("profile_steps", 0, "If > 0, profile that many steps of one batch by op "
                     "(op_profile.py) after the timed steps and print where the time goes.")
flags.DEFINE_string("worker", None, "Internal: run one config and print its JSON.")
flags.DEFINE_string("path", "auto", "Internal: the worker's path.")
FLAGS = flags.FLAGS

PRESETS = {"hyper": "paper", "lstm": "magenta", "quick": "quickstart"}


def forward_flops_per_point(hp):
  """Matmul FLOPs (2 per multiply-add) of one point through (encoder, decoder and MDN head)."""
  e, d = hp.enc_rnn_size, hp.dec_rnn_size
  encoder = 2 * 2 * (5 * 4 * e + e * 4 * e)                 # bi-LSTM encoder
  decoder = 2 * (5 * 4 * d + d * 4 * d)                     # decoder (z part once per sketch)
  decoder += 2 * d * (3 + 6 * hp.num_mixture)                # MDN head
  if hp.dec_model == "hyper":
    hh, emb = hp.hyper_num_units, hp.hyper_embedding_size
    decoder += 2 * (5 * 4 * hh + (d + hh) * 4 * hh)          # hyper cell
    decoder += 2 * (hh * 12 * emb + 12 * emb * d)            # embeddings and scales
  return encoder, decoder


def parse_path(name):
  """"auto" -> (AUTO, AUTO); "xla_bfloat16" -> (True, "bfloat16")."""
  from sketch_rnn_tf.utils import compute_path
  if name == "auto":
    return compute_path.AUTO, compute_path.AUTO
  mode, _, precision = name.partition("_")
  if mode not in ("xla", "graph") or precision not in compute_path.PRECISIONS:
    raise app.UsageError(f"--paths: {name!r} is not auto or {{xla,graph}}_{{float32,bfloat16}}")
  return mode == "xla", precision


def run_worker(kind, path_name):
  import numpy as np
  import tensorflow as tf
  from sketch_rnn_tf.data import datasets, pipeline
  from sketch_rnn_tf.model import hparams
  from sketch_rnn_tf.model.optimizer import make_optimizer
  from sketch_rnn_tf.model.sketch_rnn import SketchRNN
  from sketch_rnn_tf.utils import compute_path

  hp = hparams.get(PRESETS[kind])
  path = compute_path.choose(compute_path.detect(), *parse_path(path_name))
  path = path.apply_threads()   # as the trainer does
  data = datasets.load_npz_files([FLAGS.data], max_len=hp.max_seq_len or None)
  hp = hp.with_data_max_len(data.max_len)
  train = data["train"]
  model = SketchRNN(hp, data.scale_factor)
  model.build()
  model.set_precision(path.precision, path.fused, path.batch_parts)
  model.optimizer = make_optimizer(hp)
  model.optimizer.build(model.trainable_variables)
  model.compile_gradients(path.jit_compile)
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
  points = loss_steps = 0
  start = time.perf_counter()
  for _ in range(FLAGS.steps):
    batch = next(it)
    points += int(batch["lengths"].numpy().sum())
    loss_steps += hp.batch_size * (int(batch["strokes"].shape[1]) - 1)
    logs = step(batch)
  float(logs["loss"])
  elapsed = time.perf_counter() - start
  encoder, decoder = forward_flops_per_point(hp)
  flops = 3 * (encoder + decoder) * points / FLAGS.steps  # forward + backward
  # Padded to N_max, L_p sums over every step up to N_max (the paper's loss): the
  # decoder's steps after a sketch's end are terms of the objective, the encoder's not.
  if hp.pad_to_max_len:
    loss_flops = 3 * (encoder * points + decoder * loss_steps) / FLAGS.steps
  else:
    loss_flops = flops
  peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  profile = None
  if FLAGS.profile_steps:  # after the RSS reading: the profiler's trace takes memory
    batch = next(it)
    profile = op_profile.profile(lambda: step(batch), FLAGS.profile_steps)
    profile["T"] = int(batch["strokes"].shape[1])
    profile["nodes"] = profile["nodes"][:40]
  return {
      "profile": profile,
      "kind": kind, "path": path_name, "path_line": path.line("training"),
      "sketches_per_s": FLAGS.steps * hp.batch_size / elapsed,
      "step_ms": 1000 * elapsed / FLAGS.steps, "useful_gflop_per_step": flops / 1e9,
      "achieved_gflops": flops * FLAGS.steps / elapsed / 1e9, "compile_s": compile_s,
      "loss_steps_gflops": loss_flops * FLAGS.steps / elapsed / 1e9,
      "peak_rss_mb": peak_rss_mb,
      "loss": float(np.asarray(logs["loss"])),
  }


def main(_):
  if FLAGS.worker:
    print(json.dumps(run_worker(FLAGS.worker, FLAGS.path)))
    return
  if not os.path.exists(FLAGS.data):
    sys.exit(f"data not found: {FLAGS.data}")
  paths = FLAGS.paths.split(",")
  for p in paths:
    parse_path(p)
  model, cpu_flags = peaks.cpu_name()
  print(f"CPU: {model} ({' '.join(cpu_flags)}), {os.cpu_count()} CPUs", flush=True)
  # The peaks run in a child too, so that their TensorFlow threads and memory
  # are gone before the configs are timed.
  out = subprocess.run([sys.executable, os.path.join(_HERE, "peaks.py")], capture_output=True,
                       text=True, check=True)
  print("\n".join(out.stdout.strip().splitlines()[1:-1]), flush=True)
  peak = json.loads(out.stdout.strip().splitlines()[-1])
  fp32, bf16 = peak["matmul_gflops"], peak["matmul_bf16_gflops"]
  best = max(fp32, bf16)
  print(f"peaks: float32 {fp32:.0f} GFLOP/s, bfloat16 {bf16:.0f} GFLOP/s", flush=True)
  results = {"cpu": model, "cpu_flags": cpu_flags, "matmul_gflops": fp32,
             "matmul_bf16_gflops": bf16, "peak_rss_mb": 0}
  for i, path_name in enumerate(paths):
    suffix = "" if i == 0 else f"_{path_name}"
    for kind in FLAGS.configs.split(","):
      out = subprocess.run(
          [sys.executable, __file__, f"--worker={kind}", f"--path={path_name}",
           f"--data={FLAGS.data}", f"--steps={FLAGS.steps}",
           f"--profile_steps={FLAGS.profile_steps}"],
          capture_output=True, text=True)
      if out.returncode:
        sys.exit(f"{kind} on {path_name} failed:\n{out.stderr[-3000:]}")
      r = json.loads(out.stdout.strip().splitlines()[-1])
      print(f"{kind:>6} ({PRESETS[kind]} preset), {r['path_line']}\n"
            f"        {r['sketches_per_s']:.1f} sketches/s, {r['step_ms']:.0f} ms/step, "
            f"{r['useful_gflop_per_step']:.1f} useful GFLOP/step, "
            f"{r['achieved_gflops']:.1f} GFLOP/s = {r['achieved_gflops'] / fp32:.2f} x float32 "
            f"peak, {r['achieved_gflops'] / best:.2f} x best-precision peak; "
            f"peak RSS {r['peak_rss_mb']:.0f} MB, compile {r['compile_s']:.0f} s\n"
            f"        counting the decoder over every step of the loss (N_max when padded to "
            f"it): {r['loss_steps_gflops']:.1f} GFLOP/s = "
            f"{r['loss_steps_gflops'] / fp32:.2f} x float32 peak", flush=True)
      if r["profile"]:
        print(f"        profile of one batch (T = {r['profile']['T']}):\n"
              + op_profile.format_table(r["profile"]), flush=True)
        results[f"{kind}_profile_ms{suffix}"] = dict(
            wall=round(r["profile"]["wall_ms"]), dispatch=round(r["profile"]["dispatch_ms"]),
            **r["profile"]["groups_ms"])
      results[f"{kind}_sketches_per_s{suffix}"] = round(r["sketches_per_s"], 1)
      results[f"{kind}_achieved_gflops{suffix}"] = round(r["achieved_gflops"], 1)
      results[f"{kind}_useful_gflop_per_step{suffix}"] = round(r["useful_gflop_per_step"], 2)
      results[f"{kind}_vs_float32_peak{suffix}"] = round(r["achieved_gflops"] / fp32, 3)
      results[f"{kind}_vs_best_peak{suffix}"] = round(r["achieved_gflops"] / best, 3)
      results[f"{kind}_loss_steps_gflops{suffix}"] = round(r["loss_steps_gflops"], 1)
      results[f"{kind}_loss_steps_vs_float32_peak{suffix}"] = round(
          r["loss_steps_gflops"] / fp32, 3)
      results[f"{kind}_peak_rss_mb{suffix}"] = round(r["peak_rss_mb"])
      results[f"{kind}_path{suffix}"] = r["path_line"]
      results["peak_rss_mb"] = max(results["peak_rss_mb"], round(r["peak_rss_mb"]))
  print(json.dumps(results))


if __name__ == "__main__":
  app.run(main)
