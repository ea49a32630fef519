"""A training run's directory: what the trainer writes and every tool reads.

  hparams.json      the HParams of the run
  model_info.json   scale factor, class names and the data the run trained on
  ckpt/             the latest checkpoints (tf.train.CheckpointManager)
  best/             the checkpoint with the best validation loss, and best.json
  metrics.jsonl     one JSON line per evaluation
  train/, valid/    TensorBoard logs
"""
from __future__ import annotations

import json
import os

from sketch_rnn_tf.model import hparams as hparams_lib
from sketch_rnn_tf.utils import atomic

HPARAMS = "hparams.json"
INFO = "model_info.json"


def write_json(path, obj):
  """Atomic JSON write."""
  text = json.dumps(obj, indent=2, sort_keys=True)
  atomic.write_atomically(path, lambda f: f.write(text.encode("utf-8")))


def read_json(path):
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def save_config(log_dir, hp, info):
  write_json(os.path.join(log_dir, INFO), info)
  write_json(os.path.join(log_dir, HPARAMS), json.loads(hp.to_json()))


def read_config(log_dir):
  """(HParams, info dict) of a run directory."""
  for name in (HPARAMS, INFO):
    if not os.path.exists(os.path.join(log_dir, name)):
      raise FileNotFoundError(f"{log_dir} is not a training run directory: no {name}")
  with open(os.path.join(log_dir, HPARAMS), encoding="utf-8") as f:
    hp = hparams_lib.HParams.from_json(f.read())
  return hp, read_json(os.path.join(log_dir, INFO))


def checkpoint_path(log_dir, which="best"):
  """The best (falling back to the latest) or the latest checkpoint prefix."""
  import tensorflow as tf
  order = ("best", "ckpt") if which == "best" else ("ckpt",)
  for sub in order:
    path = tf.train.latest_checkpoint(os.path.join(log_dir, sub))
    if path:
      return path
  raise FileNotFoundError(f"no checkpoint in {log_dir}")


def load_model(log_dir, which="best", seed=0):
  """A SketchRNN with the run's hparams, scale factor, weights and optimizer state.

  The optimizer comes back too: its step sets w_KL for evaluation, and a
  caller may go on training.
  """
  import tensorflow as tf
  from sketch_rnn_tf.model.optimizer import make_optimizer
  from sketch_rnn_tf.model.sketch_rnn import SketchRNN

  hp, info = read_config(log_dir)
  model = SketchRNN(hp, info["scale_factor"], info.get("class_names", ()), seed=seed)
  model.build()
  model.optimizer = make_optimizer(hp)
  model.optimizer.build(model.trainable_variables)
  path = checkpoint_path(log_dir, which)
  tf.train.Checkpoint(model=model, optimizer=model.optimizer).restore(
      path).assert_existing_objects_matched()
  return model


def refuse_existing(out_dir, overwrite=False):
  """FileExistsError if out_dir already holds a model (importers call it before reading)."""
  if os.path.exists(os.path.join(out_dir, HPARAMS)) and not overwrite:
    raise FileExistsError(f"{out_dir} already holds a model ({HPARAMS}); "
                          "choose another directory or --overwrite")


def save_imported(out_dir, model, info, overwrite=False):
  """Writes a model directory for weights that come from elsewhere (an import).

  hparams.json, model_info.json (`info`: scale_factor, class_names, data and
  where the weights came from) and best/ with the weights and a fresh
  optimizer at step 0; every tool then loads it like a trained run. Returns
  the checkpoint path.
  """
  import tensorflow as tf
  from sketch_rnn_tf.model.optimizer import make_optimizer
  refuse_existing(out_dir, overwrite)
  optimizer = make_optimizer(model.hp)
  optimizer.build(model.trainable_variables)
  os.makedirs(out_dir, exist_ok=True)
  save_config(out_dir, model.hp, info)
  checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
  manager = tf.train.CheckpointManager(checkpoint, os.path.join(out_dir, "best"), max_to_keep=1)
  return manager.save(checkpoint_number=0)
