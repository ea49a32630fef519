"""Answers TF Serving REST predict bodies from a SavedModel, without a server.

  python export/serving/local_predict.py --saved_model=DIR request.json [...]

prints, per request file, one JSON line: what TF Serving's
POST /v1/models/<name>:predict answers for that body:
  {"instances": [{...}, ...]}  (row form)      -> {"predictions": [{...}, ...]}
  {"inputs": {name: value}}    (columnar form) -> {"outputs": {name: value}}
  a bad request                                -> {"error": "..."}
"signature_name" picks the signature (default serving_default). Like the server, it
stacks the instances along a new first dimension, converts values to the signature's
dtypes (refusing non-integers for integer inputs) and reports errors instead of dying.
The tests feed the example bodies in requests/ through this in a fresh process.
"""
import argparse
import json
import os
import re
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def to_tensor(name, value, spec):
  """A JSON value -> tensor of the spec's dtype (a clear ValueError otherwise)."""
  try:
    array = np.asarray(value)
  except ValueError:
    array = np.asarray(None)
  if array.dtype == object:
    raise ValueError(f"input '{name}' is ragged or not numeric")
  if spec.dtype.is_integer:
    if array.dtype.kind == "f" and not np.all(np.isfinite(array) & (array == np.round(array))):
      raise ValueError(f"input '{name}' must hold integers ({spec.dtype.name})")
    if array.dtype.kind not in "iuf":
      raise ValueError(f"input '{name}' must hold integers ({spec.dtype.name})")
  elif array.dtype.kind not in "iuf":
    raise ValueError(f"input '{name}' must hold numbers ({spec.dtype.name})")
  if not spec.shape.is_compatible_with(array.shape):
    raise ValueError(f"input '{name}' has shape {list(array.shape)}, the signature wants "
                     f"{[-1 if d is None else d for d in spec.shape.as_list()]}")
  return tf.constant(array.astype(spec.dtype.as_numpy_dtype))


def decoded(array):
  """Strings as str (TF Serving answers them as JSON strings)."""
  if array.dtype == object:
    return np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(array)
  return array


def columns(body, names):
  """(inputs dict of JSON values, row form?) of a request body; a signature with one
  input also takes bare values ({"instances": [0]}), as TF Serving does."""
  if "instances" in body:
    rows = body["instances"]
    if isinstance(rows, list) and rows and len(names) == 1 and not any(
        isinstance(r, dict) for r in rows):
      return {names[0]: rows}, True
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
      raise ValueError("'instances' must be a non-empty list of objects")
    keys = set(rows[0])
    if any(set(r) != keys for r in rows):
      raise ValueError("every instance must have the same inputs")
    return {k: [r[k] for r in rows] for k in keys}, True
  if "inputs" in body:
    inputs = body["inputs"]
    if not isinstance(inputs, dict) and len(names) == 1:
      return {names[0]: inputs}, False
    return inputs, False
  raise ValueError("the body needs 'instances' or 'inputs'")


def predict(loaded, body):
  name = body.get("signature_name", "serving_default")
  if name not in loaded.signatures:
    raise ValueError(f"no signature '{name}'; known: {sorted(loaded.signatures)}")
  fn = loaded.signatures[name]
  specs = fn.structured_input_signature[1]
  values, rows = columns(body, sorted(specs))
  if set(values) != set(specs):
    raise ValueError(f"signature '{name}' takes inputs {sorted(specs)}, got {sorted(values)}")
  out = fn(**{k: to_tensor(k, v, specs[k]) for k, v in values.items()})
  out = {k: decoded(v.numpy()) for k, v in out.items()}
  if not rows:
    return {"outputs": {k: v.tolist() for k, v in out.items()}}
  batch = len(next(iter(values.values())))
  return {"predictions": [{k: np.asarray(v[i]).tolist() for k, v in out.items()}
                          for i in range(batch)]}


def answer(loaded, path):
  try:
    with open(path, encoding="utf-8") as f:
      body = json.load(f)
    return predict(loaded, body)
  except (ValueError, TypeError, tf.errors.OpError) as e:
    message = clean(e.message) if isinstance(e, tf.errors.OpError) else str(e)
    return {"error": message or type(e).__name__, "error_type": type(e).__name__}


def clean(message):
  """The informative lines of a graph error (the assert's text, not node traces)."""
  boilerplate = ("Graph execution error", "Detected at node", "<stack traces", "[[")
  lines = [l.strip() for l in message.splitlines()]
  lines = [re.sub(r"\s*\[\[\{\{.*$|\s*\[Op:.*$", "", l) for l in lines
           if l and not l.startswith(boilerplate)]
  return " ".join(l for l in lines if l)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--saved_model", required=True)
  parser.add_argument("requests", nargs="+")
  args = parser.parse_args(argv)
  loaded = tf.saved_model.load(args.saved_model)
  for path in args.requests:
    print(json.dumps(answer(loaded, path)), flush=True)


if __name__ == "__main__":
  sys.exit(main())
