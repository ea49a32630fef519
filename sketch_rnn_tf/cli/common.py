"""What every console command shares: `--help`, a quiet TensorFlow start-up, and
user errors as one line.

- `--help` (also -h, -?, --helpshort) prints the command's docstring and its own
  flags and exits 0. absl's own --help lists the flags of the `__main__` module,
  which for an installed console script is the launcher, not our module.
- TensorFlow's import prints CUDA/XLA plugin registration messages on a CPU-only
  machine ("Unable to register cuDNN factory", "failed call to cuInit", ...),
  some through absl's C++ logging that TF_CPP_MIN_LOG_LEVEL does not reach. The
  import runs with the process's stderr captured, and only lines that are not
  this known noise are passed on.
- A user's mistake (InputError, app.UsageError, a file that cannot be read)
  ends the command with one line, `<command>: error: <message>`, and exit status
  2; every other exception is a bug and keeps its traceback.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile

from absl import app, flags, logging

from sketch_rnn_tf.utils.errors import InputError  # noqa: F401 (the CLIs raise it)

HELP_FLAGS = ("--help", "-help", "-h", "-?", "--helpshort", "-helpshort")
USER_ERRORS = (InputError, app.UsageError, OSError)
START_UP_NOISE = re.compile("|".join([
    r"cuda_(dnn|blas|fft)\.cc", r"Unable to register cu\w+ factory", r"cudart_stub\.cc",
    r"Could not find cuda drivers", r"failed call to cuInit", r"cuda_executor\.cc",
    r"computation_placer\.cc", r"All log messages before absl::InitializeLog",
    r"cpu_feature_guard\.cc", r"To enable the following instructions",
    r"rebuild TensorFlow with the appropriate compiler flags", r"oneDNN custom operations",
    r"TF-TRT Warning", r"cuda_diagnostics\.cc", r"retrieving CUDA diagnostic information",
    r"kernel driver does not appear to be running", r"hostname: ", r"service\.cc:\d+\] XLA service",
    r"StreamExecutor device \(\d+\)", r"Compiled cluster using XLA",
]))


def import_tensorflow_quietly(before_start=None):
  """Imports TensorFlow (and finds its devices) with the known start-up noise filtered out.

  before_start: called after the import and before TensorFlow's runtime starts (its
  first op, here), for what must be set before then: the thread pools.
  """
  if "tensorflow" in sys.modules:
    if before_start is not None:
      before_start()
    return
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as captured:
    os.dup2(captured.fileno(), 2)
    try:
      import tensorflow as tf
      tf.config.list_physical_devices()   # cuInit's messages come from here
      if before_start is not None:
        before_start()
      # XLA's first compilation logs its service start through absl's C++ logging,
      # which TF_CPP_MIN_LOG_LEVEL does not reach: start it here, inside the capture.
      tf.function(lambda x: x + 1.0, jit_compile=True)(tf.zeros([]))
    finally:
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      text = captured.read().decode("utf-8", "replace")
  kept = [line for line in text.splitlines() if line.strip() and not START_UP_NOISE.search(line)]
  if kept:
    print("\n".join(kept), file=sys.stderr, flush=True)


def print_help(module_name):
  module = sys.modules[module_name]
  print((module.__doc__ or "").strip())
  print()
  print("flags:")
  print(flags.FLAGS.module_help(module) or "  (none)")
  print("\n(--helpfull also lists absl's own flags.)")


def run(main, module_name, command, needs_tensorflow=True, before_tensorflow_starts=None):
  """app.run(main) for console command `command` whose flags live in `module_name`.

  before_tensorflow_starts: see `import_tensorflow_quietly` (called with flags parsed).
  """
  if any(arg in HELP_FLAGS for arg in sys.argv[1:]):
    print_help(module_name)
    sys.exit(0)

  def checked_main(argv):
    if not flags.FLAGS["verbosity"].present:
      logging.set_verbosity(logging.WARNING)   # TF's checkpointing logs at INFO through absl
    if needs_tensorflow:
      import_tensorflow_quietly(before_tensorflow_starts)
    try:
      return main(argv)
    except USER_ERRORS as e:
      message = str(e) or type(e).__name__
      if isinstance(e, OSError) and e.filename and e.filename not in message:
        message = f"{e.filename}: {message}"
      print(f"{command}: error: {message}", file=sys.stderr, flush=True)
      sys.exit(2)

  app.run(checked_main)
