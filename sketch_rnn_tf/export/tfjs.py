"""TF.js artifacts of a SketchRNN: the official converter, one graph per signature.

  <tfjs_dir>/manifest.json            what the page and the Node test read (below)
  <tfjs_dir>/<signature>/model.json   + weight shards, from
      tensorflowjs_converter --input_format=tf_saved_model --control_flow_v2=true
                             --signature_name=<signature>

The graphs are `tfjs_graphs.TfjsGraphs`'s: decode_step, initial_state
(conditional models) and sample (the whole loop; noise [T, B, 4] is an input
because the converter has no stateless random ops). Converted graphs return
their outputs as Identity:0, Identity_1:0, ... in the sorted order of the
output names (the structured names of model.json do not line up), so the
manifest maps each name to its node:

  {"format": "sketch-rnn-tfjs", "export_format": 1, "scale_factor": ..., "hparams": {...},
   "class_names": [...], "conditional": ..., "z_size": ..., "num_mixture": ...,
   "state_sizes": [...], "graphs": {"decode_step": {"path": "decode_step/model.json",
   "execute": "execute" | "executeAsync", "inputs": {"prev": {"node": "prev:0",
   "dtype": "float32", "shape": [-1, 5]}, ...}, "outputs": {"mu_x": {"node": "Identity_2:0",
   ...}, ...}}, ...}}

A graph with a loop must run with executeAsync (control flow v2). TF.js 4.22 runs
the converted loop of plain and layer-norm LSTM decoders but not of a HyperLSTM (a
tensor is freed early inside the loop); decode_step runs for all three, and the page
drives it step by step (faster too: see benchmarks/browser_sample_speed.py).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

from sketch_rnn_tf.export import signatures as export
from sketch_rnn_tf.export import tfjs_graphs
from sketch_rnn_tf.utils import run_dir

MANIFEST = "manifest.json"
FORMAT = "sketch-rnn-tfjs"


def converter_path():
  """tensorflowjs_converter beside this Python (the venv's), else on PATH."""
  local = os.path.join(os.path.dirname(sys.executable), "tensorflowjs_converter")
  if os.path.exists(local):
    return local
  found = shutil.which("tensorflowjs_converter")
  if not found:
    raise FileNotFoundError("tensorflowjs_converter not found: pip install -e '.[tfjs]'")
  return found


def convert_signature(saved_model_dir, signature, out_dir, timeout=600):
  """Runs the converter on one signature of a SavedModel into out_dir."""
  cmd = [converter_path(), "--input_format=tf_saved_model", "--output_format=tfjs_graph_model",
         "--control_flow_v2=true", f"--signature_name={signature}",
         "--saved_model_tags=serve", saved_model_dir, out_dir]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
  if r.returncode != 0:
    raise RuntimeError(f"tensorflowjs_converter failed on {signature}:\n{r.stderr[-3000:]}")


def _output_nodes(names):
  """The converter's output node of each name: sorted order, Identity, Identity_1, ..."""
  return {name: "Identity:0" if k == 0 else f"Identity_{k}:0"
          for k, name in enumerate(sorted(names))}


def _has_control_flow(model_json):
  ops = {node["op"] for node in model_json["modelTopology"].get("node", [])}
  library = model_json["modelTopology"].get("library", {})
  return bool(library.get("function")) or bool(ops & {"While", "StatelessWhile", "If",
                                                      "StatelessIf", "Enter"})


def graph_entry(signature, description, model_json):
  """The manifest's entry of one converted graph."""
  inputs_json = model_json.get("signature", {}).get("inputs", {})
  inputs = {}
  for name, (dtype, shape) in description["inputs"].items():
    node = inputs_json.get(name, {}).get("name", f"{name}:0")
    inputs[name] = {"node": node, "dtype": dtype, "shape": shape}
  nodes = _output_nodes(description["outputs"])
  outputs = {name: {"node": nodes[name], "dtype": dtype, "shape": shape}
             for name, (dtype, shape) in description["outputs"].items()}
  return {"path": f"{signature}/model.json", "inputs": inputs, "outputs": outputs,
          "execute": "executeAsync" if _has_control_flow(model_json) else "execute"}


def convert(model, tfjs_dir, version=None):
  """Exports the TF.js graphs of a model and converts them into tfjs_dir.

  Returns the manifest dict (also written to tfjs_dir/manifest.json).
  """
  os.makedirs(tfjs_dir, exist_ok=True)
  with tempfile.TemporaryDirectory() as tmp:
    saved = os.path.join(tmp, "saved_model")
    info = export.save(tfjs_graphs.TfjsGraphs(model), saved, version)
    graphs = {}
    for signature, description in sorted(info["signatures"].items()):
      out = os.path.join(tfjs_dir, signature)
      shutil.rmtree(out, ignore_errors=True)
      convert_signature(saved, signature, out)
      with open(os.path.join(out, "model.json"), encoding="utf-8") as f:
        graphs[signature] = graph_entry(signature, description, json.load(f))
  manifest = {k: v for k, v in info.items() if k != "signatures"}
  manifest.update(format=FORMAT, graphs=graphs,
                  noise="sample's noise [T, B, 4]: u_mixture, u_pen ~ U[0,1), e1, e2 ~ N(0,1)")
  run_dir.write_json(os.path.join(tfjs_dir, MANIFEST), manifest)
  return manifest
