"""sketch-rnn-sample: draw with a trained model into an SVG or PNG grid.

  sketch-rnn-sample --model_dir=DIR --mode=generate --num=16 --temperature=0.5 --out=s.svg
  sketch-rnn-sample --model_dir=DIR --mode=reconstruct --input=sheep.npz:test:0,1,2 \
      --temperature=0.1,0.5,1.0 --out=recon.png
  sketch-rnn-sample --model_dir=DIR --mode=interpolate --input=sheep.npz:test:0,5 --num=8 \
      --interpolation=slerp --out=strip.svg
  sketch-rnn-sample --model_dir=DIR --mode=analogy --input=a.npz:test:1 --input=b.svg \
      --input=c.ndjson:3 --out=analogy.svg
  sketch-rnn-sample --model_dir=DIR --mode=complete --input=sheep.npz:test:4 \
      --keep_strokes=2 --num=6 --out=endings.png

Modes: see sketch_rnn_tf/sampling/applications.py; inputs: sketch_rnn_tf/data/sketch_input.py
(.npz[:split[:i,j]], .ndjson[:line], .svg, .json). --temperature takes a list:
one row of drawings per temperature. --num is the number of drawings per row
(interpolate: the number of codes from a to b). The same --seed draws the same
sketches.
"""
from __future__ import annotations

from absl import app, flags

from sketch_rnn_tf import defaults
from sketch_rnn_tf.cli import common

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "A training run directory or an imported model.")
flags.DEFINE_enum("checkpoint", "best", defaults.CHECKPOINTS, "Which checkpoint.")
flags.DEFINE_enum("mode", "generate", defaults.DRAW_MODES, "What to draw.")
flags.DEFINE_integer("num", None, "Drawings per row (default: 8; interpolate: 8 codes; "
                     "reconstruct: 1 per input).")
flags.DEFINE_list("temperature", ["0.5"], "Temperature(s) in (0, 1]: one row each.")
flags.DEFINE_bool("greedy", False, "Most likely mixture, its mean and pen state (no noise).")
flags.DEFINE_multi_string("input", [], "Input sketch spec (repeatable): "
                          "FILE.npz[:SPLIT[:I,J]], FILE.ndjson[:LINE,...], FILE.svg, "
                          "FILE.json (a stroke-3 list).")
flags.DEFINE_integer("keep_strokes", 0, "complete: keep only the first K strokes of each "
                     "input (0: the whole input is the beginning).")
flags.DEFINE_enum("interpolation", "slerp", defaults.INTERPOLATION_METHODS, "interpolate: how.")
flags.DEFINE_string("class_name", None, "Class-conditional models: draw this class "
                    "(name or id; default: every class in turn).")
flags.DEFINE_integer("max_len", None, "Most points per sketch (default: the model's).")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_string("out", None, "Output .svg or .png.")
flags.DEFINE_float("cell", 128.0, "Size of one sketch in the grid (pixels).")
flags.DEFINE_bool("color_strokes", False, "One colour per stroke.")
flags.DEFINE_bool("labels", True, "Label each drawing.")
flags.DEFINE_bool("jit_compile", None, "Compile the sampling loop with XLA (--nojit_compile: "
                  "graph mode); unset: chosen for the machine, printed.")
flags.DEFINE_enum("precision", defaults.AUTO, (defaults.AUTO,) + defaults.PRECISIONS,
                  "The decoder step's matmuls: bfloat16 weights (half the bytes each step "
                  "reads) or float32; auto: chosen for the machine, printed.")


def _temperatures():
  try:
    taus = [float(t) for t in FLAGS.temperature]
  except ValueError:
    raise app.UsageError(f"--temperature must be numbers, got {FLAGS.temperature}") from None
  if not FLAGS.greedy and not all(0.0 < t <= 1.0 for t in taus):
    raise app.UsageError(f"--temperature values must be in (0, 1], got {taus}")
  return taus


def _class_id(model):
  if FLAGS.class_name is None:
    return None
  if not model.hp.num_classes:
    raise app.UsageError("--class_name: this model is not class-conditional")
  names = list(model.class_names)
  if FLAGS.class_name in names:
    return names.index(FLAGS.class_name)
  if FLAGS.class_name.isdigit() and int(FLAGS.class_name) < model.hp.num_classes:
    return int(FLAGS.class_name)
  raise app.UsageError(f"--class_name: {FLAGS.class_name!r} is not one of {names}")


def draw(sampler, mode, inputs, taus, num, class_id):
  """The Grid for a mode, with the options from the flags (the library calls are in
  sketch_rnn_tf/sampling/applications.py)."""
  from sketch_rnn_tf.sampling import applications as apps
  common = dict(seed=FLAGS.seed, class_id=class_id, max_len=FLAGS.max_len)
  if mode == "generate":
    return apps.generate(sampler, num or 8, taus, greedy=FLAGS.greedy, **common)
  if not inputs:
    raise app.UsageError(f"--mode={mode} needs --input")
  if mode == "reconstruct":
    return apps.reconstruct(sampler, inputs, taus, num or 1, greedy=FLAGS.greedy, **common)
  if mode == "interpolate":
    return apps.interpolate(sampler, inputs, taus, num or 8, FLAGS.interpolation,
                            greedy=FLAGS.greedy, **common)
  if mode == "analogy":
    return apps.analogy(sampler, inputs, taus, num or 4, greedy=FLAGS.greedy, **common)
  return apps.complete(sampler, inputs, taus, num or 4, **common)


def main(argv):
  del argv
  if not FLAGS.model_dir or not FLAGS.out:
    raise app.UsageError("--model_dir and --out are required")
  if not FLAGS.out.lower().endswith((".svg", ".png")):
    raise app.UsageError(f"--out must end in .svg or .png, got {FLAGS.out}")
  taus = _temperatures()
  from sketch_rnn_tf.data import sketch_input
  from sketch_rnn_tf.sampling import applications
  from sketch_rnn_tf.sampling.sampler import Sampler
  from sketch_rnn_tf.utils import compute_path, run_dir
  try:
    inputs = sketch_input.read_all(FLAGS.input)
  except sketch_input.SketchInputError as e:
    raise app.UsageError(str(e)) from None
  if FLAGS.keep_strokes:
    inputs = [(n, sketch_input.keep_strokes(s, FLAGS.keep_strokes)) for n, s in inputs]
  path = compute_path.choose(compute_path.detect(),
                             compute_path.AUTO if FLAGS.jit_compile is None else FLAGS.jit_compile,
                             FLAGS.precision, what="drawing")
  path = path.apply_threads()   # before loading the model starts TensorFlow's runtime
  print(path.line("drawing"), flush=True)
  model = run_dir.load_model(FLAGS.model_dir, FLAGS.checkpoint)
  model.set_precision(path.precision)
  sampler = Sampler(model, jit_compile=path.jit_compile, fused=path.fused)
  try:
    grid = draw(sampler, FLAGS.mode, inputs, taus, FLAGS.num, _class_id(model))
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  applications.write_grid(FLAGS.out, grid, FLAGS.cell, FLAGS.color_strokes, FLAGS.labels)
  print(f"wrote {len(grid.sketches)} sketches ({FLAGS.mode}) to {FLAGS.out}")


def size_thread_pools():
  """Before TensorFlow starts: the pools of the drawing path (graph mode: see compute_path)."""
  from sketch_rnn_tf.utils import compute_path
  compute_path.choose(compute_path.detect(),
                      compute_path.AUTO if FLAGS.jit_compile is None else FLAGS.jit_compile,
                      FLAGS.precision, what="drawing").apply_threads()


def run():
  common.run(main, __name__, "sketch-rnn-sample", before_tensorflow_starts=size_thread_pools)


if __name__ == "__main__":
  run()
