"""The fused CPU kernels, compiled once per machine, loaded on demand: the
training recurrence's step updates (`lstm_step.cc`) and the whole drawing loop
(`draw_loop.cc`), sharing `kernel_common.h`.

`load()` returns the op module, compiling the source first when no library
built from them for this TensorFlow and this CPU exists yet (about 6 s with
g++; `scripts/setup_env.sh` does it at install). The library is named by a
hash of the sources, TensorFlow's version and compile flags, and the CPU's
model and flags (it is built with -march=native), so a changed source, an
upgraded TensorFlow or a copied tree never loads a stale or foreign build.
It goes beside the source, or where SKETCH_RNN_KERNEL_DIR points, or (if
the package directory is read-only) under ~/.cache/sketch_rnn_tf; it is
written to a temporary name and renamed, so parallel builds (test workers)
never load a half-written file, and earlier builds beside it are removed.

Where no compiler or no build is possible, `load()` returns None and the
reason, and the recurrences run on TensorFlow's own ops (same results).

    python -m sketch_rnn_tf.layers.kernels    # build now, print the library's path
"""
from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = tuple(os.path.join(HERE, name)
                for name in ("lstm_step.cc", "hyper_sequence.cc", "draw_loop.cc"))
HEADERS = tuple(os.path.join(HERE, name) for name in ("kernel_common.h", "panels.h", "sequence.h"))
CXX = os.environ.get("CXX", "g++")
CXXFLAGS = ("-shared", "-fPIC", "-O3", "-march=native", "-Wno-deprecated-declarations")
ENV_DIR = "SKETCH_RNN_KERNEL_DIR"
# Extra compiler flags, space-separated (part of the library's name): e.g.
# -mno-avx512bf16 builds the paths of a CPU without that instruction (the tests
# hold them to the reference on any machine).
ENV_FLAGS = "SKETCH_RNN_KERNEL_CXXFLAGS"
PREFIX = "_lstm_step_"


def _tf_flags():
  import tensorflow as tf
  return list(tf.sysconfig.get_compile_flags()), list(tf.sysconfig.get_link_flags()), tf.__version__


def _cxxflags():
  return CXXFLAGS + tuple(os.environ.get(ENV_FLAGS, "").split())


def _cpu_key():
  from sketch_rnn_tf.utils.compute_path import read_cpuinfo
  model, flags = read_cpuinfo()
  return model + " " + " ".join(sorted(flags))


def library_path():
  """Where the library built from this source for this TensorFlow and CPU goes."""
  compile_flags, link_flags, version = _tf_flags()
  h = hashlib.sha256()
  for source in SOURCES + HEADERS:
    with open(source, "rb") as f:
      h.update(f.read())
  for part in (version, " ".join(compile_flags + link_flags + list(_cxxflags())), _cpu_key()):
    h.update(b"\0" + part.encode())
  name = f"{PREFIX}{h.hexdigest()[:16]}.so"
  directory = os.environ.get(ENV_DIR)
  if not directory:
    directory = HERE
    if not os.access(directory, os.W_OK):
      directory = os.path.join(os.path.expanduser("~"), ".cache", "sketch_rnn_tf")
  return os.path.join(directory, name)


def build(path=None):
  """Compiles the source into `path` (default `library_path()`); returns the path.

  Raises RuntimeError with the compiler's message when it fails.
  """
  path = path or library_path()
  if shutil.which(CXX) is None:
    raise RuntimeError(f"no C++ compiler ({CXX}) on PATH")
  compile_flags, link_flags, _ = _tf_flags()
  os.makedirs(os.path.dirname(path), exist_ok=True)
  fd, tmp = tempfile.mkstemp(suffix=".so", dir=os.path.dirname(path))
  os.close(fd)
  try:
    cmd = [CXX, *_cxxflags(), *compile_flags, *SOURCES, "-o", tmp, *link_flags]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
      raise RuntimeError(f"{CXX} failed on {', '.join(SOURCES)}:\n{done.stderr[-2000:]}")
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  # Builds of an earlier source, TensorFlow or CPU would only pile up (a process that
  # has one loaded keeps its mapping).
  for name in os.listdir(os.path.dirname(path)):
    if name.startswith(PREFIX) and name.endswith(".so") and name != os.path.basename(path):
      try:
        os.remove(os.path.join(os.path.dirname(path), name))
      except OSError:
        pass
  return path


@functools.lru_cache(maxsize=None)
def load():
  """(op module, "") or (None, why not): the fused kernels, built first if need be."""
  if os.environ.get("SKETCH_RNN_FUSED_KERNELS", "1") == "0":
    return None, "SKETCH_RNN_FUSED_KERNELS=0"
  import tensorflow as tf
  try:
    path = library_path()
    if not os.path.exists(path):
      build(path)
    return tf.load_op_library(path), ""
  except (RuntimeError, OSError, tf.errors.NotFoundError) as e:
    return None, str(e).splitlines()[0]


def main():
  try:
    path = build()
  except RuntimeError as e:
    print(f"fused kernels not built: {e}", file=sys.stderr)
    return 1
  print(path)
  return 0


if __name__ == "__main__":
  sys.exit(main())
