"""Which way a run computes on this machine: XLA or graph mode, float32 or bfloat16.

The trainer and `sketch-rnn-sample` call `choose` once and print `Path.line()`,
so a user sees what was taken and why. The rules come from measurements on
the project's machines (BUILD.md, "Choosing the path"):

- A CPU with bfloat16 matrix units (AMX-BF16, AVX512-BF16): oneDNN runs
  TensorFlow's graph-mode bfloat16 matmuls on them, 4x the float32 rate at
  the weight-gradient shapes and ~2x at one recurrence step, while XLA on CPU
  uses none of them (its bfloat16 dots were slower than its float32 ones).
  Training: graph mode, bfloat16 matmuls.
- Any other CPU (AVX2, AVX-512 without BF16, Arm without BF16 matmul):
  bfloat16 would be emulated, slower than float32; XLA fuses the recurrence's
  elementwise work and runs the loop in one program. Training: XLA, float32.
- Drawing on any CPU where the fused kernels built: the whole loop as one op
  (`layers/kernels/draw_loop.cc`), with bfloat16 weights. One step of one
  sketch is a few matrix-vector products bound by reading the weights, and
  ~60 small ops that cost as much again as TensorFlow ops (XLA or graph
  mode); the op reads half the bytes with both cores and does the small work
  in cache, and a batch runs its products on the AMX tiles or AVX512-BF16
  where the CPU has them (250-step paper sketch: 14.6 ms against 51.4 ms
  under XLA on an AMD EPYC, 27 against 88 ms on an Intel Xeon; batch of 100:
  246 against 89 sketches/s with AVX512-BF16, 438 against 122 with AMX).
  Without the kernels: XLA, float32
  (graph mode's per-op dispatch costs more than bfloat16 weights save).
- A GPU: XLA (the loop and its elementwise work in fused kernels), bfloat16
  where the GPU has bfloat16 tensor cores (compute capability 8.0, Ampere, or
  newer), float32 before.
- Graph mode on a CPU of at most 2 cores: one thread per op and as many ops
  at once as cores (`Path.threads`; TensorFlow's default is a pool of each).
  A recurrence step is dozens of ops on [100, 512]-sized tensors whose
  intra-op sharding across both cores costs more than it gains, while the
  executor already has independent ops to run side by side (the encoder's two
  directions, the backward loops); one pool of threads per core does not
  oversubscribe them (Intel Xeon with AMX, 2 cores: HyperLSTM 56-58 -> 73-74
  sketches/s, LSTM 136-147 -> 148-155). Unmeasured on more cores, where the
  large weight-gradient matmuls need intra-op threads: left at the default.
  `TF_NUM_INTEROP_THREADS` / `TF_NUM_INTRAOP_THREADS` in the environment win.

- Graph-mode training on a CPU: the recurrences run in the fused kernels
  (`layers/kernels`, compiled for the machine) where they built: a plain
  LSTM's or a HyperLSTM's whole sequence, forward and backward, as one op
  each, a layer-norm LSTM's cell update as one op per step, instead of dozens
  of ops and casts per step (`Machine.kernel_error` says why not; XLA fuses
  those itself and cannot run a custom op). The sequence ops split the batch's
  rows between `Path.batch_parts` threads (the cores), the layer-norm cell's
  steps run as that many loops over slices of the batch. What is left are
  large ops (weight gradients, projections, the head), so on few cores the
  intra-op pool then has a thread per core too (Intel Xeon with AMX, 2 cores,
  interleaved: HyperLSTM 60-62 -> 66 sketches/s, LSTM and the quickstart
  +1-2%; the layer-norm cell's per-step loops unmeasured).

Flags override either choice (`--jit_compile`, `--precision`); the line then
says "as asked".
"""
from __future__ import annotations

import dataclasses
import os
import platform

from sketch_rnn_tf.defaults import AUTO, PRECISIONS
# What makes bfloat16 matmuls run on matrix units, by the flag names Linux gives
# (/proc/cpuinfo) on x86 and Arm.
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16", "bf16")
AMPERE = (8, 0)
# Up to this many cores, graph mode runs one thread per op (see the module docstring).
FEW_CORES = 2
THREAD_ENV = ("TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS")


@dataclasses.dataclass(frozen=True)
class Machine:
  """What the path depends on."""
  cpu_model: str
  cpu_flags: frozenset = frozenset()
  gpu_capabilities: tuple = ()     # (major, minor) per visible GPU
  cores: int = 0                   # usable by this process; 0: unknown
  # Why the fused CPU step kernels (layers/kernels) cannot run here; "" when they can.
  kernel_error: str = "not checked"

  @property
  def bf16_cpu_units(self):
    return sorted(f for f in BF16_CPU_FLAGS if f in self.cpu_flags)


@dataclasses.dataclass(frozen=True)
class Path:
  """How to compute: XLA or not, the matmuls' precision, and why."""
  jit_compile: bool
  precision: str
  reason: str
  device: str = "CPU"
  threads: tuple = None            # (inter-op, intra-op) pool sizes; None: TensorFlow's
  fused: bool = False              # the fused CPU kernels: training's cell updates, drawing's loop
  kernel_error: str = ""           # why not, where graph mode could have used it
  batch_parts: int = 1             # fused recurrences: loops over batch slices side by side

  @property
  def bfloat16(self):
    return self.precision == "bfloat16"

  def line(self, what):
    if what == "drawing" and self.fused:
      return (f"{what} path: the fused drawing loop (one op), {self.precision} weights on the "
              f"{self.device} ({self.reason})")
    mode = "XLA" if self.jit_compile else "graph mode"
    pools = ("" if self.threads is None else
             f"; {self.threads[0]} ops at once, {self.threads[1]} "
             f"thread{'s' if self.threads[1] > 1 else ''} each")
    parts = self.batch_parts
    fused = (f"; fused kernels: a plain or HyperLSTM's whole sequence in one op on {parts} "
             f"thread{'s' if parts > 1 else ''}, a layer-norm LSTM step in one kernel" + (
                 f", {parts} loops side by side" if parts > 1 else "") if self.fused else
             f"; no fused kernel: {self.kernel_error}" if self.kernel_error else "")
    return (f"{what} path: {mode}, {self.precision} matmuls on the {self.device} "
            f"({self.reason}{pools}{fused})")

  def apply_threads(self):
    """Sizes TensorFlow's thread pools as `threads` says; returns the Path in effect.

    That is this Path (also when the pools are already so), or one with
    `threads` None where the pools keep what they have: the environment sets
    them (THREAD_ENV), or TensorFlow's runtime has already started in this
    process (its first op fixes them).
    """
    if self.threads is None:
      return self
    if not any(v in os.environ for v in THREAD_ENV):
      import tensorflow as tf
      threading = tf.config.threading
      if (threading.get_inter_op_parallelism_threads(),
          threading.get_intra_op_parallelism_threads()) == self.threads:
        return self          # set already (the CLIs size the pools before TF starts)
      try:
        threading.set_inter_op_parallelism_threads(self.threads[0])
        threading.set_intra_op_parallelism_threads(self.threads[1])
        return self
      except RuntimeError:
        pass
    return dataclasses.replace(self, threads=None)


def read_cpuinfo(path="/proc/cpuinfo"):
  """(model name, flags) of the first CPU in a Linux cpuinfo file; ("", ()) elsewhere."""
  model, cpu_flags = "", ()
  try:
    with open(path, encoding="utf-8", errors="replace") as f:
      for line in f:
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model", "processor") and not model and not value.strip().isdigit():
          model = value.strip()
        elif key in ("flags", "features") and not cpu_flags:
          cpu_flags = tuple(value.split())
        if model and cpu_flags:
          break
  except OSError:
    pass
  return model or platform.processor() or platform.machine(), cpu_flags


def detect():
  """This machine: its CPU (model, flags) and the compute capability of each visible GPU."""
  import tensorflow as tf
  model, cpu_flags = read_cpuinfo()
  gpus = []
  for gpu in tf.config.list_physical_devices("GPU"):
    details = tf.config.experimental.get_device_details(gpu)
    gpus.append(tuple(details.get("compute_capability", (0, 0))))
  cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
  from sketch_rnn_tf.layers import kernels
  _, kernel_error = kernels.load()
  return Machine(model, frozenset(cpu_flags), tuple(gpus), cores or 0, kernel_error)


def choose(machine, jit_compile=AUTO, precision=AUTO, what="training"):
  """The Path for `what` ("training" or "drawing") on `machine`.

  jit_compile: AUTO, True or False. precision: AUTO or one of PRECISIONS.
  """
  if precision != AUTO and precision not in PRECISIONS:
    raise ValueError(f"precision must be {AUTO!r} or one of {PRECISIONS}, not {precision!r}")
  if machine.gpu_capabilities:
    device = "GPU"
    cap = min(machine.gpu_capabilities)
    auto_jit, auto_bf16 = True, cap >= AMPERE
    why = (f"GPU compute capability {cap[0]}.{cap[1]}: "
           + ("bfloat16 tensor cores" if auto_bf16 else "no bfloat16 tensor cores"))
  elif machine.bf16_cpu_units and what == "training":
    device = "CPU"
    auto_jit, auto_bf16 = False, True
    why = (f"{machine.cpu_model}: {'/'.join(machine.bf16_cpu_units)} bfloat16 units, "
           "which oneDNN uses in graph mode and XLA does not")
  else:
    device = "CPU"
    auto_jit, auto_bf16 = True, False
    why = (f"{machine.cpu_model}: a drawing step is too small for the "
           f"{'/'.join(machine.bf16_cpu_units)} bfloat16 units to pay; XLA fuses its "
           "elementwise work" if machine.bf16_cpu_units else
           f"{machine.cpu_model}: no bfloat16 matrix units, XLA fuses the float32 loop")
  asked = []
  if jit_compile != AUTO:
    auto_jit = bool(jit_compile)
    asked.append("XLA" if auto_jit else "graph mode")
  # Drawing on a CPU where the kernels built: the fused loop (one op for the whole
  # drawing) unless XLA is asked for; bfloat16 weights unless float32 is.
  could_draw_fused = what == "drawing" and device == "CPU" and jit_compile is not True
  draw_fused = could_draw_fused and not machine.kernel_error
  if draw_fused:
    auto_jit, auto_bf16 = False, True
    why = (f"{machine.cpu_model}: a step of one sketch is bound by reading the weights, "
           "bfloat16 halves them" + (
               "; a batch multiplies them on the AMX tiles" if {"amx_bf16", "amx_tile"}
               <= machine.cpu_flags else
               "; a batch multiplies them with AVX512-BF16 dot products"
               if "avx512_bf16" in machine.cpu_flags else ""))
  if precision != AUTO:
    auto_bf16 = precision == "bfloat16"
    asked.append(precision)
  if asked:
    why = f"{' and '.join(asked)} as asked; the automatic choice: {why}"
  threads = None
  could_fuse = device == "CPU" and not auto_jit and what == "training"
  fused = draw_fused or (could_fuse and not machine.kernel_error)
  if device == "CPU" and not auto_jit and not draw_fused and 0 < machine.cores <= FEW_CORES:
    threads = (machine.cores, machine.cores if fused else 1)
  kernel_error = (machine.kernel_error if (could_fuse or could_draw_fused)
                  and machine.kernel_error != "not checked" else "")
  # A recurrence's chain of steps is one thread's work: the fused ops run it on as
  # many threads (slices of the batch) as ops run at once.
  batch_parts = threads[0] if fused and threads else 1
  return Path(auto_jit, "bfloat16" if auto_bf16 else "float32", why, device, threads, fused,
              kernel_error, batch_parts)


def parse_jit_flag(value):
  """A --jit_compile value (auto, true/false, 1/0, yes/no) -> AUTO, True or False."""
  v = str(value).strip().lower()
  if v == AUTO:
    return AUTO
  if v in ("1", "true", "yes", "on", "xla"):
    return True
  if v in ("0", "false", "no", "off", "graph"):
    return False
  raise ValueError(f"--jit_compile must be auto, true or false, not {value!r}")

