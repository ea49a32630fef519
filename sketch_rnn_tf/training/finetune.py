"""Fine-tuning: a new run that starts from the weights of any model directory.

`sketch-rnn-train --init_from=MODEL_DIR` takes the source's hparams (a run
trained here, a `.gen.json` or TF1 import); `--hparams` may change how training
goes (learning rate, KL schedule, dropout, batch size, ...) but not a shape.
The one structural change allowed is `conditional=true` on a decoder-only
source: the decoder is kept, and what a VAE adds starts so that the model at
step 0 draws what the source draws:

- the encoder and its mu/presig heads: freshly initialised (as a new run);
- the decoder's input weights for z: zero, so z enters nothing until trained;
- the z -> initial state projection: zero weights and bias, so the initial
  state is tanh(0) = 0, the source's zero state. (Both z paths get gradients
  from the first step on: d/dW = z x d(pre-activation) is not zero.)

The scale factor of the source is kept (its weights expect offsets in those
units); `--rescale` takes the new data's instead. The optimizer and the step
counter start fresh; model_info.json records where the weights came from.
"""
from __future__ import annotations

import os

import numpy as np

from sketch_rnn_tf.utils import run_dir
from sketch_rnn_tf.utils.errors import InputError

# Fields that fix a weight's shape: a fine-tuning run must keep the source's.
SHAPE_FIELDS = ("enc_rnn_size", "dec_rnn_size", "dec_model", "enc_model", "hyper_num_units",
                "hyper_embedding_size", "z_size", "num_mixture", "num_classes",
                "class_embedding_size")


def resolve_hparams(source_dir, overrides):
  """(HParams, the source's model_info) for a run initialised from `source_dir`."""
  try:
    source_hp, info = run_dir.read_config(source_dir)
  except FileNotFoundError as e:
    raise InputError(f"--init_from: {e}") from None
  hp = source_hp.override(overrides)
  vae_added = hp.conditional and not source_hp.conditional
  if source_hp.conditional and not hp.conditional:
    raise InputError(f"--init_from={source_dir} is a VAE; conditional=false would drop its "
                     "encoder: train it as a VAE, or use a decoder-only source")
  changed = [f for f in SHAPE_FIELDS if getattr(hp, f) != getattr(source_hp, f)
             and not (vae_added and f in ("enc_rnn_size", "enc_model", "z_size"))]
  if changed:
    raise InputError(
        f"--hparams would change the shapes of the model in {source_dir}: " + ", ".join(
            f"{f} {getattr(source_hp, f)!r} -> {getattr(hp, f)!r}" for f in changed)
        + "; fine-tuning keeps the source's sizes (training options such as learning_rate, "
          "kl_weight, recurrent_dropout_prob or batch_size may change)")
  return hp, info


def scale_factor(source_info, data_factor, rescale):
  """(the run's scale factor, a line saying which and what it means)."""
  source = float(source_info["scale_factor"])
  if not rescale:
    return source, (f"scale factor {source:.6g} kept from the source model (the new data's "
                    f"own would be {data_factor:.6g}; --rescale takes that)")
  return data_factor, (
      f"scale factor {data_factor:.6g} from the new data (--rescale), not the source's "
      f"{source:.6g}: the pretrained weights see offsets {source / data_factor:.3g}x their "
      "training size at first, and fine-tuning must adapt them to it")


def copy_weights(model, source_dir):
  """Sets `model`'s weights from the source directory's best checkpoint; returns a record.

  Variables are matched by path; with a VAE made from a decoder-only source,
  see the module docstring for what the new parts start as.
  """
  source = run_dir.load_model(source_dir)
  theirs = {_relative(v): v for v in source.trainable_variables}
  vae_added = model.encoder is not None and source.encoder is None
  fresh = []
  for var in model.trainable_variables:
    name = _relative(var)
    src = theirs.get(name)
    if src is not None and tuple(src.shape) == tuple(var.shape):
      var.assign(src)
    elif src is not None and vae_added and var is model.decoder.cell.w_x:
      # [stroke rows; z rows]: the stroke rows from the source, z's rows zero.
      value = np.zeros(var.shape, np.float32)
      value[:src.shape[0]] = src.numpy()
      var.assign(value)
      fresh.append(f"{name} rows {src.shape[0]}.. (zero)")
    elif src is None and vae_added:
      if name.startswith("decoder/init_state/"):
        var.assign(np.zeros(var.shape, np.float32))
      fresh.append(name)
    else:
      raise InputError(f"--init_from={source_dir}: {name} {tuple(var.shape)} has no "
                       "counterpart of that shape in the source")
  return {"model_dir": os.path.abspath(source_dir),
          "checkpoint": run_dir.checkpoint_path(source_dir, "best"),
          "source_step": int(source.optimizer.iterations.numpy()),
          "source_imported_from": run_dir.read_config(source_dir)[1].get("imported_from"),
          "fresh": fresh}


def _relative(var):
  """A variable's path below the model (models in one process get distinct names)."""
  return var.path.split("/", 1)[1]
