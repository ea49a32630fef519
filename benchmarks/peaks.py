"""The machine's own ceilings, measured in the run that reports against them.

Usage: python benchmarks/peaks.py   (or imported by the other benchmarks)

- `matmul_peaks()`: GFLOP/s of float32 and bfloat16 matmuls in graph mode
  (oneDNN) and under XLA at three shapes: a large square product, the
  weight-gradient shape of the training recurrence (T*B x R x 4H) and one
  recurrence step (B x (D+H) x 4H). Each is a chain of dependent products
  in one graph, so the figure is compute, not dispatch.
- `stream_ms(nbytes, steps)`: the time to read `nbytes` of weights `steps`
  times, as one drawing reads the decoder's weights once per step (a loop of
  matrix-vector products over them: the memory-bound floor of a step that
  must touch every weight).

The last line (when run as a script) is one JSON object.
"""
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

SHAPES = {"square": (2048, 2048, 2048), "weight_grad": (12800, 512, 2048),
          "step": (100, 645, 2048)}


def cpu_name():
  """`lscpu`'s model name (what BUILD.md names beside every figure) and the flags that matter."""
  model, flags = "", []
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      for line in f:
        key, _, value = line.partition(":")
        if key.strip() == "model name" and not model:
          model = value.strip()
        elif key.strip() == "flags" and not flags:
          flags = [fl for fl in value.split() if fl.startswith(("amx", "avx512_bf16", "avx512f",
                                                                "avx2", "avx512_fp16"))]
  except OSError:
    pass
  return model or platform.processor(), sorted(set(flags))


def _chain_gflops(m, k, n, dtype, jit, seconds=1.0):
  """GFLOP/s of m x k x n products, chained so that each depends on the last."""
  import tensorflow as tf
  a = tf.cast(tf.random.normal([m, k]) / k ** 0.5, dtype)
  b = tf.cast(tf.random.normal([k, n]) / k ** 0.5, dtype)
  back = tf.cast(tf.random.normal([n, k]) / n ** 0.5, dtype)
  reps = max(2, min(200, int(2e10 / (2 * m * k * n))))

  @tf.function(jit_compile=jit)
  def chain(x):
    for _ in range(reps):   # [m, k] -> [m, n] -> [m, k]: two products per rep
      x = tf.matmul(tf.matmul(x, b), back)
    return x

  chain(a).numpy()
  best = float("inf")
  deadline = time.perf_counter() + seconds
  while True:
    start = time.perf_counter()
    chain(a).numpy()
    best = min(best, time.perf_counter() - start)
    if time.perf_counter() > deadline:
      break
  return reps * 2 * (2 * m * k * n) / best / 1e9


def matmul_peaks(shapes=SHAPES, seconds=1.0):
  """{shape: {"graph_float32", "graph_bfloat16", "xla_float32", "xla_bfloat16"}: GFLOP/s}."""
  import tensorflow as tf
  out = {}
  for name, (m, k, n) in shapes.items():
    out[name] = {f"{'xla' if jit else 'graph'}_{d}": round(_chain_gflops(m, k, n, getattr(tf, d),
                                                                          jit, seconds), 1)
                 for jit in (False, True) for d in ("float32", "bfloat16")}
  return out


def best_peaks(peaks):
  """(float32 peak, bfloat16 peak): the best path of each precision at the square shape."""
  sq = peaks["square"]
  return (max(sq["graph_float32"], sq["xla_float32"]),
          max(sq["graph_bfloat16"], sq["xla_bfloat16"]))


def stream_ms(nbytes, steps=250):
  """Milliseconds to read `nbytes` of float32 weights `steps` times: the fastest of a
  loop of matrix-vector products over them in graph mode and under XLA (a
  product reads each weight once; its result feeds the next step, so no step
  can be skipped or hoisted). The floor of a drawing step that must touch
  every weight once."""
  import tensorflow as tf
  cols = 1024
  w = tf.random.normal([max(1, nbytes // 4 // cols), cols]) / cols ** 0.5

  def loop(w):
    def body(t, v):
      return t + 1, tf.tanh(tf.matmul(v, w, transpose_b=True)[:, :cols])
    return tf.while_loop(lambda t, _: t < steps, body, (0, tf.ones([1, cols])))[1]

  best = float("inf")
  for jit in (True, False):
    fn = tf.function(loop, jit_compile=jit)
    fn(w).numpy()
    for _ in range(7):
      start = time.perf_counter()
      fn(w).numpy()
      best = min(best, time.perf_counter() - start)
  return 1e3 * best


def print_peaks(peaks):
  for name, row in peaks.items():
    m, k, n = SHAPES[name]
    print(f"matmul {m} x {k} x {n} ({name}): " + ", ".join(f"{p} {v:.0f}" for p, v in row.items())
          + " GFLOP/s", flush=True)


def main():
  model, flags = cpu_name()
  print(f"CPU: {model} ({' '.join(flags)}), {os.cpu_count()} CPUs", flush=True)
  peaks = matmul_peaks()
  print_peaks(peaks)
  fp32, bf16 = best_peaks(peaks)
  print(json.dumps({"cpu": model, "cpu_flags": flags, "matmul_gflops": fp32,
                    "matmul_bf16_gflops": bf16, "peaks": peaks}))


if __name__ == "__main__":
  main()
