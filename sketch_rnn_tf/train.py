"""sketch-rnn-train: train a Sketch-RNN from .npz files or a TFDS dataset.

  sketch-rnn-train --data=cat.npz,dog.npz --preset=paper --log_dir=runs/catdog
  sketch-rnn-train --tfds=quickdraw_sketch_rnn/cat --preset=magenta --hparams=kl_weight=1.0

A log_dir holds everything a run needs to go on and every tool needs to use
the model: hparams.json and model_info.json (scale factor, class names, data),
checkpoints in ckpt/ (the latest few) and best/ (best validation loss), and
TensorBoard logs in train/ and valid/. Run the same command again to resume: the
step, optimizer, schedules, data order and random draws continue where the last
complete checkpoint left them.
"""
from __future__ import annotations

import json
import os
import sys
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_list("data", [], "Sketch .npz files (comma-separated); each file is one class.")
flags.DEFINE_list("tfds", [], "TFDS datasets, e.g. quickdraw_sketch_rnn/cat (comma-separated).")
flags.DEFINE_string("data_dir", None, "TFDS data directory.")
flags.DEFINE_string("manual_dir", None, "TFDS manual directory with local <category>.npz files.")
flags.DEFINE_string("preset", "paper", "Hyperparameter preset: paper, magenta, tiny, ...")
flags.DEFINE_string("hparams", "", "Overrides, k=v,k2=v2 (see sketch_rnn_tf/hparams.py).")
# --log_dir (checkpoints, hparams, TensorBoard logs) is absl.logging's own flag, reused
# here: absl only writes log files there when asked to, which this program never does.
DEFAULT_LOG_DIR = "runs/sketch_rnn"
flags.DEFINE_integer("steps", 10000, "Train until this global step.")
flags.DEFINE_integer("eval_every", 500, "Evaluate on the validation split every N steps.")
flags.DEFINE_integer("save_every", 500, "Save a checkpoint every N steps.")
flags.DEFINE_integer("log_every", 50, "Print progress and write scalars every N steps.")
flags.DEFINE_integer("seed", 0, "Seed for data order, augmentation, dropout and z noise.")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker"],
                  "tf.distribute strategy: one device, all local GPUs, or TF_CONFIG workers.")
flags.DEFINE_bool("mixed_precision", False, "Compute in bfloat16 with float32 weights "
                  "(mixed_bfloat16: GPUs since Ampere, TPUs, CPUs with AVX512_BF16; needs no "
                  "loss scaling).")
flags.DEFINE_bool("jit_compile", True, "XLA-compile the train step.")
flags.DEFINE_integer("max_nonfinite", 20, "Stop after this many non-finite steps in a row.")
flags.DEFINE_integer("keep_checkpoints", 3, "How many recent checkpoints to keep.")
flags.DEFINE_integer("eval_batches", 0, "Validation batches per evaluation (0: all).")


def make_strategy(name):
  import tensorflow as tf
  if name == "mirrored":
    # All GPUs; without any, every logical CPU device (how the tests split a CPU).
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    return tf.distribute.MirroredStrategy(devices)
  if name == "multi_worker":
    return tf.distribute.MultiWorkerMirroredStrategy()
  return tf.distribute.get_strategy()


def load_run_config(log_dir, preset, overrides):
  """hparams from log_dir/hparams.json when resuming, else from preset + overrides."""
  from sketch_rnn_tf import hparams, run_dir
  if os.path.exists(os.path.join(log_dir, run_dir.HPARAMS)):
    saved, _ = run_dir.read_config(log_dir)
    if overrides and saved.override(overrides) != saved:
      raise app.UsageError(f"{log_dir} holds a run with other hparams; resume without "
                           "--hparams or use a new --log_dir")
    return saved, True
  return hparams.get(preset, overrides), False


def main(argv):
  del argv
  if bool(FLAGS.data) == bool(FLAGS.tfds):
    raise app.UsageError("give exactly one of --data or --tfds")
  import keras
  import numpy as np
  import tensorflow as tf

  from sketch_rnn_tf import datasets, pipeline, progress, run_dir
  from sketch_rnn_tf.model import SketchRNN
  from sketch_rnn_tf.optimizer import make_optimizer

  log_dir = FLAGS.log_dir or DEFAULT_LOG_DIR
  os.makedirs(log_dir, exist_ok=True)
  hp, resuming = load_run_config(log_dir, FLAGS.preset, FLAGS.hparams)
  if FLAGS.mixed_precision:
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
  if FLAGS.data:
    data = datasets.load_npz_files(FLAGS.data, max_len=hp.max_seq_len)
  else:
    data = datasets.load_tfds(FLAGS.tfds, data_dir=FLAGS.data_dir, manual_dir=FLAGS.manual_dir,
                              max_len=hp.max_seq_len)
  if resuming:
    scale_factor = run_dir.read_config(log_dir)[1]["scale_factor"]
  else:
    scale_factor = data.scale_factor
    source = ({"npz": [os.path.abspath(p) for p in FLAGS.data]} if FLAGS.data
              else {"tfds": FLAGS.tfds, "data_dir": FLAGS.data_dir})
    run_dir.save_config(log_dir, hp, {"scale_factor": scale_factor,
                                      "class_names": data.class_names, "data": source})
  if hp.num_classes and hp.num_classes < len(data.class_names):
    raise app.UsageError(f"num_classes={hp.num_classes} but the data has "
                         f"{len(data.class_names)} classes")

  strategy = make_strategy(FLAGS.strategy)
  keras.utils.set_random_seed(FLAGS.seed)  # the initial weights, too, follow --seed
  with strategy.scope():
    model = SketchRNN(hp, scale_factor, data.class_names, seed=FLAGS.seed)
    model.build()
    optimizer = make_optimizer(hp)
    optimizer.build(model.trainable_variables)
    model.optimizer = optimizer
  checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
  resolver = strategy.cluster_resolver
  chief = (resolver is None or resolver.task_type in (None, "chief") or
           (resolver.task_type == "worker" and resolver.task_id == 0 and
            "chief" not in resolver.cluster_spec().as_dict()))
  # Every worker takes part in a multi-worker save; only the chief's copy is kept.
  ckpt_root = log_dir if chief else os.path.join(log_dir, f"worker_tmp_{resolver.task_id}")
  manager = tf.train.CheckpointManager(checkpoint, os.path.join(ckpt_root, "ckpt"),
                                       max_to_keep=FLAGS.keep_checkpoints)
  best_manager = tf.train.CheckpointManager(checkpoint, os.path.join(ckpt_root, "best"),
                                            max_to_keep=1)
  latest = tf.train.latest_checkpoint(os.path.join(log_dir, "ckpt"))
  if latest:
    checkpoint.restore(latest).assert_existing_objects_matched()
  step = int(optimizer.iterations.numpy())
  if latest:
    print(f"resumed from {latest} at step {step}", flush=True)
  best_path = os.path.join(log_dir, "best", "best.json")
  best = run_dir.read_json(best_path)["loss"] if os.path.exists(best_path) else float("inf")

  # XLA compiles once per shape: pad to bucket bounds so there are only a few.
  pad = "bucket" if FLAGS.jit_compile else "longest"

  def train_input(ctx):
    # Each replica takes its own batches from its worker's pipeline; a global
    # step consumes num_replicas_in_sync batches of the run's batch stream.
    return pipeline.make_dataset(
        data["train"], scale_factor, ctx.get_per_replica_batch_size(hp.batch_size),
        seed=FLAGS.seed, random_scale=hp.random_scale_factor, drop_prob=hp.augment_stroke_prob,
        num_buckets=hp.num_buckets, pad=pad, drop_remainder=True,
        start_batch=step * ctx.num_replicas_in_sync, num_shards=ctx.num_input_pipelines,
        shard_index=ctx.input_pipeline_id)

  train_ds = strategy.distribute_datasets_from_function(train_input)
  valid_ds = pipeline.make_dataset(data["valid"], scale_factor, hp.batch_size, shuffle=False,
                                   epochs=1, bucket=False, pad=hp.max_seq_len)

  model.compile_gradients(FLAGS.jit_compile)

  # reduce_retracing: one graph for every padded length (XLA still compiles per shape).
  @tf.function(reduce_retracing=True)
  def train_step(batch):
    logs = strategy.run(model.train_step, args=(batch,))
    return {k: strategy.reduce("MEAN", v, axis=None) for k, v in logs.items()}

  # Not XLA: evaluation is a small share of the time, and a compiled function
  # cannot reach the replica-local metric variables of a multi-device strategy.
  @tf.function(reduce_retracing=True)
  def eval_step(batch):
    return model.test_step(batch)

  def evaluate():
    for tracker in model.metrics:
      tracker.reset_state()
    logs = {}
    for i, batch in enumerate(valid_ds):
      if FLAGS.eval_batches and i >= FLAGS.eval_batches:
        break
      logs = eval_step(batch)
    return {k: float(v) for k, v in logs.items()}

  train_writer = tf.summary.create_file_writer(os.path.join(log_dir, "train"))
  valid_writer = tf.summary.create_file_writer(os.path.join(log_dir, "valid"))
  metrics_path = os.path.join(log_dir, "metrics.jsonl")

  def validate(step):
    val = evaluate()
    print(f"step {step} valid: " + " ".join(f"{k} {v:.4f}" for k, v in val.items()
                                              if k != "lr"), flush=True)
    if chief:
      with valid_writer.as_default(step=step):
        for k, v in val.items():
          tf.summary.scalar(k, v)
      with open(metrics_path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"step": step, **val}) + "\n")
    return val

  from sketch_rnn_tf import sampler as sampler_lib
  from sketch_rnn_tf import render
  # XLA cannot read a multi-device strategy's replica variables from outside a replica.
  drawer = sampler_lib.Sampler(model, jit_compile=strategy.num_replicas_in_sync == 1)
  shown = data["valid"].sketches[:8]

  def draw(step):
    """Reconstructions of 8 validation sketches and 8 free samples: TensorBoard and SVG."""
    tau = 0.3
    rows, labels = [], []
    if hp.conditional:
      s5, n = drawer.sample(z=drawer.encode(shown), labels=data["valid"].labels[:8] if
                            hp.num_classes else None, temperature=tau, seed=step)
      rows += list(shown) + drawer.to_stroke3_pixels(s5, n)
      labels += ["input"] * len(shown) + [f"recon tau {tau}"] * len(shown)
    class_ids = (np.arange(8) % len(data.class_names)) if hp.num_classes else None
    s5, n = drawer.sample(num=8, labels=class_ids, temperature=tau, seed=step + 1)
    rows += drawer.to_stroke3_pixels(s5, n)
    labels += [f"sample tau {tau}"] * 8
    rows = [r if len(r) else np.zeros((1, 3), np.float32) for r in rows]
    stem = os.path.join(log_dir, "samples", f"step_{step:07d}")
    render.write_text(stem + ".svg", render.svg_grid(rows, labels, cols=8))
    pixels = render.png_grid(rows, cols=8, cell=96)
    render.write_png(stem + ".png", pixels)
    with valid_writer.as_default(step=step):
      tf.summary.image("reconstructions_and_samples", pixels[None], step=step)

  if step == 0:
    validate(0)  # the untrained baseline, a reference point for the curves
  meter = progress.Progress(step, FLAGS.steps, hp.batch_size)
  iterator = iter(train_ds)
  for tracker in model.metrics:
    tracker.reset_state()
  while step < FLAGS.steps:
    logs = train_step(next(iterator))
    step += 1
    if int(model.nonfinite_run.numpy()) >= FLAGS.max_nonfinite:
      sys.exit(f"stopping at step {step}: {FLAGS.max_nonfinite} steps in a row had a "
               "non-finite loss or gradient (try a lower learning rate or --hparams=grad_clip)")
    if step % FLAGS.log_every == 0 or step == FLAGS.steps:
      # The trackers average every step since the last line.
      logs = {k: float(v) for k, v in logs.items()}
      print(meter.line(step, logs, int(model.skipped_steps.numpy())), flush=True)
      if chief:
        with train_writer.as_default(step=step):
          for k, v in logs.items():
            tf.summary.scalar(k, v)
      for tracker in model.metrics:
        tracker.reset_state()
    if step % FLAGS.eval_every == 0 or step == FLAGS.steps:
      val = validate(step)
      if chief:
        draw(step)
      for tracker in model.metrics:
        tracker.reset_state()
      if val["loss"] < best:
        best = val["loss"]
        best_manager.save(checkpoint_number=step)
        if chief:
          run_dir.write_json(best_path, {"loss": best, "step": step})
    if step % FLAGS.save_every == 0 or step == FLAGS.steps:
      manager.save(checkpoint_number=step)
  print(f"done at step {step}; checkpoints in {os.path.join(log_dir, 'ckpt')}, samples in "
        f"{os.path.join(log_dir, 'samples')}, TensorBoard: tensorboard --logdir {log_dir}",
        flush=True)


def run():
  app.run(main)


if __name__ == "__main__":
  run()
