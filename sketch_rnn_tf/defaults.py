"""The one home of the enums and defaults that more than one module (or a CLI) uses.

Plain Python, no TensorFlow: the command lines read their flag choices and
defaults from here before anything heavy is imported.
"""

# Cells (layers/lstm_cell.py, model/hparams.py, the CLIs).
CELL_KINDS = ("lstm", "layer_norm", "hyper")

# Gradient clipping (model/optimizer.py): per value as the reference code, or global norm.
CLIP_MODES = ("value", "global_norm")

# Data: N_max (sketches with more points are dropped; L_s, L_p divide by it) and the
# reference training code's offset clamp (+-1000 before normalising).
MAX_SEQ_LEN = 250
OFFSET_CLAMP = 1000

# Drawing (sampling/applications.py, sampling/latent.py, sketch-rnn-sample).
DRAW_MODES = ("generate", "reconstruct", "interpolate", "analogy", "complete")
INTERPOLATION_METHODS = ("slerp", "linear")

# Which checkpoint of a run directory a tool reads (utils/run_dir.py).
CHECKPOINTS = ("best", "latest")

# The most points one request to an exported `sample` signature may ask for.
EXPORT_MAX_LEN_LIMIT = 1000

# tf.distribute strategies of the trainer: one device, all local devices, TF_CONFIG workers.
STRATEGIES = ("default", "mirrored", "multi_worker")

# How the recurrences' matmuls compute (utils/compute_path.py, --precision); "auto" picks
# one for the machine, as it picks XLA or graph mode (--jit_compile).
AUTO = "auto"
PRECISIONS = ("float32", "bfloat16")
