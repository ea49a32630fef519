"""Checkpoints of the original Sketch-RNN code (magenta/models/sketch_rnn, TF1) into our model.

A run of the original code leaves, in its log directory,

  model_config.json             its HParams as JSON
  checkpoint                    the tf.train.Saver state file (the latest prefix)
  vector-N.index, vector-N.data-00000-of-00001

with every global variable under the scope `vector_rnn/`. The variables and
where they go (H: decoder size, HH/E: the HyperLSTM's hyper cell and embedding
sizes, which the original code fixes at 256 and 32 but which are read here
from the shapes):

  ENC_RNN/{fw,bw}/<Cell>/W_xh, W_hh, bias | ln_all/*, ln_c/*   encoder directions
  ENC_RNN_mu/super_linear_{w,b}, ENC_RNN_sigma/...              mu and presig heads
  linear/super_linear_{w,b}                                     z -> initial state
  RNN/<Cell>/...                                                decoder cell
  RNN/output_w, RNN/output_b                                    MDN output layer

<Cell> is LSTMCell, LayerNormLSTMCell or HyperLSTMCell. The arithmetic is the
same as ours (lstm_math: gate order i, j, f, o; forget bias 1; layer norm
over each gate with epsilon 1e-3; the MDN's column order), so importing copies
tensors, with three rearrangements:

- our state is [c, h] (and [hyper_c, hyper_h] after it for a HyperLSTM);
  the original's LSTMCell keeps [c, h], its LayerNormLSTMCell [h, c] and its
  HyperLSTMCell [h, hyper_h, c, hyper_c]: the initial-state projection's
  columns are reordered (`state_columns`);
- the hyper cell's W_xh [D + H, 4HH] reads [x, h] and its W_hh reads hyper_h;
  ours applies W_x to x and W_h to [h, hyper_h]: rows D.. of W_xh go on top
  of W_hh;
- the HyperLSTM's 8 per-gate scale embeddings (hyper_{i,j,f,o}{x,h}/zw) and
  4 bias embeddings (hyper_{i,j,f,o}h/zb) with their projections (alpha,
  beta) are stacked into w_zxh, b_zxh, w_zb, w_alpha, w_beta, in the gate order.

Adam's slots, the step counters and the learning-rate/KL variables are not
weights and are ignored; any other variable, or one missing or of another
shape, is refused by name.
"""
from __future__ import annotations

import json
import os

import numpy as np

from sketch_rnn_tf.utils.errors import InputError

SCOPE = "vector_rnn/"
CONFIG = "model_config.json"
GATES = "ijfo"
CELL_SCOPES = {"lstm": "LSTMCell", "layer_norm": "LayerNormLSTMCell", "hyper": "HyperLSTMCell"}

# model_config.json keys and how they map. The original code's defaults stand in
# for keys an older run did not write (they are our "magenta" preset).
HPARAM_KEYS = ("max_seq_len", "dec_rnn_size", "dec_model", "enc_rnn_size", "enc_model",
               "z_size", "kl_weight", "kl_weight_start", "kl_tolerance", "batch_size",
               "grad_clip", "num_mixture", "learning_rate", "decay_rate", "kl_decay_rate",
               "min_learning_rate", "use_recurrent_dropout", "recurrent_dropout_prob",
               "random_scale_factor", "augment_stroke_prob", "conditional")
# Run bookkeeping: recorded, not a property of the model.
RUN_KEYS = ("data_set", "num_steps", "save_every", "is_training")
# Dropout wrappers of the original's inputs and outputs: training-time only, and
# not implemented here; a model trained with them imports and runs the same.
TRAINING_ONLY_KEYS = ("use_input_dropout", "input_dropout_prob", "use_output_dropout",
                      "output_dropout_prob")
NOT_WEIGHTS = ("Variable", "Variable_1", "beta1_power", "beta2_power", "global_step")


class TF1CheckpointError(InputError):
  """A TF1 checkpoint directory that is not a Sketch-RNN model we can import."""


def read_config(directory):
  """(HParams, notes, run info) from a run directory's model_config.json."""
  from sketch_rnn_tf.model import hparams as hparams_lib
  path = os.path.join(directory, CONFIG)
  try:
    with open(path, encoding="utf-8") as f:
      config = json.load(f)
  except FileNotFoundError:
    raise TF1CheckpointError(f"{directory}: no {CONFIG} (the original code writes it beside "
                             "its checkpoints)") from None
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise TF1CheckpointError(f"{path}: not valid JSON: {e}") from None
  if not isinstance(config, dict):
    raise TF1CheckpointError(f"{path}: expected a JSON object of hparams")
  unknown = sorted(set(config) - set(HPARAM_KEYS) - set(RUN_KEYS) - set(TRAINING_ONLY_KEYS))
  if unknown:
    raise TF1CheckpointError(f"{path}: unknown hparams {unknown} (not of the original "
                             f"Sketch-RNN code; known: {sorted(HPARAM_KEYS + RUN_KEYS + TRAINING_ONLY_KEYS)})")
  notes = [f"{k}={config[k]!r} ignored: input/output dropout applies only when training the "
           "original code" for k in ("use_input_dropout", "use_output_dropout") if config.get(k)]
  try:
    hp = hparams_lib.get("magenta", {k: config[k] for k in HPARAM_KEYS if k in config})
  except (InputError, ValueError, TypeError) as e:
    raise TF1CheckpointError(f"{path}: {e}") from None
  return hp, notes, {k: config[k] for k in RUN_KEYS if k in config}


def checkpoint_prefix(directory, step=None):
  """The checkpoint to read: vector-<step>, or the state file's latest."""
  import tensorflow as tf
  if step is not None:
    prefix = os.path.join(directory, f"vector-{int(step)}")
    if not tf.io.gfile.exists(prefix + ".index"):
      raise TF1CheckpointError(f"{directory}: no checkpoint for step {step} ({prefix}.index)")
    return prefix
  prefix = tf.train.latest_checkpoint(directory)
  if prefix is None:
    raise TF1CheckpointError(f"{directory}: no checkpoint (no 'checkpoint' state file naming "
                             "an existing vector-N; give --step)")
  return prefix


def _cell_variables(scope, kind, x_size, units, hyper_units=0, emb=0):
  """{name: shape} the original code creates for a cell under `scope`."""
  g4 = 4 * units
  if kind == "lstm":
    return {f"{scope}/LSTMCell/W_xh": [x_size, g4], f"{scope}/LSTMCell/W_hh": [units, g4],
            f"{scope}/LSTMCell/bias": [g4]}
  if kind == "layer_norm":
    return _ln_cell_variables(f"{scope}/LayerNormLSTMCell", x_size, units)
  c = f"{scope}/HyperLSTMCell"
  shapes = {f"{c}/W_xh": [x_size, g4], f"{c}/W_hh": [units, g4], f"{c}/bias": [g4],
            **_ln_shapes(c, units)}
  shapes.update(_ln_cell_variables(f"{c}/LayerNormLSTMCell", x_size + units, hyper_units))
  for gate in GATES:
    for part in "xh":
      n = f"{c}/hyper_{gate}{part}"
      shapes[f"{n}/zw/super_linear_w"] = [hyper_units, emb]
      shapes[f"{n}/zw/super_linear_b"] = [emb]
      shapes[f"{n}/alpha/super_linear_w"] = [emb, units]
      if part == "h":
        shapes[f"{n}/zb/super_linear_w"] = [hyper_units, emb]
        shapes[f"{n}/beta/super_linear_w"] = [emb, units]
  return shapes


# The original's layer norms under a cell's scope -> our variable names, and the
# width of each (in units of H).
LN_VARIABLES = {"ln_all/ln_gamma": ("ln_gamma", 4), "ln_all/ln_beta": ("ln_beta", 4),
                "ln_c/ln_gamma": ("ln_c_gamma", 1), "ln_c/ln_beta": ("ln_c_beta", 1)}


def _ln_shapes(c, units):
  return {f"{c}/{name}": [width * units] for name, (_, width) in LN_VARIABLES.items()}


def _ln_pairs(cell, c, w):
  return [(getattr(cell, ours), w[f"{c}/{name}"]) for name, (ours, _) in LN_VARIABLES.items()]


def _ln_cell_variables(c, x_size, units):
  g4 = 4 * units
  return {f"{c}/W_xh": [x_size, g4], f"{c}/W_hh": [units, g4], **_ln_shapes(c, units)}


def _hyper_sizes(shapes, where):
  """(HH, E) of the decoder's HyperLSTM, from the checkpoint's own shapes."""
  c = SCOPE + "RNN/HyperLSTMCell"
  try:
    return shapes[f"{c}/LayerNormLSTMCell/W_hh"][0], shapes[f"{c}/hyper_ix/zw/super_linear_b"][0]
  except (KeyError, IndexError):
    raise TF1CheckpointError(f"{where}: dec_model is hyper but {c}/LayerNormLSTMCell/W_hh or "
                             f"{c}/hyper_ix/zw/super_linear_b is missing") from None


def expected_variables(hp, hyper_units=0, emb=0):
  """{name: shape} of every weight of a model with these hparams (scope included)."""
  if hp.enc_model == "hyper" and hp.conditional:
    raise TF1CheckpointError("enc_model=hyper: a HyperLSTM encoder is not supported "
                             "(the original code's encoder is lstm or layer_norm in practice)")
  m = 3 + 6 * hp.num_mixture
  x_size = 5 + (hp.z_size if hp.conditional else 0)
  shapes = _cell_variables("RNN", hp.dec_model, x_size, hp.dec_rnn_size, hyper_units, emb)
  shapes.update({"RNN/output_w": [hp.dec_rnn_size, m], "RNN/output_b": [m]})
  if hp.conditional:
    for d in ("fw", "bw"):
      shapes.update(_cell_variables(f"ENC_RNN/{d}", hp.enc_model, 5, hp.enc_rnn_size))
    for head in ("mu", "sigma"):
      shapes[f"ENC_RNN_{head}/super_linear_w"] = [2 * hp.enc_rnn_size, hp.z_size]
      shapes[f"ENC_RNN_{head}/super_linear_b"] = [hp.z_size]
    state = 2 * hp.dec_rnn_size + (2 * hyper_units if hp.dec_model == "hyper" else 0)
    shapes["linear/super_linear_w"] = [hp.z_size, state]
    shapes["linear/super_linear_b"] = [state]
  return {SCOPE + k: v for k, v in shapes.items()}


def _is_weight(name):
  """Adam's slots and the step, learning-rate and KL counters (of either graph copy) are not."""
  return "/Adam" not in name and name.rpartition("/")[2] not in NOT_WEIGHTS


def read_weights(prefix, hp):
  """{name without scope: float32 array} of the checkpoint, checked against `hp`.

  Returns (weights, hyper_units, embedding_size).
  """
  import tensorflow as tf
  try:
    reader = tf.train.load_checkpoint(prefix)
  except (tf.errors.OpError, ValueError) as e:
    raise TF1CheckpointError(f"{prefix}: not a readable TF checkpoint: "
                             f"{str(e).splitlines()[0]}") from None
  shapes = {k: list(v) for k, v in reader.get_variable_to_shape_map().items() if _is_weight(k)}
  hyper_units, emb = _hyper_sizes(shapes, prefix) if hp.dec_model == "hyper" else (0, 0)
  expected = expected_variables(hp, hyper_units, emb)
  missing = sorted(set(expected) - set(shapes))
  if missing:
    raise TF1CheckpointError(
        f"{prefix}: missing {len(missing)} variable(s) a {_describe(hp)} model has, e.g. "
        f"{missing[0]} {expected[missing[0]]}" + (f" (all: {missing})" if len(missing) > 1 else ""))
  extra = sorted(set(shapes) - set(expected))
  if extra:
    raise TF1CheckpointError(
        f"{prefix}: variable {extra[0]} {shapes[extra[0]]} is not part of a {_describe(hp)} "
        f"model (model_config.json and the checkpoint disagree?)"
        + (f"; all unexpected: {extra}" if len(extra) > 1 else ""))
  for name, shape in expected.items():
    if shapes[name] != shape:
      raise TF1CheckpointError(f"{prefix}: {name} has shape {shapes[name]}, expected {shape} "
                               f"for a {_describe(hp)} model")
  weights = {}
  for name in expected:
    value = reader.get_tensor(name)
    if not np.issubdtype(value.dtype, np.floating):
      raise TF1CheckpointError(f"{prefix}: {name} is {value.dtype}, expected float32")
    if not np.all(np.isfinite(value)):
      raise TF1CheckpointError(f"{prefix}: {name} holds non-finite values")
    weights[name[len(SCOPE):]] = value.astype(np.float32)
  return weights, hyper_units, emb


def _describe(hp):
  enc = f"{hp.enc_model} {hp.enc_rnn_size} encoder, z {hp.z_size}, " if hp.conditional else ""
  return f"{enc}{hp.dec_model} {hp.dec_rnn_size} decoder, {hp.num_mixture}-mixture"


def _cell_assignments(cell, kind, scope, w):
  """[(our variable, array)] for one cell from the checkpoint's weights under `scope`."""
  if kind == "lstm":
    c = f"{scope}/LSTMCell"
    return [(cell.w_x, w[f"{c}/W_xh"]), (cell.w_h, w[f"{c}/W_hh"]), (cell.bias, w[f"{c}/bias"])]
  if kind == "layer_norm":
    return _ln_assignments(cell, f"{scope}/LayerNormLSTMCell", w)
  c = f"{scope}/HyperLSTMCell"
  out = [(cell.w_x, w[f"{c}/W_xh"]), (cell.w_h, w[f"{c}/W_hh"]), (cell.bias, w[f"{c}/bias"])]
  out += _ln_pairs(cell, c, w)
  hyper = cell.hyper
  h = f"{c}/LayerNormLSTMCell"
  x_rows = hyper.w_x.shape[0]
  w_xh = w[f"{h}/W_xh"]
  out += [(hyper.w_x, w_xh[:x_rows]),
          (hyper.w_h, np.concatenate([w_xh[x_rows:], w[f"{h}/W_hh"]], 0))]
  out += _ln_pairs(hyper, h, w)
  scaled = [f"{c}/hyper_{g}{p}" for p in "xh" for g in GATES]   # lstm_math's 8 scale groups
  biased = [f"{c}/hyper_{g}h" for g in GATES]                     # and its 4 bias groups
  out += [
      (cell.w_zxh, np.concatenate([w[f"{n}/zw/super_linear_w"] for n in scaled], 1)),
      (cell.b_zxh, np.concatenate([w[f"{n}/zw/super_linear_b"] for n in scaled], 0)),
      (cell.w_alpha, np.stack([w[f"{n}/alpha/super_linear_w"] for n in scaled], 0)),
      (cell.w_zb, np.concatenate([w[f"{n}/zb/super_linear_w"] for n in biased], 1)),
      (cell.w_beta, np.stack([w[f"{n}/beta/super_linear_w"] for n in biased], 0))]
  return out


def _ln_assignments(cell, c, w):
  return [(cell.w_x, w[f"{c}/W_xh"]), (cell.w_h, w[f"{c}/W_hh"])] + _ln_pairs(cell, c, w)


def state_columns(kind, units, hyper_units=0):
  """Indices that take the original's state columns to ours ([c, h] or [c, h, hyper_c, hyper_h]).

  The original's cells lay out their state differently: LSTMCell [c, h],
  LayerNormLSTMCell [h, c], HyperLSTMCell [h, hyper_h, c, hyper_c].
  """
  h_units = np.arange(units)
  if kind == "lstm":
    return np.arange(2 * units)
  if kind == "layer_norm":
    return np.concatenate([units + h_units, h_units])
  hyper = np.arange(hyper_units)
  c = units + hyper_units + h_units
  hc = 2 * units + hyper_units + hyper
  hh = units + hyper
  return np.concatenate([c, h_units, hc, hh])


def model_from_checkpoint(directory, scale_factor, step=None, seed=0):
  """(SketchRNN with the checkpoint's weights, import record dict)."""
  from sketch_rnn_tf.model.sketch_rnn import SketchRNN
  hp, notes, run = read_config(directory)
  prefix = checkpoint_prefix(directory, step)
  w, hyper_units, emb = read_weights(prefix, hp)
  if hp.dec_model == "hyper":
    hp = hp.override(dict(hyper_num_units=hyper_units, hyper_embedding_size=emb))
  model = SketchRNN(hp, scale_factor, seed=seed)
  model.build()
  dec = model.decoder
  pairs = _cell_assignments(dec.cell, hp.dec_model, "RNN", w)
  pairs += [(dec.head.dense.kernel, w["RNN/output_w"]), (dec.head.dense.bias, w["RNN/output_b"])]
  if hp.conditional:
    enc = model.encoder
    pairs += _cell_assignments(enc.forward_cell, hp.enc_model, "ENC_RNN/fw", w)
    pairs += _cell_assignments(enc.backward_cell, hp.enc_model, "ENC_RNN/bw", w)
    pairs += [(enc.mu.kernel, w["ENC_RNN_mu/super_linear_w"]),
              (enc.mu.bias, w["ENC_RNN_mu/super_linear_b"]),
              (enc.presig.kernel, w["ENC_RNN_sigma/super_linear_w"]),
              (enc.presig.bias, w["ENC_RNN_sigma/super_linear_b"])]
    cols = state_columns(hp.dec_model, hp.dec_rnn_size, hyper_units)
    pairs += [(dec.init_state.kernel, w["linear/super_linear_w"][:, cols]),
              (dec.init_state.bias, w["linear/super_linear_b"][cols])]
  assigned = set()
  for var, value in pairs:
    if tuple(var.shape) != value.shape:   # our layout and the mapping disagree: a bug here
      raise AssertionError(f"{var.path}: shape {tuple(var.shape)} against {value.shape}")
    var.assign(value)
    assigned.add(id(var))
  left = [v.path for v in model.trainable_variables if id(v) not in assigned]
  if left:
    raise AssertionError(f"variables the import did not set: {left}")
  step = os.path.basename(prefix).rpartition("-")[2]
  record = {"tf1_checkpoint": os.path.abspath(prefix), "run": run, "notes": notes,
            "variables": len(w), "tf1_step": int(step) if step.isdigit() else None}
  return model, record


def scale_factor_of(scale_factor=None, data=(), max_seq_len=None):
  """The scale factor to import with: given, or computed from the training files.

  The original code divides offsets by the std of all dx and dy of its
  training set (sketches up to max_seq_len points, offsets clipped to
  +-1000): `datasets.load_npz_files` computes the same. A TF1 checkpoint does
  not hold it, and a model fed other units draws garbage, so one is required.
  """
  if scale_factor is not None and data:
    raise TF1CheckpointError("give --scale_factor or --data, not both")
  if scale_factor is not None:
    if not (np.isfinite(scale_factor) and scale_factor > 0):
      raise TF1CheckpointError(f"--scale_factor must be a positive number, not {scale_factor}")
    return float(scale_factor), {"scale_factor": "given"}
  if not data:
    raise TF1CheckpointError(
        "the scale factor is not in a TF1 checkpoint: give --scale_factor=F (the "
        "normalizing_scale_factor the original code printed) or --data=TRAIN.npz[,...] (the "
        "files it trained on, whence it is computed as the original code does)")
  from sketch_rnn_tf.data import datasets
  loaded = datasets.load_npz_files(list(data), max_len=max_seq_len)
  return loaded.scale_factor, {"scale_factor": "computed", "npz": [os.path.abspath(p)
                                                                   for p in data]}


def import_to_model_dir(directory, out_dir, scale_factor=None, data=(), step=None,
                        overwrite=False):
  """Writes a model directory from a run directory of the original code.

  Returns (checkpoint path, the model, the import record written to model_info.json).
  """
  from sketch_rnn_tf.utils import run_dir
  run_dir.refuse_existing(out_dir, overwrite)
  hp, _, _ = read_config(directory)   # refuses a bad config before data is read
  factor, source = scale_factor_of(scale_factor, data, hp.max_seq_len)
  model, record = model_from_checkpoint(directory, factor, step)
  record["scale_factor"] = source
  data_record = {"npz": source["npz"]} if "npz" in source else {}
  path = run_dir.save_imported(out_dir, model, {
      "scale_factor": factor, "class_names": [], "data": data_record, "imported_from": record},
      overwrite=True)
  return path, model, record
