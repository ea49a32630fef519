"""sketch-rnn-import: pretrained @magenta/sketch decoders (.gen.json) in and out.

  sketch-rnn-import --gen_json=bird.gen.json --out=runs/bird       (a path or an http(s) URL)
  sketch-rnn-import --model_dir=runs/mine --write_gen_json=mine.gen.json [--name=mine]

Importing writes a model directory (hparams.json, model_info.json, best/)
that every tool loads like a trained run; exporting writes an unconditional
LSTM-decoder model in the format @magenta/sketch reads (see gen_json.py).
"""
from __future__ import annotations


from absl import app, flags

from sketch_rnn_tf import defaults
from sketch_rnn_tf.cli import common

FLAGS = flags.FLAGS
flags.DEFINE_string("gen_json", None, "Import: a .gen.json file path or http(s) URL.")
flags.DEFINE_string("out", None, "Import: the model directory to write.")
flags.DEFINE_bool("overwrite", False, "Import: replace a model already in --out.")
flags.DEFINE_string("model_dir", None, "Export: the model directory to read.")
flags.DEFINE_enum("checkpoint", "best", defaults.CHECKPOINTS, "Export: which checkpoint.")
flags.DEFINE_string("write_gen_json", None, "Export: the .gen.json file to write.")
flags.DEFINE_string("name", None, "Export: the model name in the file "
                    "(default: the file name without extensions).")


def import_model():
  from sketch_rnn_tf.export import gen_json
  path = gen_json.import_to_model_dir(FLAGS.gen_json, FLAGS.out, overwrite=FLAGS.overwrite)
  print(f"imported {FLAGS.gen_json} into {FLAGS.out} ({path})")


def export_model():
  from sketch_rnn_tf.export import gen_json
  from sketch_rnn_tf.utils import run_dir
  model = run_dir.load_model(FLAGS.model_dir, FLAGS.checkpoint)
  gen_json.write_gen_json(model, FLAGS.write_gen_json, name=FLAGS.name)
  print(f"wrote {FLAGS.write_gen_json} from {FLAGS.model_dir}")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  importing = FLAGS.gen_json is not None or FLAGS.out is not None
  exporting = FLAGS.model_dir is not None or FLAGS.write_gen_json is not None
  if importing == exporting:
    raise app.UsageError("give either --gen_json=FILE_OR_URL --out=DIR (import) or "
                         "--model_dir=DIR --write_gen_json=FILE (export)")
  if importing and not (FLAGS.gen_json and FLAGS.out):
    raise app.UsageError("import needs both --gen_json and --out")
  if exporting and not (FLAGS.model_dir and FLAGS.write_gen_json):
    raise app.UsageError("export needs both --model_dir and --write_gen_json")
  # GenJsonError (an InputError) and OSError name the file and what is wrong with it:
  # one line, exit 2 (cli/common.py).
  if importing:
    import_model()
  else:
    export_model()


def run():
  common.run(main, __name__, "sketch-rnn-import")


if __name__ == "__main__":
  run()
