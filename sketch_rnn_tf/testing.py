"""Helpers for the tests: float64 numpy references, small models, the shared data.

Nothing in the library imports this module. The numpy references are written
from the equations (lstm_math's docstring, the paper) with no TensorFlow, so
that a test comparing a TensorFlow path with them compares two independent
computations.
"""
from __future__ import annotations

import base64
import functools
import http.server
import math
import os
import threading

import numpy as np

from sketch_rnn_tf.defaults import MAX_SEQ_LEN

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared")
SHEEP = os.path.join(SHARED, "data", "aaron_sheep.npz")
PRETRAINED = os.path.join(SHARED, "pretrained")
REFERENCE_CHECKPOINTS = os.path.join(SHARED, "reference_checkpoints")
FIXTURES = os.path.join(REPO, "tests", "fixtures")
GEN_JSON_STEPS = 70        # teacher-forced steps of the .gen.json reference comparisons
GEN_JSON_TOLERANCE = 1e-4  # on every MDN parameter, ours (float32) against float64


def require(ok, message):
  """Skips the test with `message` unless `ok`; under CI, fails instead: CI has
  ../shared and installs every tool, so a skip there would hide a gap."""
  import pytest
  if not ok:
    if os.environ.get("CI"):
      pytest.fail(message)
    pytest.skip(message)


def require_file(path, what="real data"):
  require(os.path.exists(path), f"{what} not found: {path} (../shared is absent)")
  return path


# ---- the cell equations in float64 numpy ----------------------------------------

def sigmoid(v):
  return 1 / (1 + np.exp(-v))


def np_layer_norm(v, gamma, beta, eps=1e-3):
  """Layer norm over the last axis."""
  mu = v.mean(-1, keepdims=True)
  var = ((v - mu) ** 2).mean(-1, keepdims=True)
  return gamma * (v - mu) / np.sqrt(var + eps) + beta


def np_ln_gates(a, gamma, beta):
  """Layer norm of each of the 4 gates' pre-activations on its own."""
  gates = np.split(a, 4, axis=1)
  return np.concatenate([np_layer_norm(g, gm, bt) for g, gm, bt in
                         zip(gates, np.split(gamma, 4), np.split(beta, 4))], axis=1)


def np_lstm_update(w, a, c, mask, keep, layer_norm, forget_bias=1.0):
  """h', c' from final pre-activations a (after LN / bias)."""
  i, j, f, o = np.split(a, 4, axis=1)
  g = np.tanh(j)
  if mask is not None:
    g = g * mask / keep
  new_c = c * sigmoid(f + forget_bias) + sigmoid(i) * g
  c_out = np_layer_norm(new_c, w["ln_c_gamma"], w["ln_c_beta"]) if layer_norm else new_c
  return np.tanh(c_out) * sigmoid(o), new_c


def cell_weights(cell):
  """{name: float64 array} of a built SketchLSTMCell (its hyper cell's under "hyper")."""
  w = {v.path.split("/")[-1]: v.numpy().astype(np.float64) for v in cell.weights
       if v.path.split("/")[-2] == cell.name}
  if cell.hyper is not None:
    w["hyper"] = cell_weights(cell.hyper)
  return w


def np_cell_step(w, x, state, kind, embedding_size=None, masks=None, keep=1.0):
  """One step of a cell of `kind` (lstm, layer_norm, hyper) on its input x [B, D]."""
  c, h = state[0], state[1]
  if kind != "hyper":
    a = x @ w["w_x"] + h @ w["w_h"]
    a = np_ln_gates(a, w["ln_gamma"], w["ln_beta"]) if kind == "layer_norm" else a + w["bias"]
    new_h, new_c = np_lstm_update(w, a, c, masks, keep, kind == "layer_norm")
    return new_h, [new_c, new_h]
  units = h.shape[1]
  e = embedding_size
  wh = w["hyper"]
  hc, hh = state[2], state[3]
  main_mask, hyper_mask = masks if masks is not None else (None, None)
  # The hyper cell: a layer-norm LSTM reading [x, h] with recurrent input [h, hyper_h].
  w_in = np.concatenate([wh["w_x"], wh["w_h"][:units]], 0)
  a_hyper = np_ln_gates(np.concatenate([x, h], 1) @ w_in + hh @ wh["w_h"][units:],
                        wh["ln_gamma"], wh["ln_beta"])
  hyper_h, hyper_c = np_lstm_update(wh, a_hyper, hc, hyper_mask, keep, True)
  # Per-gate scales and bias from the hyper output, one gate at a time.
  xw, hw = x @ w["w_x"], h @ w["w_h"]
  pre = []
  for g in range(4):
    sl = slice(g * units, (g + 1) * units)
    z_x = hyper_h @ w["w_zxh"][:, g * e:(g + 1) * e] + w["b_zxh"][g * e:(g + 1) * e]
    z_h = hyper_h @ w["w_zxh"][:, (4 + g) * e:(5 + g) * e] + w["b_zxh"][(4 + g) * e:(5 + g) * e]
    z_b = hyper_h @ w["w_zb"][:, g * e:(g + 1) * e]
    alpha_x, alpha_h = z_x @ w["w_alpha"][g], z_h @ w["w_alpha"][4 + g]
    beta = z_b @ w["w_beta"][g]
    pre.append(alpha_x * xw[:, sl] + alpha_h * hw[:, sl] + w["bias"][sl] + beta)
  a = np_ln_gates(np.concatenate(pre, 1), w["ln_gamma"], w["ln_beta"])
  new_h, new_c = np_lstm_update(w, a, c, main_mask, keep, True)
  return new_h, [new_c, new_h, hyper_c, hyper_h]


def np_unroll(w, x, state, kind, embedding_size=None, lengths=None, masks=None, keep=1.0):
  """The cell over x [B, T, D]; each row's state frozen after its length.

  masks: [T, B, H] (a pair for hyper) or None. Returns (outputs [B, T, H], final state).
  """
  outs = []
  state = [np.asarray(s, np.float64) for s in state]
  for t in range(x.shape[1]):
    m = None
    if masks is not None:
      m = tuple(v[t] for v in masks) if kind == "hyper" else masks[t]
    h, new_state = np_cell_step(w, x[:, t], state, kind, embedding_size, m, keep)
    if lengths is not None:
      alive = (t < np.asarray(lengths))[:, None]
      new_state = [np.where(alive, n, o) for n, o in zip(new_state, state)]
    state = new_state
    outs.append(h)
  return np.stack(outs, 1), state


def randomise(layer, seed=0, std=0.5):
  """Random (not initial) weights, so that every term of the equations matters."""
  rng = np.random.default_rng(seed)
  for v in layer.weights:
    v.assign(rng.normal(0, std, v.shape).astype(np.float32))
  return rng


# ---- small models ---------------------------------------------------------------

def tiny_model(overrides):
  """A built tiny-preset SketchRNN (scale 3) with large random MDN weights."""
  import keras
  from sketch_rnn_tf.model import hparams
  from sketch_rnn_tf.model.sketch_rnn import SketchRNN
  keras.utils.set_random_seed(0)
  m = SketchRNN(hparams.get("tiny", overrides).with_data_max_len(MAX_SEQ_LEN), scale_factor=3.0)
  m.build()
  # Larger random output weights than the initial ones, so every term matters.
  rng = np.random.default_rng(0)
  for v in m.decoder.head.weights:
    v.assign(rng.normal(0, 0.3, v.shape).astype(np.float32))
  return m


def model_from_hparams(overrides, preset="tiny", scale_factor=1.0, class_names=(), seed=0):
  """A built SketchRNN with random weights (for tests and benchmarks)."""
  import keras
  from sketch_rnn_tf.model import hparams
  from sketch_rnn_tf.model.sketch_rnn import SketchRNN
  keras.utils.set_random_seed(seed)
  model = SketchRNN(hparams.get(preset, overrides).with_data_max_len(MAX_SEQ_LEN),
                    scale_factor=scale_factor,
                    class_names=class_names)
  model.build()
  return model


def random_noise(steps, batch, seed=0):
  """Noise [T, B, 4] as the TF.js graphs take it (numpy)."""
  rng = np.random.default_rng(seed)
  return np.concatenate([rng.random((steps, batch, 2)), rng.standard_normal((steps, batch, 2))],
                        axis=2).astype(np.float32)


def random_export_model(overrides, preset="tiny"):
  """A model for the export tests and the serving benchmark: scale 7, classes a-c when
  class-conditional, and an MDN that draws long sketches."""
  model = model_from_hparams(
      overrides, preset=preset, scale_factor=7.0,
      class_names=("a", "b", "c")[:3 if "num_classes" in overrides else 0])
  rng = np.random.default_rng(0)
  for v in model.decoder.head.weights:  # larger outputs than the initial ones ...
    v.assign(rng.normal(0, 0.3, v.shape).astype(np.float32))
  bias = model.decoder.head.weights[1].numpy()
  bias[2] -= 3.0  # ... and long sketches, so the comparison covers many steps
  model.decoder.head.weights[1].assign(bias)
  return model


def python_decode_step(model, prev_px, state, z=None, labels=None):
  """The exported decode_step computed by the teacher-forced decoder (another code path)."""
  import tensorflow as tf
  from sketch_rnn_tf.layers import mdn
  scale = model.scale_factor
  prev = np.concatenate([prev_px[:, :2] / scale, prev_px[:, 2:]], axis=1)
  parts = tf.split(tf.constant(state), model.decoder.cell.state_size, axis=1)
  y, new_state = model.decoder(tf.constant(prev[:, None]), None if z is None else tf.constant(z),
                               None if labels is None else tf.constant(labels),
                               initial_state=list(parts))
  p = {k: v.numpy()[:, 0] for k, v in mdn.split_params(y, model.hp.num_mixture).items()}
  return {"pen_logits": p["q_logits"], "pi_logits": p["pi_logits"],
          "mu_x": p["mu_x"] * scale, "mu_y": p["mu_y"] * scale,
          "sigma_x": np.exp(p["log_sx"]) * scale, "sigma_y": np.exp(p["log_sy"]) * scale,
          "rho": p["rho"], "state": np.concatenate([v.numpy() for v in new_state], axis=1)}


# ---- pretrained .gen.json decoders ---------------------------------------------------

def reference_checkpoint(name):
  """../shared/reference_checkpoints/NAME (a TF1 run directory of the original code)."""
  return require_file(os.path.join(REFERENCE_CHECKPOINTS, name, "expected.npz"),
                      "reference TF1 checkpoint") and os.path.join(REFERENCE_CHECKPOINTS, name)


def pretrained_path(name):
  """../shared/pretrained/NAME.gen.json; skipped when absent, a failure under CI."""
  return require_file(os.path.join(PRETRAINED, f"{name}.gen.json"), "pretrained decoder")


def model_pdf(model, inputs_px, temperature=1.0):
  """The MDN's parameters from our Keras model, teacher-forced over pixel inputs."""
  import tensorflow as tf
  from sketch_rnn_tf.layers import mdn
  from sketch_rnn_tf.sampling.sampler import temperature_params
  x = np.array(inputs_px, np.float32)
  x[:, :2] /= model.scale_factor
  y, _ = model.decoder(tf.constant(x[None]))
  p = temperature_params(mdn.split_params(y[0], model.hp.num_mixture), temperature)
  return {k: v.numpy().astype(np.float64) for k, v in dict(
      pi=tf.nn.softmax(p["pi_logits"]), mu_x=p["mu_x"], mu_y=p["mu_y"],
      sigma_x=tf.exp(p["log_sx"]), sigma_y=tf.exp(p["log_sy"]), rho=p["rho"],
      pen=tf.nn.softmax(p["q_logits"])).items()}


def synthetic_inputs(steps=GEN_JSON_STEPS, seed=0):
  """Decoder inputs in pixels without the real data: the start token and a random walk."""
  rng = np.random.default_rng(seed)
  s5 = np.zeros((steps, 5), np.float32)
  s5[0, 2] = 1
  s5[1:, :2] = rng.normal(0, 30, (steps - 1, 2))
  s5[1:, 2:4] = np.eye(2)[(rng.random(steps - 1) < 0.15).astype(int)]
  return s5


def unconditional_model(units=48, seed=0, **overrides):
  """An unconditional LSTM-decoder SketchRNN (M = 20) with random weights within +-10.

  The weights are larger than the initial ones, so every term matters, but keep
  the MDN outputs of order one (sigma = exp(.) of a large value would compare
  float32 rounding, not the decoder).
  """
  import keras
  from sketch_rnn_tf.model import hparams
  from sketch_rnn_tf.model.sketch_rnn import SketchRNN
  keras.utils.set_random_seed(seed)
  spec = dict(conditional=False, dec_model="lstm", dec_rnn_size=units, num_mixture=20,
              max_seq_len=80)
  spec.update(overrides)
  model = SketchRNN(hparams.get("tiny", spec), scale_factor=37.5)
  model.build()
  rng = np.random.default_rng(seed)
  for v in model.decoder.trainable_weights:
    # Recurrent weights of gain ~1, as trained ones have: larger ones make the
    # recurrence chaotic, and any change (quantisation, too) grows along the sketch.
    std = 1.0 / np.sqrt(units) if v.path.endswith(("output/kernel", "w_h")) else 0.5
    v.assign(np.clip(rng.normal(0, std, v.shape), -9.9, 9.9).astype(np.float32))
  return model


def small_gen_json_document(units=4, seed=0, **info):
  """A valid decoder-only .gen.json [info, shapes, weights] with random weights."""
  rng = np.random.default_rng(seed)
  shapes = [[units, 123], [123], [5, 4 * units], [units, 4 * units], [4 * units]]
  strings = [base64.b64encode(rng.integers(-32767, 32768, size=int(np.prod(s)))
                              .astype("<i2").tobytes()).decode("ascii") for s in shapes]
  head = {"mode": 2, "version": 6, "max_seq_len": 50, "name": "small", "scale_factor": 20.0}
  head.update(info)
  return [head, shapes, strings]


class FileServer:
  """Serves {url name: file path} on 127.0.0.1 from a thread (only those files).

  A value may instead be a function of the request handler, which writes the
  response itself (a server that streams forever, say).
  """

  def __init__(self, files):
    self.files = dict(files)
    handler = functools.partial(_Handler, self.files)
    self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

  def url(self, name):
    return f"http://127.0.0.1:{self.server.server_port}/{name}"

  def __enter__(self):
    self.thread.start()
    return self

  def __exit__(self, *exc):
    self.server.shutdown()
    self.server.server_close()
    self.thread.join()


class _Handler(http.server.BaseHTTPRequestHandler):
  def __init__(self, files, *args, **kwargs):
    self.files = files
    super().__init__(*args, **kwargs)

  def do_GET(self):
    path = self.files.get(self.path.lstrip("/"))
    if path is None:
      self.send_error(404)
      return
    if callable(path):
      path(self)
      return
    with open(path, "rb") as f:
      body = f.read()
    self.send_response(200)
    self.send_header("Content-Type", "application/json")
    self.send_header("Content-Length", str(len(body)))
    self.send_header("Access-Control-Allow-Origin", "*")
    self.end_headers()
    self.wfile.write(body)

  def log_message(self, *args):  # keep the test output quiet
    pass


# ---- strokes ----------------------------------------------------------------------

def reference_rdp(points, epsilon):
  """Textbook recursive RDP on Python floats: distance to the chord's line, first max wins.

  Returns the kept indices. Written independently of `simplify` (recursion,
  scalar math) so that agreement means something.
  """
  points = [(float(x), float(y)) for x, y in points]

  def distance(p, a, b):
    ux, uy = b[0] - a[0], b[1] - a[1]
    if ux == 0 and uy == 0:
      return math.sqrt((p[0] - a[0]) ** 2 + (p[1] - a[1]) ** 2)
    return abs(ux * (a[1] - p[1]) - uy * (a[0] - p[0])) / math.sqrt(ux * ux + uy * uy)

  def recurse(lo, hi):
    best, best_i = 0.0, None
    for i in range(lo + 1, hi):
      d = distance(points[i], points[lo], points[hi])
      if d > best:
        best, best_i = d, i
    if best_i is None or best <= epsilon:
      return [lo, hi]
    return recurse(lo, best_i)[:-1] + recurse(best_i, hi)

  if len(points) <= 1:
    return list(range(len(points)))
  return recurse(0, len(points) - 1)


def stroke3_arrays(max_len=40):
  """A hypothesis strategy: random integer stroke-3 sketches with pen values in {0, 1}."""
  from hypothesis import strategies as st
  from hypothesis.extra import numpy as hnp
  return st.integers(1, max_len).flatmap(lambda n: st.tuples(
      hnp.arrays(np.int16, (n, 2), elements=st.integers(-300, 300)),
      hnp.arrays(np.int16, (n,), elements=st.integers(0, 1)),
  )).map(lambda t: np.concatenate([t[0], t[1][:, None]], axis=1))


def require_kernels():
  """The fused CPU kernels' ops (`layers/kernels`), built if need be; the test skips
  where they cannot build, except in CI (which has a compiler), where it fails."""
  import pytest
  from sketch_rnn_tf.layers import kernels
  ops, why = kernels.load()
  if ops is None:
    if os.environ.get("CI"):
      pytest.fail(f"the fused kernels did not build: {why}")
    pytest.skip(f"the fused kernels are unavailable here: {why}")
  return ops
