"""Training a SketchRNN: the run's configuration, its parts, and the loop.

`train(TrainConfig(...))` is what `sketch-rnn-train` runs. The parts are plain
functions and small classes so that each can be used (and tested) alone:

  resolve_hparams   preset + overrides, or the run's own hparams.json when resuming
  load_data         .npz files or TFDS datasets -> SketchData
  start_run         writes hparams.json / model_info.json, only once all is valid
  build_model       SketchRNN + GuardedAdam under a tf.distribute strategy
  Checkpoints       latest-N and best-on-validation managers; chief and worker directories
  Validator         the validation costs: stdout, TensorBoard, metrics.jsonl
  SampleDrawer      reconstructions and free samples: SVG, PNG, TensorBoard

Why a custom loop and not `model.fit`: a resumed run must continue exactly
(the data position and every random key follow the optimizer's step), a step
with a non-finite loss or gradient must change nothing and be counted, only the
gradient pass is XLA-compiled (the optimizer update needs a cross-replica
merge), and validation, best-on-validation checkpoints and drawings happen
between steps. So the model gets its optimizer by assignment, not
`model.compile`, which would also set up losses and metrics this loop does not use.
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
import shutil

import keras
import numpy as np
import tensorflow as tf

from sketch_rnn_tf.data import datasets, pipeline
from sketch_rnn_tf.defaults import STRATEGIES
from sketch_rnn_tf.model import hparams as hparams_lib
from sketch_rnn_tf.model.optimizer import make_optimizer
from sketch_rnn_tf.model.sketch_rnn import SketchRNN
from sketch_rnn_tf.sampling.sampler import Sampler
from sketch_rnn_tf.training import finetune
from sketch_rnn_tf.utils import compute_path, progress, render, run_dir
from sketch_rnn_tf.utils.errors import InputError

SAMPLE_TEMPERATURE = 0.3   # of the drawings made at each evaluation
BEST_CRITERION = "L_R + w_KL(final) * max(L_KL, KL_min)"   # SketchRNN.selection_loss
SHOWN = 8                  # validation sketches reconstructed, and free samples drawn


@dataclasses.dataclass
class TrainConfig:
  """Everything a run is told (the flags of sketch-rnn-train)."""
  model_dir: str
  data: list = dataclasses.field(default_factory=list)
  tfds: list = dataclasses.field(default_factory=list)
  data_dir: str | None = None
  manual_dir: str | None = None
  preset: str = "paper"
  hparams: str = ""
  steps: int = 10000
  eval_every: int = 500
  save_every: int = 500
  log_every: int = 50
  seed: int = 0
  strategy: str = "default"
  precision: str = compute_path.AUTO      # or one of compute_path.PRECISIONS
  jit_compile: object = compute_path.AUTO  # or True / False
  max_nonfinite: int = 20
  keep_checkpoints: int = 3
  eval_batches: int = 0
  init_from: str | None = None   # fine-tune: start from this model directory's weights
  rescale: bool = False          # with init_from: the new data's scale factor, not the source's

  def __post_init__(self):
    if bool(self.data) == bool(self.tfds):
      raise InputError("give exactly one of --data or --tfds")
    if self.precision != compute_path.AUTO and self.precision not in compute_path.PRECISIONS:
      raise InputError(f"--precision must be auto or one of {compute_path.PRECISIONS}, "
                       f"not {self.precision!r}")
    if self.strategy not in STRATEGIES:
      raise InputError(f"--strategy must be one of {STRATEGIES}, not {self.strategy!r}")
    if self.rescale and not self.init_from:
      raise InputError("--rescale applies only with --init_from")
    if self.init_from and os.path.abspath(self.init_from) == os.path.abspath(self.model_dir):
      raise InputError("--init_from and --model_dir are the same directory: fine-tuning "
                       "writes a new run (to go on with a run, run it again without --init_from)")
    for name in ("steps", "eval_every", "save_every", "log_every"):
      if getattr(self, name) < 1:
        raise InputError(f"--{name} must be at least 1, not {getattr(self, name)}")


def resolve_hparams(config):
  """(HParams, resuming): the run's saved hparams when resuming, else preset + overrides.

  Raises InputError (before anything is written) for unknown presets or fields, bad
  values, or overrides that contradict the saved run.
  """
  model_dir = config.model_dir
  try:
    if os.path.exists(os.path.join(model_dir, run_dir.HPARAMS)):
      saved, _ = run_dir.read_config(model_dir)
      if config.hparams and saved.override(config.hparams) != saved:
        raise InputError(f"{model_dir} holds a run with other hparams; resume without "
                         "--hparams or use a new --model_dir")
      return saved, True
    if config.init_from:
      return finetune.resolve_hparams(config.init_from, config.hparams)[0], False
    return hparams_lib.get(config.preset, config.hparams), False
  except InputError:
    raise
  except ValueError as e:  # the HParams' own checks name the field and the value
    raise InputError(f"--hparams/--preset: {e}") from None


def load_data(config, hp):
  """(data, hp with N_max resolved): max_seq_len 0 keeps every sketch and takes the longest."""
  max_len = hp.max_seq_len or None
  if config.data:
    data = datasets.load_npz_files(config.data, max_len=max_len)
  else:
    data = datasets.load_tfds(config.tfds, data_dir=config.data_dir,
                              manual_dir=config.manual_dir, max_len=max_len)
  return data, hp.with_data_max_len(data.max_len)


def start_run(config, hp, data, resuming):
  """The run's scale factor; a new run's hparams.json and model_info.json are written here."""
  if hp.num_classes and hp.num_classes < len(data.class_names):
    raise InputError(f"num_classes={hp.num_classes} but the data has "
                     f"{len(data.class_names)} classes")
  if resuming:
    return run_dir.read_config(config.model_dir)[1]["scale_factor"]
  source = ({"npz": [os.path.abspath(p) for p in config.data]} if config.data
            else {"tfds": list(config.tfds), "data_dir": config.data_dir})
  factor, extra = data.scale_factor, {}
  if config.init_from:
    factor, line = finetune.scale_factor(run_dir.read_config(config.init_from)[1],
                                          data.scale_factor, config.rescale)
    print(f"fine-tuning from {config.init_from}: {line}", flush=True)
    extra = {"init_from": {"model_dir": os.path.abspath(config.init_from),
                           "rescale": config.rescale}}
  os.makedirs(config.model_dir, exist_ok=True)
  run_dir.save_config(config.model_dir, hp, {"scale_factor": factor,
                                             "class_names": data.class_names, "data": source,
                                             **extra})
  return factor


def make_strategy(name):
  if name == "mirrored":
    # All GPUs; without any, every logical CPU device (how the tests split a CPU).
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy(
        [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))])
  if name == "multi_worker":
    return tf.distribute.MultiWorkerMirroredStrategy()
  return tf.distribute.get_strategy()


def build_model(hp, scale_factor, class_names, seed, strategy):
  keras.utils.set_random_seed(seed)  # the initial weights, too, follow the seed
  with strategy.scope():
    model = SketchRNN(hp, scale_factor, class_names, seed=seed)
    model.build()
    optimizer = make_optimizer(hp)
    optimizer.build(model.trainable_variables)
    model.optimizer = optimizer   # not compile(): see the module docstring
  return model


def is_chief(strategy):
  resolver = strategy.cluster_resolver
  return (resolver is None or resolver.task_type in (None, "chief") or
          (resolver.task_type == "worker" and resolver.task_id == 0 and
           "chief" not in resolver.cluster_spec().as_dict()))


class Checkpoints:
  """ckpt/ (the latest few) and best/ (the best validation loss, with best.json).

  "Best" is by `SketchRNN.selection_loss`; a best.json written under another
  criterion (before it was recorded) is replaced at the next validation.

  Every worker takes part in a multi-worker save; only the chief's copy is kept
  in the run directory, the others write to worker_tmp_<id>/.
  """

  def __init__(self, model, model_dir, strategy, keep):
    self.model_dir = model_dir
    self.chief = is_chief(strategy)
    root = (model_dir if self.chief else
            os.path.join(model_dir, f"worker_tmp_{strategy.cluster_resolver.task_id}"))
    self.checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    self.latest = tf.train.CheckpointManager(self.checkpoint, os.path.join(root, "ckpt"),
                                             max_to_keep=keep)
    self.best = tf.train.CheckpointManager(self.checkpoint, os.path.join(root, "best"),
                                           max_to_keep=1)
    self.best_path = os.path.join(model_dir, "best", "best.json")
    self.best_loss = float("inf")
    if os.path.exists(self.best_path):
      best = run_dir.read_json(self.best_path)
      if best.get("criterion") == BEST_CRITERION:
        self.best_loss = best["loss"]

  def restore(self):
    """Restores the latest complete checkpoint, if any; returns its path or None.

    A checkpoint counts once its files are complete and `checkpoint` names it
    (CheckpointManager writes the shards to `ckpt-N_temp/`, merges them, then
    updates that file); what a process killed mid-save left is removed here by
    the chief, as no save is under way while every worker starts.
    """
    if self.chief:
      for root in (self.latest.directory, self.best.directory):
        for stale in glob.glob(os.path.join(root, "*_temp")):
          shutil.rmtree(stale, ignore_errors=True)
    path = tf.train.latest_checkpoint(os.path.join(self.model_dir, "ckpt"))
    if path:
      self.checkpoint.restore(path).assert_existing_objects_matched()
    return path

  def save(self, step):
    self.latest.save(checkpoint_number=step)
    self._drop_worker_copy()

  def _drop_worker_copy(self):
    # Every worker must take part in a save (the variables' values are gathered
    # collectively); a worker's copy is of no use once written, as in TF's guide.
    if not self.chief:
      shutil.rmtree(os.path.dirname(self.latest.directory), ignore_errors=True)

  def offer_best(self, step, loss):
    if loss < self.best_loss:
      self.best_loss = loss
      self.best.save(checkpoint_number=step)
      self._drop_worker_copy()
      if self.chief:
        run_dir.write_json(self.best_path, {"loss": loss, "step": step,
                                            "criterion": BEST_CRITERION})


def summary_writer(log_dir, chief):
  """TensorBoard's writer on the chief; on other workers one that writes nothing."""
  return tf.summary.create_file_writer(log_dir) if chief else tf.summary.create_noop_writer()


class Validator:
  """The validation costs of the current weights, printed and (on the chief) logged."""

  def __init__(self, model, dataset, eval_batches, model_dir, chief):
    self.model, self.dataset, self.eval_batches, self.chief = model, dataset, eval_batches, chief
    self.writer = summary_writer(os.path.join(model_dir, "valid"), chief)
    self.metrics_path = os.path.join(model_dir, "metrics.jsonl")
    # Not XLA: evaluation is a small share of the time, and a compiled function
    # cannot reach the replica-local metric variables of a multi-device strategy.
    self.step_fn = tf.function(model.test_step, reduce_retracing=True)

  def __call__(self, step):
    for tracker in self.model.metrics:
      tracker.reset_state()
    logs = {}
    for i, batch in enumerate(self.dataset):
      if self.eval_batches and i >= self.eval_batches:
        break
      logs = self.step_fn(batch)
    val = {k: float(v) for k, v in logs.items()}
    print(f"step {step} valid: " + " ".join(f"{k} {v:.4f}" for k, v in val.items()
                                              if k != "lr"), flush=True)
    if self.chief:
      with self.writer.as_default(step=step):
        for k, v in val.items():
          tf.summary.scalar(k, v)
      with open(self.metrics_path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"step": step, **val}) + "\n")
    return val


class SampleDrawer:
  """Reconstructions of the first validation sketches and free samples, per evaluation:
  samples/step_N.svg and .png, and an image in TensorBoard."""

  def __init__(self, model, valid, class_names, model_dir, writer, jit_compile):
    self.model, self.class_names, self.writer = model, class_names, writer
    self.sampler = Sampler(model, jit_compile=jit_compile)
    self.shown = valid.sketches[:SHOWN]
    self.labels = valid.labels[:SHOWN]
    self.stem = os.path.join(model_dir, "samples", "step_{:07d}")

  def __call__(self, step):
    hp, tau, draw = self.model.hp, SAMPLE_TEMPERATURE, self.sampler
    rows, labels = [], []
    if hp.conditional:
      s5, n = draw.sample(z=draw.encode(self.shown), labels=self.labels if hp.num_classes
                          else None, temperature=tau, seed=step)
      rows += list(self.shown) + draw.to_stroke3_pixels(s5, n)
      labels += ["input"] * len(self.shown) + [f"recon tau {tau}"] * len(self.shown)
    class_ids = (np.arange(SHOWN) % len(self.class_names)) if hp.num_classes else None
    s5, n = draw.sample(num=SHOWN, labels=class_ids, temperature=tau, seed=step + 1)
    rows += draw.to_stroke3_pixels(s5, n)
    labels += [f"sample tau {tau}"] * SHOWN
    rows = [r if len(r) else np.zeros((1, 3), np.float32) for r in rows]
    stem = self.stem.format(step)
    render.write_text(stem + ".svg", render.svg_grid(rows, labels, cols=SHOWN))
    pixels = render.png_grid(rows, cols=SHOWN, cell=96)
    render.write_png(stem + ".png", pixels)
    with self.writer.as_default(step=step):
      tf.summary.image("reconstructions_and_samples", pixels[None], step=step)


class NonFiniteRun(RuntimeError):
  """Too many steps in a row had a non-finite loss or gradient."""


def train(config, strategy=None):
  """Trains (or resumes) the run of `config` up to config.steps; returns the last step.

  `strategy`: one made already (a multi-worker strategy must exist before
  TensorFlow's runtime starts, so the CLI makes it first); else made here.
  """
  hp, resuming = resolve_hparams(config)
  data, hp = load_data(config, hp)
  scale_factor = start_run(config, hp, data, resuming)
  path = compute_path.choose(compute_path.detect(), config.jit_compile, config.precision)
  path = path.apply_threads()   # before the strategy starts TensorFlow's runtime
  print(path.line("training"), flush=True)
  strategy = strategy or make_strategy(config.strategy)
  model = build_model(hp, scale_factor, data.class_names, config.seed, strategy)
  model.set_precision(path.precision, path.fused, path.batch_parts)
  ckpt = Checkpoints(model, config.model_dir, strategy, config.keep_checkpoints)
  latest = ckpt.restore()
  step = int(model.optimizer.iterations.numpy())
  if latest:
    print(f"resumed from {latest} at step {step}", flush=True)
  elif config.init_from:
    record = finetune.copy_weights(model, config.init_from)
    if ckpt.chief:
      _, info = run_dir.read_config(config.model_dir)
      info["init_from"].update(record)
      run_dir.write_json(os.path.join(config.model_dir, run_dir.INFO), info)
    print(f"weights from {record['checkpoint']} (source step {record['source_step']})"
          + (f"; new: {', '.join(record['fresh'])}" if record["fresh"] else ""), flush=True)

  # XLA compiles once per shape: pad to bucket bounds so there are only a few.
  pad = hp.max_seq_len if hp.pad_to_max_len else ("bucket" if path.jit_compile else "longest")

  def train_input(ctx):
    # Each replica takes its own batches from its worker's pipeline; a global
    # step consumes num_replicas_in_sync batches of the run's batch stream.
    return pipeline.make_dataset(
        data["train"], scale_factor, ctx.get_per_replica_batch_size(hp.batch_size),
        seed=config.seed, random_scale=hp.random_scale_factor,
        drop_prob=hp.augment_stroke_prob, drop_rule=hp.drop_rule, num_buckets=hp.num_buckets,
        pad=pad,
        drop_remainder=True, start_batch=step * ctx.num_replicas_in_sync,
        num_shards=ctx.num_input_pipelines, shard_index=ctx.input_pipeline_id)

  batches = iter(strategy.distribute_datasets_from_function(train_input))
  valid_ds = pipeline.make_dataset(data["valid"], scale_factor, hp.batch_size, shuffle=False,
                                   epochs=1, bucket=False, pad=hp.max_seq_len)
  validate = Validator(model, valid_ds, config.eval_batches, config.model_dir, ckpt.chief)
  # XLA cannot read a multi-device strategy's replica variables from outside a replica.
  draw = SampleDrawer(model, data["valid"], data.class_names, config.model_dir,
                      validate.writer, jit_compile=strategy.num_replicas_in_sync == 1)
  train_writer = summary_writer(os.path.join(config.model_dir, "train"), ckpt.chief)
  model.compile_gradients(path.jit_compile)

  # One graph for every padded length, traced from the batches' spec (time axis None)
  # rather than from whichever shapes came first: a resumed run then runs the same
  # graph, and the same float rounding, as a run that never stopped. (XLA still
  # compiles per shape.)
  @tf.function(input_signature=[batches.element_spec])
  def train_step(batch):
    logs = strategy.run(model.train_step, args=(batch,))
    return {k: strategy.reduce("MEAN", v, axis=None) for k, v in logs.items()}

  def reset_metrics():  # the trackers average every step since the last reset
    for tracker in model.metrics:
      tracker.reset_state()

  if step == 0:
    validate(0)  # the untrained baseline, a reference point for the curves
  meter = progress.Progress(step, config.steps, hp.batch_size)
  reset_metrics()
  while step < config.steps:
    logs = train_step(next(batches))
    step += 1
    if int(model.nonfinite_run.numpy()) >= config.max_nonfinite:
      raise NonFiniteRun(
          f"stopping at step {step}: {config.max_nonfinite} steps in a row had a non-finite "
          "loss or gradient (try a lower learning rate or --hparams=grad_clip)")
    last = step == config.steps
    if step % config.log_every == 0 or last:
      logs = {k: float(v) for k, v in logs.items()}
      print(meter.line(step, logs, int(model.skipped_steps.numpy())), flush=True)
      if ckpt.chief:
        with train_writer.as_default(step=step):
          for k, v in logs.items():
            tf.summary.scalar(k, v)
      reset_metrics()
    if step % config.eval_every == 0 or last:
      val = validate(step)
      if ckpt.chief:
        draw(step)
      reset_metrics()
      ckpt.offer_best(step, model.selection_loss(val))
    if step % config.save_every == 0 or last:
      ckpt.save(step)
  return step
