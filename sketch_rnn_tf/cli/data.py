"""sketch-rnn-data: look at, check, convert and draw sketch files.

  sketch-rnn-data info FILE.npz...        counts, lengths, scale factor, problems
  sketch-rnn-data info --tfds=quickdraw_sketch_rnn/cat   (the same, through TFDS)
  sketch-rnn-data validate FILE.npz...    exit 1 and list bad records if any
  sketch-rnn-data render FILE.npz --out=grid.svg [--num=16 --split=train]
  sketch-rnn-data convert A.ndjson[.gz]... --out=FILE.npz   (raw or simplified)
"""
from __future__ import annotations

import sys

from absl import app, flags

from sketch_rnn_tf import defaults
from sketch_rnn_tf.cli import common

FLAGS = flags.FLAGS
flags.DEFINE_list("tfds", [], "info, render: TFDS dataset names to load instead of files, "
                  "e.g. quickdraw_sketch_rnn/cat (downloaded and prepared if needed).")
flags.DEFINE_string("data_dir", None, "TFDS data directory (default: ~/tensorflow_datasets).")
flags.DEFINE_string("manual_dir", None, "TFDS manual directory holding <category>.npz files "
                    "to build from instead of downloading.")
flags.DEFINE_integer("max_len", defaults.MAX_SEQ_LEN, "Drop sketches with more points (info, render); "
                     "clip converted sketches to this many points (convert).")
flags.DEFINE_integer("clamp", defaults.OFFSET_CLAMP, "Clamp offsets to +-clamp after loading (as the reference).")
flags.DEFINE_string("out", None, "Output file (render: .svg; convert: .npz).")
flags.DEFINE_integer("num", 16, "render: how many sketches.")
flags.DEFINE_integer("cols", None, "render: grid columns (default: square grid).")
flags.DEFINE_string("split", "train", "render: which split (train, valid, test).")
flags.DEFINE_integer("seed", 0, "render: pick sketches at random with this seed "
                     "(-1: the first ones); convert: split assignment seed.")
flags.DEFINE_bool("color_strokes", False, "render: one colour per stroke.")
flags.DEFINE_float("epsilon", 2.0, "convert: RDP epsilon in pixels (0 disables).")
flags.DEFINE_enum("long", "truncate", ["truncate", "drop"],
                  "convert: what to do with drawings longer than --max_len.")
flags.DEFINE_float("valid_fraction", 0.025, "convert: share of drawings for 'valid'.")
flags.DEFINE_float("test_fraction", 0.025, "convert: share of drawings for 'test'.")
flags.DEFINE_bool("recognized_only", False, "convert: keep only drawings the game recognised.")

COMMANDS = ("info", "validate", "render", "convert")


def _load(source, on_error="drop"):
  """Loads one .npz path, or one TFDS name when --tfds is given."""
  from sketch_rnn_tf.data import datasets
  if FLAGS.tfds:
    return datasets.load_tfds([source], data_dir=FLAGS.data_dir, manual_dir=FLAGS.manual_dir,
                              max_len=FLAGS.max_len, clamp=FLAGS.clamp, on_error=on_error)
  return datasets.load_npz_files([source], max_len=FLAGS.max_len, clamp=FLAGS.clamp,
                                 on_error=on_error)


def info(paths):
  for path in paths:
    data = _load(path)
    print(f"{path}")
    for split, part in data.splits.items():
      lengths = part.lengths
      stats = (f"length min {lengths.min()} / mean {lengths.mean():.1f} / max {lengths.max()}"
               if len(part) else "empty")
      print(f"  {split:<5} {len(part):>8} sketches  {stats}  "
            f"(dropped: {data.report.too_long[split]} longer than {FLAGS.max_len}, "
            f"{sum(p.split == split for p in data.report.invalid)} invalid)")
    print(f"  scale factor (std of train dx, dy): {data.scale_factor:.6f}")
    for problem in data.report.invalid[:20]:
      print(f"  problem: {problem}")
    if len(data.report.invalid) > 20:
      print(f"  ... {len(data.report.invalid) - 20} more problems (see validate)")
  return 0


def validate(paths):
  from sketch_rnn_tf.data import npz_io, validation
  bad = 0
  for path in paths:
    try:
      data = npz_io.load_npz(path)
    except ValueError as e:
      print(f"{path}: {e}")
      bad += 1
      continue
    for split, sketches in data.items():
      _, problems = validation.validate_split(sketches, path, split, on_error="drop")
      for problem in problems:
        print(problem)
      bad += len(problems)
  print(f"{bad} problem(s) in {len(paths)} file(s)")
  return 1 if bad else 0


def render(paths):
  import numpy as np
  from sketch_rnn_tf.utils import render as render_lib
  if not FLAGS.out:
    raise app.UsageError("render needs --out=FILE.svg")
  sketches, labels = [], []
  for path in paths:
    data = _load(path)
    part = data[FLAGS.split]
    count = min(FLAGS.num, len(part))
    if FLAGS.seed >= 0:
      chosen = np.random.default_rng(FLAGS.seed).choice(len(part), count, replace=False)
    else:
      chosen = np.arange(count)
    sketches += [part.sketches[i] for i in chosen]
    prefix = f"{data.class_names[0]} " if len(paths) > 1 else ""
    labels += [f"{prefix}{FLAGS.split}[{i}]" for i in chosen]
  render_lib.write_text(FLAGS.out, render_lib.svg_grid(
      sketches, labels, cols=FLAGS.cols, color_strokes=FLAGS.color_strokes))
  print(f"wrote {len(sketches)} sketches to {FLAGS.out}")
  return 0


def convert(paths):
  from sketch_rnn_tf.data import ndjson
  if not FLAGS.out:
    raise app.UsageError("convert needs --out=FILE.npz")
  counts = ndjson.convert_ndjson(
      paths, FLAGS.out, valid_fraction=FLAGS.valid_fraction,
      test_fraction=FLAGS.test_fraction, seed=FLAGS.seed,
      recognized_only=FLAGS.recognized_only, epsilon=FLAGS.epsilon,
      max_len=FLAGS.max_len, long=FLAGS.long)
  print(f"wrote {FLAGS.out}: {counts}")
  return 0


def main(argv):
  if len(argv) < 2 or argv[1] not in COMMANDS:
    raise app.UsageError(f"usage: sketch-rnn-data {{{','.join(COMMANDS)}}} FILE... [flags]")
  command, paths = argv[1], argv[2:]
  if FLAGS.tfds:
    if command not in ("info", "render") or paths:
      raise app.UsageError("--tfds works with info and render, instead of files")
    paths = FLAGS.tfds
  if not paths:
    raise app.UsageError(f"{command}: no input files given")
  if FLAGS.tfds:
    common.import_tensorflow_quietly()
  try:
    status = globals()[command](paths)
  except (ValueError, OSError) as e:
    # Data errors name the file and record already; a traceback adds nothing.
    print(f"sketch-rnn-data {command}: error: {e}", file=sys.stderr)
    status = 2
  sys.exit(status)


def run():
  common.run(main, __name__, "sketch-rnn-data", needs_tensorflow=False)


if __name__ == "__main__":
  run()
