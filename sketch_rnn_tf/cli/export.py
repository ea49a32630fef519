"""sketch-rnn-export: a trained run -> SavedModel for TF Serving (and TF.js graphs).

  sketch-rnn-export --model_dir=runs/sheep --out=export_out [--model_name=sketch_rnn]
                    [--version=N] [--tfjs]

writes
  <out>/<model_name>/<version>/              SavedModel (signatures: sketch_rnn_tf/export/signatures.py)
  <out>/tfjs/<model_name>/<version>/         with --tfjs: manifest.json + one converted
                                             graph per directory (sketch_rnn_tf/export/tfjs.py)
and prints one JSON line with the paths. --version defaults to the next free number.
"""
from __future__ import annotations

import json
import os

from absl import app, flags

from sketch_rnn_tf import defaults
from sketch_rnn_tf.cli import common

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "Training run directory (hparams.json, checkpoints).")
flags.DEFINE_string("out", None, "Export base directory.")
flags.DEFINE_string("model_name", "sketch_rnn", "Model name: the directory TF Serving serves.")
flags.DEFINE_integer("version", None, "Version number (default: the next free one).")
flags.DEFINE_enum("checkpoint", "best", defaults.CHECKPOINTS, "Which checkpoint of the run.")
flags.DEFINE_integer("max_len_limit", defaults.EXPORT_MAX_LEN_LIMIT, "The most points one sample request may ask for.")
flags.DEFINE_bool("tfjs", False, "Also convert decode_step/sample graphs for TF.js.")
flags.mark_flags_as_required(["model_dir", "out"])


def main(argv):
  del argv
  from sketch_rnn_tf.export import signatures as export
  from sketch_rnn_tf.utils import run_dir
  model = run_dir.load_model(FLAGS.model_dir, which=FLAGS.checkpoint)
  # An existing version is a FileExistsError: one line, exit 2 (cli/common.py).
  path, info = export.export_saved_model(model, FLAGS.out, FLAGS.model_name, FLAGS.version,
                                         FLAGS.max_len_limit)
  result = {"saved_model": path, "version": info["model_version"],
            "signatures": sorted(info["signatures"])}
  if FLAGS.tfjs:
    from sketch_rnn_tf.export import tfjs as tfjs_convert
    tfjs_dir = os.path.join(FLAGS.out, "tfjs", FLAGS.model_name, str(info["model_version"]))
    manifest = tfjs_convert.convert(model, tfjs_dir, info["model_version"])
    result["tfjs"] = tfjs_dir
    result["tfjs_graphs"] = sorted(manifest["graphs"])
  print(json.dumps(result))


def run():
  common.run(main, __name__, "sketch-rnn-export")


if __name__ == "__main__":
  run()
