"""Sampling speed of the paper's HyperLSTM config: one sketch, and a batch of 100.

Usage: python benchmarks/sample_throughput.py [--preset=paper] [--repeats=15]

A paper-preset SketchRNN (HyperLSTM 512 decoder, z 128; random weights: the
speed does not depend on them) draws sketches of exactly --steps points (the
loop always runs max_len steps; sketches that end early are padded in-graph)
with the compiled sampler, from the prior at temperature 0.5. Prints the
median latency of one sketch over --repeats calls, the throughput of a batch
of 100, and the same for the un-compiled (graph, no XLA) loop for comparison.
Targets on a 2-core CPU: one sketch <= 30 ms, batch of 100 >= 150 sketches/s.
The last line is one JSON object.
"""
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from absl import app, flags  # noqa: E402

flags.DEFINE_string("preset", "paper", "HParams preset.")
flags.DEFINE_string("hparams", "", "Overrides, k=v,...")
flags.DEFINE_integer("steps", 250, "Points per sketch.")
flags.DEFINE_integer("repeats", 15, "Timed calls per measurement (median).")
flags.DEFINE_integer("batch", 100, "Batch size of the throughput measurement.")
FLAGS = flags.FLAGS


def _median_seconds(fn, repeats):
  fn()  # compile / warm up
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def measure(sampler, jit, steps, batch, repeats):
  def one():
    return sampler.sample(num=1, temperature=0.5, max_len=steps, seed=1)

  def many():
    return sampler.sample(num=batch, temperature=0.5, max_len=steps, seed=2)

  single = _median_seconds(one, repeats)
  batched = _median_seconds(many, max(3, repeats // 3))
  tag = "xla" if jit else "graph"
  print(f"{tag:>5}: one {steps}-step sketch {single * 1e3:7.1f} ms (median of {repeats}); "
        f"batch {batch}: {batched * 1e3:7.1f} ms = {batch / batched:7.1f} sketches/s", flush=True)
  return single, batch / batched


def main(argv):
  del argv
  import tensorflow as tf
  from sketch_rnn_tf.model import hparams
  from sketch_rnn_tf.model.sketch_rnn import SketchRNN
  from sketch_rnn_tf.sampling.sampler import Sampler
  hp = hparams.get(FLAGS.preset, FLAGS.hparams or None)
  model = SketchRNN(hp, scale_factor=20.0, seed=0)
  model.build()
  print(f"preset {FLAGS.preset}: decoder {hp.dec_model} {hp.dec_rnn_size}, "
        f"z {hp.z_size}, M {hp.num_mixture}; TF {tf.__version__}, "
        f"{os.cpu_count()} CPUs", flush=True)
  results = {}
  for jit in (True, False):
    single, rate = measure(Sampler(model, jit_compile=jit), jit, FLAGS.steps, FLAGS.batch,
                           FLAGS.repeats)
    results[jit] = (single, rate)
  single, rate = results[True]
  print(json.dumps({
      "preset": FLAGS.preset, "dec_model": hp.dec_model, "steps": FLAGS.steps,
      "single_sketch_ms": round(single * 1e3, 2),
      f"batch{FLAGS.batch}_sketches_per_s": round(rate, 1),
      "graph_single_sketch_ms": round(results[False][0] * 1e3, 2),
      f"graph_batch{FLAGS.batch}_sketches_per_s": round(results[False][1], 1),
      "targets": {"single_sketch_ms": 30, "batch100_sketches_per_s": 150},
  }))


if __name__ == "__main__":
  app.run(main)
