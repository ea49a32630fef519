"""compute_path: which way a run computes on a machine, and the line that says so."""
import os
import subprocess
import sys

import pytest

from sketch_rnn_tf.utils import compute_path
from sketch_rnn_tf.utils.compute_path import Machine, choose

AMD = Machine("AMD EPYC", frozenset({"avx2", "fma"}))
XEON = Machine("Intel(R) Xeon(R) Platinum 8480+",
               frozenset({"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}))
ARM = Machine("Neoverse-V1", frozenset({"asimd", "bf16", "sve"}))
ZEN4 = Machine("AMD EPYC 9R14", frozenset({"avx2", "avx512f", "avx512_bf16"}))


def test_cpu_without_bfloat16_units_takes_xla_float32():
  path = choose(AMD)
  assert (path.jit_compile, path.precision, path.device) == (True, "float32", "CPU")
  assert path.line("training") == ("training path: XLA, float32 matmuls on the CPU (AMD EPYC: "
                                   "no bfloat16 matrix units, XLA fuses the float32 loop)")


@pytest.mark.parametrize("machine, units", [(XEON, "amx_bf16/avx512_bf16"), (ARM, "bf16")])
def test_cpu_with_bfloat16_units_trains_in_graph_mode_bfloat16(machine, units):
  path = choose(machine, what="training")
  assert (path.jit_compile, path.precision) == (False, "bfloat16")
  assert units in path.reason and "oneDNN" in path.reason


@pytest.mark.parametrize("machine, batch_products", [
    (XEON, "on the AMX tiles"), (ZEN4, "with AVX512-BF16 dot products"), (ARM, None), (AMD, None)])
def test_every_cpu_draws_in_the_fused_loop_with_bfloat16_weights_where_it_built(machine,
                                                                                batch_products):
  built = Machine(machine.cpu_model, machine.cpu_flags, cores=2, kernel_error="")
  path = choose(built, what="drawing")
  assert (path.jit_compile, path.precision, path.device, path.fused) == (False, "bfloat16", "CPU",
                                                                         True)
  # The op sizes its own threads: TensorFlow's pools keep their default.
  assert path.threads is None and path.batch_parts == 1
  line = path.line("drawing")
  assert line.startswith("drawing path: the fused drawing loop (one op), bfloat16 weights on the CPU")
  if batch_products:
    assert line.endswith(f"; a batch multiplies them {batch_products})")
  else:
    assert "a batch" not in line
  # float32 as asked stays in the loop; XLA as asked leaves it.
  assert choose(built, precision="float32", what="drawing").fused
  assert choose(built, precision="float32", what="drawing").precision == "float32"
  xla = choose(built, jit_compile=True, what="drawing")
  assert (xla.jit_compile, xla.precision, xla.fused) == (True, "float32", False)
  # Without the kernels: XLA, float32, and the line says why not.
  bare = Machine(machine.cpu_model, machine.cpu_flags, kernel_error="no C++ compiler (g++) on PATH")
  path = choose(bare, what="drawing")
  assert (path.jit_compile, path.precision, path.fused) == (True, "float32", False)
  assert path.line("drawing").endswith("; no fused kernel: no C++ compiler (g++) on PATH)")


@pytest.mark.parametrize("capability, precision", [((7, 0), "float32"), ((8, 0), "bfloat16"),
                                                   ((9, 0), "bfloat16")])
def test_gpu_takes_xla_and_bfloat16_from_ampere_on(capability, precision):
  path = choose(Machine("AMD EPYC", frozenset({"avx2"}), (capability,)))
  assert (path.jit_compile, path.precision, path.device) == (True, precision, "GPU")
  assert f"{capability[0]}.{capability[1]}" in path.reason


def test_mixed_gpus_take_what_the_oldest_supports():
  assert choose(Machine("x", gpu_capabilities=((9, 0), (7, 5)))).precision == "float32"


def test_flags_override_and_the_line_says_so():
  path = choose(XEON, jit_compile=True, precision="float32")
  assert (path.jit_compile, path.precision) == (True, "float32")
  assert path.reason.startswith("XLA and float32 as asked; the automatic choice: Intel")
  path = choose(AMD, jit_compile=False)
  assert (path.jit_compile, path.precision) == (False, "float32")
  assert path.reason.startswith("graph mode as asked")


def test_graph_mode_training_takes_the_fused_kernel_where_it_built():
  built = Machine(XEON.cpu_model, XEON.cpu_flags, kernel_error="")
  path = choose(built, what="training")
  assert path.fused and path.line("training").endswith(
      "; fused kernels: a plain or HyperLSTM's whole sequence in one op on 1 thread, a "
      "layer-norm LSTM step in one kernel)")
  # On 2 cores: the recurrences on both (a thread per core each), and the remaining
  # large ops on both too.
  two = choose(Machine(XEON.cpu_model, XEON.cpu_flags, cores=2, kernel_error=""))
  assert (two.threads, two.batch_parts) == ((2, 2), 2)
  assert two.line("training").endswith(
      "; 2 ops at once, 2 threads each"
      "; fused kernels: a plain or HyperLSTM's whole sequence in one op on 2 threads, a "
      "layer-norm LSTM step in one kernel, 2 loops side by side)")
  assert path.batch_parts == 1                       # cores unknown: TensorFlow's pools
  assert choose(Machine(XEON.cpu_model, XEON.cpu_flags, cores=2)).batch_parts == 1  # no kernels
  # Not under XLA (it cannot run a custom op), not for drawing, not without a build.
  assert not choose(built, jit_compile=True).fused
  assert not choose(Machine(AMD.cpu_model, AMD.cpu_flags, kernel_error=""), jit_compile=True).fused
  assert choose(Machine(AMD.cpu_model, AMD.cpu_flags, kernel_error=""), jit_compile=False).fused
  assert not choose(XEON).fused          # kernel_error defaults to "not checked"
  assert "fused" not in choose(XEON).line("training")
  no_compiler = Machine(XEON.cpu_model, XEON.cpu_flags, kernel_error="no C++ compiler (g++) on PATH")
  assert choose(no_compiler).line("training").endswith("; no fused kernel: no C++ compiler (g++) on PATH)")
  assert "fused" not in choose(no_compiler, jit_compile=True).line("training")


def test_unknown_precision_is_refused():
  with pytest.raises(ValueError, match="precision must be 'auto' or one of"):
    choose(AMD, precision="float16")


def test_read_cpuinfo_takes_the_model_and_flags(tmp_path):
  info = tmp_path / "cpuinfo"
  info.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) "
                  "Platinum 8480+\nflags\t\t: fpu avx2 amx_bf16 avx512_bf16\n\nprocessor\t: 1\n")
  model, flags = compute_path.read_cpuinfo(str(info))
  assert model == "Intel(R) Xeon(R) Platinum 8480+"
  assert {"amx_bf16", "avx512_bf16"} <= set(flags)
  arm = tmp_path / "arm"
  arm.write_text("processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd bf16 i8mm\n")
  assert "bf16" in compute_path.read_cpuinfo(str(arm))[1]


def test_read_cpuinfo_without_the_file_still_names_something(tmp_path):
  model, flags = compute_path.read_cpuinfo(str(tmp_path / "missing"))
  assert model and flags == ()


def test_detect_reads_this_machine():
  machine = compute_path.detect()
  assert machine.cpu_model
  assert choose(machine).precision in ("float32", "bfloat16")


def test_graph_mode_on_two_cores_runs_one_thread_per_op():
  xeon2 = Machine(XEON.cpu_model, XEON.cpu_flags, cores=2)
  path = choose(xeon2)
  assert path.threads == (2, 1)
  assert path.line("training").endswith("; 2 ops at once, 1 thread each)")
  assert choose(xeon2, jit_compile=True).threads is None            # XLA: one op, its own threads
  assert choose(xeon2, what="drawing").threads is None               # XLA
  assert choose(xeon2, jit_compile=False, what="drawing").threads == (2, 1)
  built = Machine(XEON.cpu_model, XEON.cpu_flags, cores=2, kernel_error="")
  assert choose(built, jit_compile=False, what="drawing").threads is None   # the fused loop
  assert choose(Machine(XEON.cpu_model, XEON.cpu_flags, cores=16)).threads is None
  assert choose(Machine(XEON.cpu_model, XEON.cpu_flags)).threads is None  # cores unknown
  assert choose(Machine("g", cores=2, gpu_capabilities=((8, 0),)), jit_compile=False).threads is None


def test_apply_threads_says_when_the_pools_could_not_change(monkeypatch):
  import tensorflow as tf
  tf.constant(1.0) + 1.0   # the runtime has started in this process: the pools are fixed
  path = choose(Machine(XEON.cpu_model, XEON.cpu_flags, cores=2))
  assert path.apply_threads().threads is None
  monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "2")
  assert path.apply_threads().threads is None


def test_apply_threads_sizes_a_fresh_process_pools():
  code = ("from sketch_rnn_tf.utils.compute_path import Machine, choose\n"
          "import tensorflow as tf\n"
          "p = choose(Machine('x', frozenset({'amx_bf16'}), cores=2)).apply_threads()\n"
          "tf.constant(1.0) + 1.0\n"
          "print(*p.threads, tf.config.threading.get_inter_op_parallelism_threads(),"
          " tf.config.threading.get_intra_op_parallelism_threads())\n")
  env = {k: v for k, v in os.environ.items() if k not in compute_path.THREAD_ENV}
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       check=True, timeout=300)
  assert out.stdout.split()[-4:] == ["2", "1", "2", "1"], out.stdout
