"""sketch-rnn-train: train a Sketch-RNN from .npz files or a TFDS dataset.

  sketch-rnn-train --data=cat.npz,dog.npz --preset=paper --model_dir=runs/catdog
  sketch-rnn-train --tfds=quickdraw_sketch_rnn/cat --preset=magenta --hparams=kl_weight=1.0
  sketch-rnn-train --init_from=runs/sheep_import --data=my_sheep.npz --model_dir=runs/tuned

A model directory holds everything a run needs to go on and every tool needs to
use the model: hparams.json and model_info.json (scale factor, class names,
data), checkpoints in ckpt/ (the latest few) and best/ (best validation loss),
samples/ and TensorBoard logs in train/ and valid/. Run the same command again
to resume: the step, optimizer, schedules, data order and random draws continue
where the last complete checkpoint left them. The training itself is
sketch_rnn_tf/training/trainer.py.
"""
from __future__ import annotations

import os

from absl import flags

from sketch_rnn_tf import defaults
from sketch_rnn_tf.cli import common
from sketch_rnn_tf.utils import compute_path

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", "runs/sketch_rnn", "The run directory: checkpoints, hparams, "
                    "samples, TensorBoard logs (resumed when it holds a run).")
flags.DEFINE_list("data", [], "Sketch .npz files (comma-separated); each file is one class.")
flags.DEFINE_list("tfds", [], "TFDS datasets, e.g. quickdraw_sketch_rnn/cat (comma-separated).")
flags.DEFINE_string("data_dir", None, "TFDS data directory.")
flags.DEFINE_string("manual_dir", None, "TFDS manual directory with local <category>.npz files.")
flags.DEFINE_string("preset", "paper", "Hyperparameter preset: paper, magenta, quickstart, tiny.")
flags.DEFINE_string("hparams", "", "Overrides, k=v,k2=v2 (see sketch_rnn_tf/model/hparams.py).")
flags.DEFINE_integer("steps", 10000, "Train until this global step.")
flags.DEFINE_integer("eval_every", 500, "Evaluate on the validation split every N steps.")
flags.DEFINE_integer("save_every", 500, "Save a checkpoint every N steps.")
flags.DEFINE_integer("log_every", 50, "Print progress and write scalars every N steps.")
flags.DEFINE_integer("seed", 0, "Seed for data order, augmentation, dropout and z noise.")
flags.DEFINE_enum("strategy", "default", defaults.STRATEGIES,
                  "tf.distribute strategy: one device, all local GPUs, or TF_CONFIG workers.")
flags.DEFINE_enum("precision", defaults.AUTO, (defaults.AUTO,) + defaults.PRECISIONS,
                  "The recurrences' matmuls: bfloat16 operands (float32 weights, state and "
                  "loss) or float32; auto: bfloat16 where the CPU has bfloat16 matrix units "
                  "(AMX, AVX512-BF16) or the GPU has bfloat16 tensor cores.")
flags.DEFINE_bool("jit_compile", None, "XLA-compile the train step (--nojit_compile: graph "
                  "mode); unset: chosen for the machine, printed at the start.")
flags.DEFINE_integer("max_nonfinite", 20, "Stop after this many non-finite steps in a row.")
flags.DEFINE_integer("keep_checkpoints", 3, "How many recent checkpoints to keep.")
flags.DEFINE_integer("eval_batches", 0, "Validation batches per evaluation (0: all).")
flags.DEFINE_string("init_from", None, "Fine-tune: start from the weights and hparams of this "
                    "model directory (trained here, or written by sketch-rnn-import); "
                    "--hparams may change training options, not shapes (except "
                    "conditional=true on a decoder-only model). A fresh optimizer and step.")
flags.DEFINE_bool("rescale", False, "With --init_from: use the new data's scale factor "
                  "instead of the source model's.")


def model_dir():
  """--model_dir; absl's own --log_dir, when given, as the old name of it."""
  if FLAGS["log_dir"].present and not FLAGS["model_dir"].present:
    return FLAGS.log_dir
  return FLAGS.model_dir


def main(argv):
  if len(argv) > 1:
    raise common.InputError(f"unexpected arguments: {' '.join(argv[1:])}")
  from sketch_rnn_tf.training import trainer
  config = trainer.TrainConfig(
      model_dir=model_dir(), data=FLAGS.data, tfds=FLAGS.tfds, data_dir=FLAGS.data_dir,
      manual_dir=FLAGS.manual_dir, preset=FLAGS.preset, hparams=FLAGS.hparams,
      steps=FLAGS.steps, eval_every=FLAGS.eval_every, save_every=FLAGS.save_every,
      log_every=FLAGS.log_every, seed=FLAGS.seed, strategy=FLAGS.strategy,
      precision=FLAGS.precision,
      jit_compile=compute_path.AUTO if FLAGS.jit_compile is None else FLAGS.jit_compile,
      max_nonfinite=FLAGS.max_nonfinite, keep_checkpoints=FLAGS.keep_checkpoints,
      eval_batches=FLAGS.eval_batches, init_from=FLAGS.init_from, rescale=FLAGS.rescale)
  import tensorflow as tf
  try:
    step = trainer.train(config, _STARTED["strategy"])
  except trainer.NonFiniteRun as e:
    raise SystemExit(str(e)) from None
  except (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError,
          tf.errors.DeadlineExceededError) as e:
    if config.strategy != "multi_worker":
      raise
    # TF's collectives fail within seconds when a peer's process is gone; say what to do.
    first = next((l for l in e.message.splitlines() if l.strip()), type(e).__name__)
    raise SystemExit(
        f"sketch-rnn-train: error: lost contact with a worker of the cluster "
        f"({type(e).__name__}: {first.strip()[:300]}). Start every worker again with the same "
        f"command (a cluster manager's restart policy does this): the run resumes from its "
        f"last complete checkpoint in {os.path.join(config.model_dir, 'ckpt')}.") from None
  print(f"done at step {step}; checkpoints in {config.model_dir}/ckpt, samples in "
        f"{config.model_dir}/samples, TensorBoard: tensorboard --logdir {config.model_dir}",
        flush=True)


_STARTED = {"strategy": None}


def before_tensorflow_starts():
  """The pools of the path the trainer will take, and a multi-worker strategy: both
  must be set before TensorFlow's runtime starts (TF: "Collective ops must be
  configured at program startup")."""
  compute_path.choose(compute_path.detect(),
                      compute_path.AUTO if FLAGS.jit_compile is None else FLAGS.jit_compile,
                      FLAGS.precision).apply_threads()
  if FLAGS.strategy == "multi_worker":
    from sketch_rnn_tf.training import trainer
    _STARTED["strategy"] = trainer.make_strategy(FLAGS.strategy)


def run():
  common.run(main, __name__, "sketch-rnn-train", before_tensorflow_starts=before_tensorflow_starts)


if __name__ == "__main__":
  run()
