"""sketch-rnn-tf: Sketch-RNN (Ha & Eck, ICLR 2018) in TensorFlow / Keras 3.

The public API (imported on first use, so `import sketch_rnn_tf` stays cheap):

  SketchRNN        the model (`sketch_rnn_tf.model.sketch_rnn`): conditional (VAE),
                   unconditional or class-conditional; `SketchRNN(hparams).build()`
  SketchLSTMCell   the Keras RNN cell: LSTM, layer-norm LSTM or HyperLSTM
  HParams          the hyperparameters, with the paper's defaults and presets
  Sampler          compiled drawing: sample, encode, prime, complete
  load_model       a trained model from a run directory (`sketch-rnn-train --model_dir`)
  __version__

The data flows one way through the subpackages: `data` (files -> strokes ->
tf.data) -> `layers` and `model` -> `sampling` -> `export`; `utils` serves them
all and `cli` holds one module per console command.

This package runs on Keras' TensorFlow backend only (its recurrence and
export are TensorFlow graphs): importing it with another backend fails here,
with the fix, rather than obscurely at the first layer call.
"""
from __future__ import annotations

import importlib
import json
import os

__version__ = "0.2.0"


def _keras_backend():
  """The backend Keras will pick, read the way Keras reads it, without importing Keras."""
  if "KERAS_BACKEND" in os.environ:
    return os.environ["KERAS_BACKEND"]
  home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
  try:
    with open(os.path.join(home, "keras.json"), encoding="utf-8") as f:
      return json.load(f).get("backend", "tensorflow")
  except (OSError, ValueError):
    return "tensorflow"


if _keras_backend() != "tensorflow":
  raise ImportError(
      f"sketch_rnn_tf needs Keras' TensorFlow backend, but Keras is set to "
      f"{_keras_backend()!r} (KERAS_BACKEND or keras.json). Run with KERAS_BACKEND=tensorflow.")

_API = {
    "SketchRNN": "sketch_rnn_tf.model.sketch_rnn",
    "SketchLSTMCell": "sketch_rnn_tf.layers.lstm_cell",
    "HParams": "sketch_rnn_tf.model.hparams",
    "Sampler": "sketch_rnn_tf.sampling.sampler",
    "load_model": "sketch_rnn_tf.utils.run_dir",
}
__all__ = sorted(_API) + ["__version__"]


def __getattr__(name):
  if name in _API:
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value
    return value
  raise AttributeError(f"module 'sketch_rnn_tf' has no attribute {name!r}")


def __dir__():
  return __all__
