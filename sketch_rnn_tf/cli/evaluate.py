"""sketch-rnn-eval: a trained model's L_R and L_KL, as the paper's table reports them.

  sketch-rnn-eval --model_dir=runs/sheep [--splits=valid,test] [--checkpoint=best|latest]

Every sketch is padded to N_max (the run's max_seq_len) and the costs use the
paper's normalisation: L_R = L_s + L_p with both divided by N_max and L_p over
all N_max steps. The column "L_R (ref)" is L_R with L_p over real points only,
which is what the reference code reports at evaluation time. The data is the
run's own (recorded in model_info.json) unless --data or --tfds is given.
"""
from __future__ import annotations

from absl import app, flags

from sketch_rnn_tf import defaults
from sketch_rnn_tf.cli import common

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "Training run directory (sketch-rnn-train --model_dir).")
flags.DEFINE_list("data", [], "Sketch .npz files to evaluate on instead of the run's data.")
flags.DEFINE_list("tfds", [], "TFDS datasets to evaluate on instead of the run's data.")
flags.DEFINE_string("data_dir", None, "TFDS data directory.")
flags.DEFINE_list("splits", ["valid", "test"], "Splits to evaluate.")
flags.DEFINE_enum("checkpoint", "best", defaults.CHECKPOINTS, "Which checkpoint.")
flags.DEFINE_integer("batch_size", 100, "Evaluation batch size.")
flags.DEFINE_integer("seed", 0, "Seed of the latent noise.")


def evaluate(model, data, splits, batch_size=100):
  """{split: {metric: value}} over whole splits, padded to N_max."""
  import tensorflow as tf
  from sketch_rnn_tf.data import pipeline
  step = tf.function(model.test_step, reduce_retracing=True)
  results = {}
  for split in splits:
    for tracker in model.metrics:
      tracker.reset_state()
    logs = {}
    for batch in pipeline.make_dataset(data[split], model.scale_factor, batch_size,
                                       shuffle=False, epochs=1, bucket=False,
                                       pad=model.hp.max_seq_len):
      logs = step(batch)
    results[split] = {k: float(v) for k, v in logs.items()}
    results[split]["sketches"] = len(data[split])
  return results


def format_table(results):
  lines = [f"{'split':<6} {'sketches':>8} {'L_R':>8} {'L_KL':>8} {'L_s':>8} {'L_p':>8} "
           f"{'L_R (ref)':>10}"]
  for split, r in results.items():
    lines.append(f"{split:<6} {r['sketches']:>8} {r['recon']:>8.4f} {r['kl']:>8.4f} "
                 f"{r['offset']:>8.4f} {r['pen']:>8.4f} {r['recon_ref']:>10.4f}")
  return "\n".join(lines)


def main(argv):
  del argv
  if not FLAGS.model_dir:
    raise app.UsageError("--model_dir is required")
  from sketch_rnn_tf.data import datasets
  from sketch_rnn_tf.utils import run_dir
  model = run_dir.load_model(FLAGS.model_dir, FLAGS.checkpoint, seed=FLAGS.seed)
  _, info = run_dir.read_config(FLAGS.model_dir)
  source = info.get("data") or {}
  if not (FLAGS.data or FLAGS.tfds or source):
    raise app.UsageError(f"{FLAGS.model_dir} records no training data (an imported model?): "
                         "give --data=FILE.npz or --tfds=NAME")
  max_len = model.hp.max_seq_len
  if FLAGS.data or "npz" in source and not FLAGS.tfds:
    data = datasets.load_npz_files(FLAGS.data or source["npz"], max_len=max_len)
  else:
    data = datasets.load_tfds(FLAGS.tfds or source["tfds"],
                              data_dir=FLAGS.data_dir or source.get("data_dir"), max_len=max_len)
  results = evaluate(model, data, FLAGS.splits, FLAGS.batch_size)
  print(f"{FLAGS.model_dir} ({FLAGS.checkpoint} checkpoint, N_max {max_len}, "
        f"w_KL at step {int(model.optimizer.iterations) if model.optimizer else 0})")
  print(format_table(results))


def run():
  common.run(main, __name__, "sketch-rnn-eval")


if __name__ == "__main__":
  run()
