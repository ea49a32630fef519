"""Sampling speed of the paper's HyperLSTM config on every path, against this machine's memory.

Usage: python benchmarks/sample_throughput.py [--preset=paper] [--repeats=15]
           [--paths=fused_bfloat16,fused_float32,xla_float32,xla_bfloat16,graph_float32,graph_bfloat16]

A paper-preset SketchRNN (HyperLSTM 512 decoder, z 128; random weights: the
speed does not depend on them) draws sketches of exactly --steps points (the
loop always runs max_len steps; sketches that end early are padded in-graph)
from the prior at temperature 0.5. For each path (the fused drawing loop, XLA
or graph mode; float32 or bfloat16 weights in the recurrence) it prints the
median latency of one sketch over --repeats calls and the throughput of a
batch of 100.

One sketch is memory-bound: each step reads all of the decoder's weights. The
benchmark measures, in the same run, `weight_stream_ms`: the time to read the
decoder's float32 weights once per step for --steps steps (`peaks.stream_ms`).
Targets (issue 11): one sketch <= 0.6 x weight_stream_ms; a batch of 100 >= 2x
the sketches/s of the float32 XLA path (the path before the choice existed).
The unsuffixed keys of the last line (one JSON object) are the automatic
path's (`compute_path.choose`, what `sketch-rnn-sample` takes here).
"""
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from absl import app, flags  # noqa: E402

import peaks  # noqa: E402  (benchmarks/peaks.py)

flags.DEFINE_string("preset", "paper", "HParams preset.")
flags.DEFINE_string("hparams", "", "Overrides, k=v,...")
flags.DEFINE_integer("steps", 250, "Points per sketch.")
flags.DEFINE_integer("repeats", 15, "Timed calls per measurement (median).")
flags.DEFINE_integer("batch", 100, "Batch size of the throughput measurement.")
flags.DEFINE_string("paths", "fused_bfloat16,fused_float32,xla_float32,xla_bfloat16,graph_float32,"
                    "graph_bfloat16", "Comma-separated {fused,xla,graph}_{float32,bfloat16}.")
FLAGS = flags.FLAGS
BASELINE = "xla_float32"


def _median_seconds(fn, repeats):
  fn()  # compile / warm up
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def measure(sampler, steps, batch, repeats):
  def one():
    return sampler.sample(num=1, temperature=0.5, max_len=steps, seed=1)

  def many():
    return sampler.sample(num=batch, temperature=0.5, max_len=steps, seed=2)

  return _median_seconds(one, repeats), batch / _median_seconds(many, max(3, repeats // 3))


def main(argv):
  del argv
  import tensorflow as tf
  from sketch_rnn_tf.model import hparams
  from sketch_rnn_tf.model.sketch_rnn import SketchRNN
  from sketch_rnn_tf.sampling.sampler import Sampler
  from sketch_rnn_tf.utils import compute_path
  hp = hparams.get(FLAGS.preset, FLAGS.hparams or None).with_data_max_len(250)
  model = SketchRNN(hp, scale_factor=20.0, seed=0)
  model.build()
  cpu, cpu_flags = peaks.cpu_name()
  # What one step reads: the recurrence's weights, the MDN head and the rows of
  # the input projection that the previous point multiplies (z's share and the
  # initial state are computed once per sketch).
  cell = model.decoder.cell
  per_step = tf.nest.flatten(cell.recurrence_weights()) + list(model.decoder.head.weights)
  per_step += [c.w_x[:5] for c in (cell, cell.hyper) if c is not None]
  weight_bytes = 4 * sum(int(tf.size(w)) for w in per_step)
  stream = peaks.stream_ms(weight_bytes, FLAGS.steps)
  auto = compute_path.choose(compute_path.detect(), what="drawing")
  mode = "fused" if auto.fused else "xla" if auto.jit_compile else "graph"
  auto_name = f"{mode}_{auto.precision}"
  print(f"CPU: {cpu} ({' '.join(cpu_flags)}), {os.cpu_count()} CPUs; TF {tf.__version__}\n"
        f"preset {FLAGS.preset}: decoder {hp.dec_model} {hp.dec_rnn_size}, z {hp.z_size}, "
        f"M {hp.num_mixture}; {weight_bytes / 1e6:.1f} MB of float32 weights read per step\n"
        f"weight_stream_ms: reading them {FLAGS.steps} times takes {stream:.1f} ms\n"
        f"{auto.line('drawing')}", flush=True)
  paths = FLAGS.paths.split(",")
  for name in (BASELINE, auto_name):
    if name not in paths:
      paths.append(name)
  results = {}
  for name in paths:
    mode, _, precision = name.partition("_")
    model.set_precision(precision)
    sampler = Sampler(model, jit_compile=mode == "xla", fused=mode == "fused")
    single, rate = measure(sampler, FLAGS.steps, FLAGS.batch, FLAGS.repeats)
    results[name] = (single, rate)
    print(f"{name:>15}: one {FLAGS.steps}-step sketch {single * 1e3:7.1f} ms "
          f"({single * 1e3 / stream:.2f} x weight_stream_ms); batch {FLAGS.batch}: "
          f"{rate:7.1f} sketches/s{'  <- automatic' if name == auto_name else ''}", flush=True)
  model.set_precision("float32")
  single, rate = results[auto_name]
  out = {"cpu": cpu, "cpu_flags": cpu_flags, "preset": FLAGS.preset, "dec_model": hp.dec_model,
         "steps": FLAGS.steps, "path": auto.line("drawing"), "weight_stream_ms": round(stream, 2),
         "step_weight_mb": round(weight_bytes / 1e6, 2),
         "single_sketch_ms": round(single * 1e3, 2),
         f"batch{FLAGS.batch}_sketches_per_s": round(rate, 1),
         "single_vs_stream": round(single * 1e3 / stream, 3),
         "batch_vs_baseline": round(rate / results[BASELINE][1], 3),
         "targets": {"single_vs_stream": 0.6, "batch_vs_baseline": 2.0}}
  for name, (s, r) in results.items():
    out[f"{name}_single_sketch_ms"] = round(s * 1e3, 2)
    out[f"{name}_batch{FLAGS.batch}_sketches_per_s"] = round(r, 1)
  print(json.dumps(out))


if __name__ == "__main__":
  app.run(main)
