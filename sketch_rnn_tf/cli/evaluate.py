"""sketch-rnn-eval: a trained model's L_R and L_KL, as the paper's table reports them.

  sketch-rnn-eval --model_dir=runs/sheep [--splits=valid,test] [--checkpoint=best|latest]
  sketch-rnn-eval --model_dir=runs/sheep --metric=chamfer [--num=100] [--temperature=0.1]
  sketch-rnn-eval --model_dir=runs/sheep --metric=samples [--num=300] [--temperature=1.0]

Every sketch is padded to N_max (the run's max_seq_len) and the costs use the
paper's normalisation: L_R = L_s + L_p with both divided by N_max and L_p over
all N_max steps. The column "L_R (ref)" is L_R with L_p over real points only,
which is what the reference code reports at evaluation time. The data is the
run's own (recorded in model_info.json) unless --data or --tfds is given.

--metric=chamfer reconstructs the first --num sketches of the last split
(greedy, and at --temperature) and reports the mean symmetric Chamfer distance
in pixels (`evaluation.metrics`) of each reconstruction to its own input and to
another input, beside an untrained model of the same hparams: a model whose
latent carries the drawing has chamfer_own well below chamfer_other ("empty"
counts reconstructions that drew nothing; they count as the pen's start point).
--metric=samples draws --num free samples and reports the KS distance of their
length, stroke count and size distributions to the split's, beside the same
distance between the valid and test sets (what a perfect model would score,
up to sampling noise). The last line is one JSON object.
"""
from __future__ import annotations

import json

import numpy as np
from absl import app, flags

from sketch_rnn_tf import defaults
from sketch_rnn_tf.cli import common
from sketch_rnn_tf.utils.errors import InputError

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "Training run directory (sketch-rnn-train --model_dir).")
flags.DEFINE_list("data", [], "Sketch .npz files to evaluate on instead of the run's data.")
flags.DEFINE_list("tfds", [], "TFDS datasets to evaluate on instead of the run's data.")
flags.DEFINE_string("data_dir", None, "TFDS data directory.")
flags.DEFINE_list("splits", ["valid", "test"], "Splits to evaluate.")
flags.DEFINE_enum("checkpoint", "best", defaults.CHECKPOINTS, "Which checkpoint.")
flags.DEFINE_integer("batch_size", 100, "Evaluation batch size.")
flags.DEFINE_integer("seed", 0, "Seed of the latent noise and of the samples.")
flags.DEFINE_enum("metric", "loss", ["loss", "chamfer", "samples"], "What to measure.")
flags.DEFINE_integer("num", 100, "Sketches to reconstruct or draw (--metric=chamfer|samples).")
flags.DEFINE_float("temperature", 0.1, "Sampling temperature beside greedy (chamfer) or of "
                   "the free samples (samples).")


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


def chamfer_report(model, sketches, temperature, seed=0):
  """Chamfer figures of a model's reconstructions of pixel `sketches` (module docstring)."""
  from sketch_rnn_tf.evaluation import metrics
  from sketch_rnn_tf.sampling.sampler import Sampler
  sampler = Sampler(model)
  z = sampler.encode(sketches)
  out = {}
  for name, kwargs in (("greedy", dict(greedy=True)), (f"t{temperature:g}",
                                                        dict(temperature=temperature))):
    s5, lengths = sampler.sample(z=z, seed=seed, **kwargs)
    r = metrics.chamfer_pairs(sketches, sampler.to_stroke3_pixels(s5, lengths))
    out[name] = r
  return out


def samples_report(model, reference, baseline, num, temperature, seed=0):
  """KS distances of `num` free samples' statistics to `reference` pixel sketches."""
  from sketch_rnn_tf.evaluation import metrics
  from sketch_rnn_tf.sampling.sampler import Sampler
  sampler = Sampler(model)
  labels = None
  if model.hp.num_classes:
    labels = np.arange(num) % max(len(model.class_names), 1)
  s5, lengths = sampler.sample(num=num, labels=labels, temperature=temperature, seed=seed)
  drawn = sampler.to_stroke3_pixels(s5, lengths)
  return {"model": metrics.stats_distance(drawn, reference),
          "valid_vs_test": metrics.stats_distance(baseline, reference)}


def untrained_like(model, seed=0):
  """A freshly initialised model with `model`'s hparams and scale factor (a baseline)."""
  import keras
  from sketch_rnn_tf.model.sketch_rnn import SketchRNN
  keras.utils.set_random_seed(seed)
  fresh = SketchRNN(model.hp, model.scale_factor, model.class_names, seed=seed)
  fresh.build()
  return fresh


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
  header = (f"{FLAGS.model_dir} ({FLAGS.checkpoint} checkpoint, N_max {max_len}, "
            f"w_KL at step {int(model.optimizer.iterations) if model.optimizer else 0})")
  if FLAGS.metric == "loss":
    results = evaluate(model, data, FLAGS.splits, FLAGS.batch_size)
    print(header)
    print(format_table(results))
    print(json.dumps(results))
    return
  split = FLAGS.splits[-1]
  pixels = [np.asarray(s, np.float32) for s in data[split].sketches]
  if FLAGS.metric == "chamfer":
    if not model.hp.conditional:
      raise InputError("--metric=chamfer needs a conditional model (one with an encoder)")
    inputs = pixels[:FLAGS.num]
    trained = chamfer_report(model, inputs, FLAGS.temperature, FLAGS.seed)
    fresh = chamfer_report(untrained_like(model, FLAGS.seed), inputs, FLAGS.temperature,
                           FLAGS.seed)
    print(f"{header}; {len(inputs)} {split} sketches, mean symmetric Chamfer distance (pixels)")
    print(f"{'model':<10} {'decoding':<8} {'own input':>10} {'other input':>12} {'ratio':>6} "
          f"{'empty':>6}")
    result = {"split": split, "num": len(inputs), "temperature": FLAGS.temperature}
    for who, report in (("trained", trained), ("untrained", fresh)):
      for mode, r in report.items():
        print(f"{who:<10} {mode:<8} {r['chamfer_own']:>10.2f} {r['chamfer_other']:>12.2f} "
              f"{r['chamfer_other'] / r['chamfer_own']:>6.2f} {r['empty']:>6}")
        prefix = "" if who == "trained" else "untrained_"
        suffix = "" if mode == "greedy" else "_temperature"
        result[f"{prefix}chamfer_own{suffix}"] = round(r["chamfer_own"], 3)
        result[f"{prefix}chamfer_other{suffix}"] = round(r["chamfer_other"], 3)
        result[f"{prefix}empty{suffix}"] = r["empty"]
    print(json.dumps(result))
    return
  baseline_split = "valid" if split != "valid" else "train"
  baseline = [np.asarray(s, np.float32) for s in data[baseline_split].sketches[:FLAGS.num]]
  r = samples_report(model, pixels, baseline, FLAGS.num, FLAGS.temperature, FLAGS.seed)
  print(f"{header}; {FLAGS.num} free samples at temperature {FLAGS.temperature:g} against "
        f"{len(pixels)} {split} sketches: KS statistic per feature (0 = same distribution)")
  print(f"{'':<16}" + "".join(f"{k:>9}" for k in ("points", "strokes", "width", "height", "mean")))
  for name, d in (("model", r["model"]), (f"{baseline_split} vs {split}", r["valid_vs_test"])):
    print(f"{name:<16}" + "".join(f"{d[f'ks_{k}']:>9.3f}" for k in
                                   ("points", "strokes", "width", "height", "mean")))
  print(json.dumps({"split": split, "num": FLAGS.num, "temperature": FLAGS.temperature,
                    **{k: round(v, 4) for k, v in r["model"].items()},
                    **{f"baseline_{k}": round(v, 4) for k, v in r["valid_vs_test"].items()}}))


def run():
  common.run(main, __name__, "sketch-rnn-eval")


if __name__ == "__main__":
  run()
