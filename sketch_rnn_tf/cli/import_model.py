"""sketch-rnn-import: models from elsewhere in, and .gen.json decoders out.

  sketch-rnn-import --gen_json=bird.gen.json --out=runs/bird       (a path or an http(s) URL)
  sketch-rnn-import --tf1_checkpoint=DIR --data=aaron_sheep.npz --out=runs/sheep
                    [--scale_factor=F instead of --data] [--step=N]
  sketch-rnn-import --model_dir=runs/mine --write_gen_json=mine.gen.json [--name=mine]

Importing writes a model directory (hparams.json, model_info.json, best/)
that every tool loads like a trained run: from a published @magenta/sketch
decoder (gen_json.py) or from a run directory of the original TF1 code
(model_config.json and its checkpoints: tf1_checkpoint.py). Exporting writes
an unconditional LSTM-decoder model in the format @magenta/sketch reads.
"""
from __future__ import annotations


from absl import app, flags

from sketch_rnn_tf import defaults
from sketch_rnn_tf.cli import common

FLAGS = flags.FLAGS
flags.DEFINE_string("gen_json", None, "Import: a .gen.json file path or http(s) URL.")
flags.DEFINE_string("tf1_checkpoint", None, "Import: a run directory of the original TF1 "
                    "Sketch-RNN code (model_config.json, checkpoint, vector-N.*).")
flags.DEFINE_integer("step", None, "TF1 import: the checkpoint vector-STEP (default: the latest "
                     "in the 'checkpoint' state file).")
flags.DEFINE_float("scale_factor", None, "TF1 import: the data's normalising factor (a TF1 "
                   "checkpoint does not hold it); or give --data.")
flags.DEFINE_list("data", [], "TF1 import: the .npz file(s) the model was trained on, to "
                  "compute the scale factor as the original code does.")
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
  gen = gen_json.read_gen_json(FLAGS.gen_json)
  print(f"imported {FLAGS.gen_json} into {FLAGS.out} ({path})")
  print("  " + gen_json.describe(gen))


def import_tf1():
  from sketch_rnn_tf.export import tf1_checkpoint
  path, model, record = tf1_checkpoint.import_to_model_dir(
      FLAGS.tf1_checkpoint, FLAGS.out, FLAGS.scale_factor, FLAGS.data, FLAGS.step,
      overwrite=FLAGS.overwrite)
  hp = model.hp
  kind = (f"VAE: {hp.enc_model} {hp.enc_rnn_size} encoder, z {hp.z_size}, "
          if hp.conditional else "decoder only: ")
  print(f"imported {record['tf1_checkpoint']} (trained {record['tf1_step']} steps) into "
        f"{FLAGS.out} ({path})")
  print(f"  {kind}{hp.dec_model} {hp.dec_rnn_size} decoder, {hp.num_mixture} mixtures; "
        f"{record['variables']} variables; scale factor {model.scale_factor:.6g} "
        f"({record['scale_factor']['scale_factor']})")
  for note in record["notes"]:
    print(f"  note: {note}")


def export_model():
  from sketch_rnn_tf.export import gen_json
  from sketch_rnn_tf.utils import run_dir
  model = run_dir.load_model(FLAGS.model_dir, FLAGS.checkpoint)
  gen_json.write_gen_json(model, FLAGS.write_gen_json, name=FLAGS.name)
  print(f"wrote {FLAGS.write_gen_json} from {FLAGS.model_dir}")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  sources = [f for f in ("gen_json", "tf1_checkpoint") if getattr(FLAGS, f) is not None]
  importing = bool(sources) or FLAGS.out is not None
  exporting = FLAGS.model_dir is not None or FLAGS.write_gen_json is not None
  if importing == exporting or len(sources) > 1:
    raise app.UsageError("give one of --gen_json=FILE_OR_URL --out=DIR (import), "
                         "--tf1_checkpoint=DIR --out=DIR (import), or "
                         "--model_dir=DIR --write_gen_json=FILE (export)")
  if importing and not (sources and FLAGS.out):
    raise app.UsageError("import needs --out and one of --gen_json or --tf1_checkpoint")
  if exporting and not (FLAGS.model_dir and FLAGS.write_gen_json):
    raise app.UsageError("export needs both --model_dir and --write_gen_json")
  tf1_only = [f for f in ("step", "scale_factor") if getattr(FLAGS, f) is not None]
  if (tf1_only or FLAGS.data) and FLAGS.tf1_checkpoint is None:
    raise app.UsageError(f"--{(tf1_only or ['data'])[0]} applies only with --tf1_checkpoint")
  # GenJsonError and TF1CheckpointError (InputErrors) and OSError name the file and what
  # is wrong with it: one line, exit 2 (cli/common.py).
  if FLAGS.tf1_checkpoint is not None:
    import_tf1()
  elif importing:
    import_model()
  else:
    export_model()


def run():
  common.run(main, __name__, "sketch-rnn-import")


if __name__ == "__main__":
  run()
