"""Input pipeline throughput and the padding that bucketing saves.

Usage: python benchmarks/pipeline_throughput.py [--data=../shared/data/aaron_sheep.npz]

Prints sketches/s through the whole tf.data pipeline (normalise, augment,
bucket, pad, prefetch) for the training split, and the padded steps as a share
of padding every sketch to N_max = 250, with bucketing and with plain random
batches padded to their own longest sketch. The last line is one JSON object.
"""
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from sketch_rnn_tf.data import datasets  # noqa: E402

from sketch_rnn_tf.data import pipeline

_HERE = os.path.dirname(os.path.abspath(__file__))
flags.DEFINE_string("data", os.path.join(_HERE, "..", "..", "shared", "data", "aaron_sheep.npz"),
                    "Sketch .npz file.")
flags.DEFINE_integer("batch_size", 100, "Batch size.")
flags.DEFINE_integer("epochs", 3, "Epochs to time.")
flags.DEFINE_integer("n_max", 250, "The paper's N_max (padding baseline).")
FLAGS = flags.FLAGS


def measure(train, scale, **kwargs):
  ds = pipeline.make_dataset(train, scale, FLAGS.batch_size, epochs=FLAGS.epochs, seed=0,
                             random_scale=0.15, drop_prob=0.1, **kwargs)
  start = time.perf_counter()
  sketches = steps = real = 0
  for batch in ds:
    b, t = batch["strokes"].shape[0], batch["strokes"].shape[1] - 1
    sketches += b
    steps += b * t
    real += int(batch["lengths"].numpy().sum())
  return sketches / (time.perf_counter() - start), steps, real, sketches


def main(_):
  if not os.path.exists(FLAGS.data):
    sys.exit(f"data not found: {FLAGS.data}")
  data = datasets.load_npz_files([FLAGS.data], max_len=FLAGS.n_max)
  train = data["train"]
  results = {"data": os.path.basename(FLAGS.data), "train_sketches": len(train),
             "mean_length": round(float(train.lengths.mean()), 1)}
  for name, kwargs in [("bucketed", dict(bucket=True)), ("random", dict(bucket=False))]:
    rate, steps, real, n = measure(train, data.scale_factor, **kwargs)
    share = steps / (n * FLAGS.n_max)
    print(f"{name:>8}: {rate:8.0f} sketches/s; padded steps {100 * share:5.1f}% of padding "
          f"to {FLAGS.n_max} (real points {100 * real / (n * FLAGS.n_max):.1f}%)")
    results[f"{name}_sketches_per_s"] = round(rate)
    results[f"{name}_padded_pct_of_nmax"] = round(100 * share, 1)
  results["padding_saved_pct_vs_nmax"] = round(100 - results["bucketed_padded_pct_of_nmax"], 1)
  print(json.dumps(results))


if __name__ == "__main__":
  app.run(main)
