"""Writes TF Serving REST request bodies that fit an exported SavedModel.

  python export/serving/make_requests.py --saved_model=DIR --out=DIR \
      [--sketches=data.npz] [--batch=2] [--max_len=N] [--temperature=0.5] [--seed=0]

reads the model's signatures and sizes from its metadata asset
and writes <signature>.inputs.json and <signature>.instances.json for each, plus
serving_default.json. Strokes come from the `test` split of --sketches (stroke-3 in
the data's pixels), or from a seeded scribble of N_max points. The bodies in
requests/ beside this script fit the tiny preset only; these fit the model given.
"""
import argparse
import json
import sys

from sketch_rnn_tf.data import npz_io
from sketch_rnn_tf.export import request_bodies, signatures


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--saved_model", required=True, help="an export's version directory")
  parser.add_argument("--out", required=True)
  parser.add_argument("--sketches", help="a sketch .npz; its test split fills `strokes`")
  parser.add_argument("--batch", type=int, default=2)
  parser.add_argument("--max_len", type=int, default=None, help="default: the model's N_max")
  parser.add_argument("--temperature", type=float, default=0.5)
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args(argv)
  if args.batch < 1:
    parser.error("--batch must be at least 1")
  sketches = npz_io.load_npz(args.sketches, ("test",))["test"] if args.sketches else None
  bodies = request_bodies.make(signatures.read_metadata(args.saved_model), sketches,
                               args.batch, args.seed, args.temperature, args.max_len)
  print(json.dumps({"written": request_bodies.write(bodies, args.out)}))


if __name__ == "__main__":
  sys.exit(main())
