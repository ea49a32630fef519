"""The cell equations of Sketch-RNN, written once, as pure functions on tensors.

Every path that runs a cell calls these: the Keras cell's `call`/`step`
(`lstm_cell.SketchLSTMCell`), the training recurrence's forward pass and the
backward pass that re-uses its saved values (`fast_recurrence`), the sampler's
step (`sampler.decode_loop`) and the TF.js decode step (`export.tfjs_graphs`).
The fused CPU kernels (`kernels/`: the training steps' updates, the whole
drawing loop) are these equations in C++; the tests hold them to this module.

All three cells share the LSTM update (gates i, j, f, o; forget bias b_f):

    c' = c * sigmoid(f + b_f) + sigmoid(i) * drop(tanh(j))
    h' = tanh(c'') * sigmoid(o)

and differ in how the gate pre-activations a = [i, j, f, o] are made:

- plain:      a = x W_x + h W_h + b;                         c'' = c'
- layer_norm: a_g = LN_g(x W_x + h W_h) per gate g;          c'' = LN_c(c')
- hyper:      a_g = LN_g(alpha_x,g * (x W_x)_g + alpha_h,g * (h W_h)_g + b_g + beta_g)
              c'' = LN_c(c')

LN(v) = gamma * (v - mean(v)) / sqrt(var(v) + 1e-3) + beta over the H units of
each gate. In the HyperLSTM (Ha et al. 2016) a small layer-norm LSTM reads
[x, h] with recurrent input [h, hyper_h]; from its output h^ it makes, per
gate, embeddings z = h^ W_z + b_z (size E) and from them the scales
alpha = z W_alpha and the bias beta = (h^ W_zb) W_beta.

"drop" is recurrent dropout without memory loss (Semeniuta et al. 2016):
inverted dropout on tanh(j) only, keep probability `keep_prob`, with one
[B, H] 0/1 mask per step passed in.

Weights are a dict of tensors under the variable names of `SketchLSTMCell`
(the hyper cell's under "hyper"); `prepare` adds the few values derived from
them (the HyperLSTM's 12 embeddings as one matrix) so that a loop computes
them once, not once per step. Two input layouts:

- "projected": x W_x comes precomputed for all steps (one matmul outside the
  loop) and a step adds h W_h;
- "stacked_transposed": a step gets x and multiplies [x, h] by the stacked
  kernel [W_x; W_h]^T with transpose_b (weights "w_xh_t" [4H, D + H]); TF.js's
  CPU matmul reads rows of W^T contiguously and runs this ~1.5x faster.

XLA CPU notes (measured): in the training recurrence a reduce_mean became a
slow reduce-window, so there (`means="matmul"`) layer-norm means are matmuls
with a ones vector, while one drawing step is faster with a plain reduction
(`means="reduce"`, the default); a concat along the minor axis in a fused loop
is slow, so the 4 gates are joined with a stack on axis 1.
"""
from __future__ import annotations

import dataclasses

import tensorflow as tf
from tensorflow.python.ops import control_flow_util  # pylint: disable=g-direct-tensorflow-import

from sketch_rnn_tf.defaults import CELL_KINDS  # noqa: F401 (re-exported for the layers)
from sketch_rnn_tf.defaults import PRECISIONS as MATMUL_DTYPES
from sketch_rnn_tf.layers import kernels

LN_EPSILON = 1e-3
FORGET_BIAS = 1.0
HYPER_SCALE_START = 0.1   # every HyperLSTM scale alpha starts here
LAYOUTS = ("projected", "stacked_transposed")

# The variables each kind's recurrence reads (W_x is applied outside it).
PLAIN_WEIGHTS = ("w_h", "bias")
LN_WEIGHTS = ("w_h", "ln_gamma", "ln_beta", "ln_c_gamma", "ln_c_beta")
HYPER_WEIGHTS = ("w_h", "bias", "ln_gamma", "ln_beta", "ln_c_gamma", "ln_c_beta",
                 "w_zxh", "b_zxh", "w_zb", "w_alpha", "w_beta")


@dataclasses.dataclass(frozen=True)
class CellSpec:
  """What the equations need to know of a cell besides its weights."""
  units: int
  layer_norm: bool = False
  keep_prob: float = 1.0
  forget_bias: float = FORGET_BIAS
  hyper: "CellSpec | None" = None    # the HyperLSTM's auxiliary layer-norm cell
  embedding_size: int = 32
  matmul_dtype: str = "float32"      # the matmuls' operands (see `matmul`)
  # The training recurrence runs in the fused CPU kernels (`layers/kernels`, see
  # `fused_ops`): a plain LSTM's or a HyperLSTM's whole sequence, forward and
  # backward, or a layer-norm update and its gradient.
  fused: bool = False
  # With the fused kernels, the training recurrence runs on this many threads: the
  # sequence ops split the batch's rows between them, the layer-norm cell runs as
  # many loops over slices of the batch side by side (`fast_recurrence`).
  batch_parts: int = 1

  @property
  def weight_names(self):
    if self.hyper is not None:
      return HYPER_WEIGHTS
    return LN_WEIGHTS if self.layer_norm else PLAIN_WEIGHTS

  @property
  def state_size(self):
    sizes = [self.units, self.units]
    return sizes + ([] if self.hyper is None else [self.hyper.units] * 2)


MEANS = ("reduce", "matmul")
SCALE_PRODUCTS = ("einsum", "batch_matmul")   # see `hyper_scales`
# The weights that are matmul operands, cast once by `prepare` to the spec's matmul dtype.
MATMUL_WEIGHTS = ("w_h", "w_z", "w_ab", "w_xh_t")


def matmul(a, b, **kwargs):
  """a b with a cast to b's dtype, the result float32.

  Mixed precision: with bfloat16 weights (`prepare` under matmul_dtype
  "bfloat16") the product's operands are bfloat16, so oneDNN runs it on the
  CPU's bfloat16 matrix units (AMX, AVX512-BF16) or a GPU's tensor cores,
  accumulating in float32; its result, the gates and the cell state stay
  float32. With float32 weights the casts are no-ops.
  """
  return tf.cast(tf.matmul(tf.cast(a, b.dtype), b, **kwargs), tf.float32)


def row_mean(x3, means="matmul"):
  """Mean over the last axis of [B, G, n], keepdims: a reduction, or a matmul with a
  ones vector (see the module docstring)."""
  if means == "reduce":
    return tf.reduce_mean(x3, axis=-1, keepdims=True)
  n = x3.shape[-1]
  shape = tf.shape(x3)
  mean = tf.matmul(tf.reshape(x3, [-1, n]), tf.fill([n, 1], tf.constant(1.0 / n, x3.dtype)))
  return tf.reshape(mean, [shape[0], shape[1], 1])


def layer_norm(x, groups, means="reduce"):
  """x [B, groups * n] normalised per group of n units: (normalised, 1/std [B, groups])."""
  units = x.shape[-1] // groups
  shape = tf.shape(x)
  g = tf.reshape(x, [shape[0], groups, units])
  d = g - row_mean(g, means)
  rstd = tf.math.rsqrt(row_mean(d * d, means) + LN_EPSILON)
  return tf.reshape(d * rstd, shape), tf.reshape(rstd, [shape[0], groups])


def layer_norm_grad(dn, n, rstd, groups):
  """d/dx from d/dn for n = layer_norm(x, groups)[0]."""
  units = dn.shape[-1] // groups
  shape = tf.shape(dn)
  dn3 = tf.reshape(dn, [shape[0], groups, units])
  n3 = tf.reshape(n, [shape[0], groups, units])
  dx = rstd[:, :, None] * (dn3 - row_mean(dn3) - n3 * row_mean(dn3 * n3))
  return tf.reshape(dx, shape)


def split_gates(a):
  """[B, 4H] -> 4 x [B, H], sliced along a major axis (cheaper under XLA than tf.split)."""
  return tf.unstack(tf.reshape(a, [tf.shape(a)[0], 4, -1]), axis=1)


def join_gates(parts):
  """4 x [B, H] -> [B, 4H] (a stack on a major axis: XLA CPU vectorises it, not a concat)."""
  return tf.reshape(tf.stack(parts, axis=1), [tf.shape(parts[0])[0], -1])


def fused_ops(spec):
  """The fused kernels' ops (`layers/kernels`: these equations, one op per update
  or per sequence) when the spec asks for them and they can run: built here and not
  under XLA, which cannot run a custom op (a jit-compiled caller, such as the
  sampler's encoder, takes TensorFlow's ops). Else None."""
  if not spec.fused or control_flow_util.GraphOrParentsInXlaContext(
      tf.compat.v1.get_default_graph()):
    return None
  return kernels.load()[0]


def _mask_or_empty(spec, mask):
  return mask if mask is not None and spec.keep_prob < 1.0 else tf.zeros([0])


def recurrent_dropout(v, mask, keep_prob):
  """Inverted dropout of tanh(j) with a 0/1 keep mask (None or keep_prob 1: identity)."""
  if mask is None or keep_prob >= 1.0:
    return v
  return v * mask / keep_prob


def gate_activations(spec, a):
  """sigmoid(i), tanh(j), sigmoid(f + forget_bias), sigmoid(o) of the gates' a [B, 4H]."""
  i, j, f, o = split_gates(a)
  return tf.sigmoid(i), tf.tanh(j), tf.sigmoid(f + spec.forget_bias), tf.sigmoid(o)


def lstm_update(spec, w, s, c, mask=None, means="reduce", keep=False):
  """The LSTM update from pre-activations s (before LN, or before the bias when plain).

  Returns (h', c', saved): with `keep`, saved holds what `lstm_update_grad` needs
  (else {}: a drawing step makes nothing it does not use). A plain cell keeps
  its activations; a layer-norm cell keeps only the normalised values and
  1/std, and the backward pass recomputes the activations from them (a few
  elementwise ops per step, against holding 5H more values per point).
  """
  ops = fused_ops(spec) if keep and spec.layer_norm else None
  if ops is not None:
    h, new_c, n, rstd, nc, rstd_c = ops.sketch_rnn_ln_lstm_forward(
        s, c, w["ln_gamma"], w["ln_beta"], w["ln_c_gamma"], w["ln_c_beta"],
        _mask_or_empty(spec, mask), keep_prob=spec.keep_prob, forget_bias=spec.forget_bias,
        epsilon=LN_EPSILON)
    return h, new_c, {"n": n, "rstd": rstd, "nc": nc, "rstd_c": rstd_c}
  saved = {}

  def normed(x, groups, prefix, n_key, rstd_key):
    """gamma * LN(x) + beta with the prefix's gain and bias, keeping LN's values."""
    n, rstd = layer_norm(x, groups, means)
    if keep:
      saved.update({n_key: n, rstd_key: rstd})
    return n * w[prefix + "gamma"] + w[prefix + "beta"]

  a = normed(s, 4, "ln_", "n", "rstd") if spec.layer_norm else s + w["bias"]
  si, g, sf, so = gate_activations(spec, a)
  new_c = c * sf + si * recurrent_dropout(g, mask, spec.keep_prob)
  cc = normed(new_c, 1, "ln_c_", "nc", "rstd_c") if spec.layer_norm else new_c
  tc = tf.tanh(cc)
  if keep and not spec.layer_norm:
    saved.update(acts=join_gates([si, g, sf, so]), tc=tc)
  return tc * so, new_c, saved


def lstm_update_grad(spec, w, dh, dc_ext, saved, c_in, mask, acc):
  """Gradients of h' (dh) and c' (dc_ext) -> (ds, dc_in, acc).

  ds: the gradient of `lstm_update`'s s. acc: the layer norms' gamma and beta
  gradients summed over steps, not yet over the batch ([B, n] each, so a loop
  adds elementwise).
  """
  ops = fused_ops(spec) if spec.layer_norm else None
  if ops is not None:
    keys = ("ln_gamma", "ln_beta", "ln_c_gamma", "ln_c_beta")
    ds, dc_in, *accs = ops.sketch_rnn_ln_lstm_backward(
        dh, dc_ext, saved["n"], saved["rstd"], saved["nc"], saved["rstd_c"], c_in,
        *(w[k] for k in keys), _mask_or_empty(spec, mask), *(acc[k] for k in keys),
        keep_prob=spec.keep_prob, forget_bias=spec.forget_bias)
    return ds, dc_in, dict(acc, **dict(zip(keys, accs)))
  if spec.layer_norm:
    si, g, sf, so = gate_activations(spec, saved["n"] * w["ln_gamma"] + w["ln_beta"])
    tc = tf.tanh(saved["nc"] * w["ln_c_gamma"] + w["ln_c_beta"])
  else:
    si, g, sf, so = split_gates(saved["acts"])
    tc = saved["tc"]
  d_o = dh * tc * so * (1.0 - so)
  dcc = dh * so * (1.0 - tc * tc)
  acc = dict(acc)
  if spec.layer_norm:
    nc = saved["nc"]
    acc["ln_c_gamma"] += dcc * nc
    acc["ln_c_beta"] += dcc
    dc = layer_norm_grad(dcc * w["ln_c_gamma"], nc, saved["rstd_c"], 1) + dc_ext
  else:
    dc = dcc + dc_ext
  di = dc * recurrent_dropout(g, mask, spec.keep_prob) * si * (1.0 - si)
  dj = recurrent_dropout(dc * si, mask, spec.keep_prob) * (1.0 - g * g)
  df = dc * c_in * sf * (1.0 - sf)
  da = join_gates([di, dj, df, d_o])
  if spec.layer_norm:
    n = saved["n"]
    acc["ln_gamma"] += da * n
    acc["ln_beta"] += da
    ds = layer_norm_grad(da * w["ln_gamma"], n, saved["rstd"], 4)
  else:
    ds = da
  return ds, dc * sf, acc


def zero_grad_acc(spec, batch, dtype):
  """The starting `acc` of `lstm_update_grad`."""
  if not spec.layer_norm:
    return {}
  g4, h = 4 * spec.units, spec.units
  return {"ln_gamma": tf.zeros([batch, g4], dtype), "ln_beta": tf.zeros([batch, g4], dtype),
          "ln_c_gamma": tf.zeros([batch, h], dtype), "ln_c_beta": tf.zeros([batch, h], dtype)}


def prepare(spec, w):
  """The weights as a loop reads them, computed once: the matmul operands in the
  spec's matmul dtype and, for a HyperLSTM, w_z [HH, 12E] and b_z (4 x-scale,
  4 h-scale and 4 bias embeddings), w_ab [12, E, H] (W_alpha and W_beta) and
  the bias as [4, H]."""
  if spec.matmul_dtype not in MATMUL_DTYPES:
    raise ValueError(f"matmul_dtype must be one of {MATMUL_DTYPES}, not {spec.matmul_dtype!r}")
  w = dict(w)
  if spec.hyper is not None:
    e = spec.embedding_size
    dtype = w["w_zxh"].dtype
    w.update(w_z=tf.concat([w["w_zxh"], w["w_zb"]], 1),
             b_z=tf.concat([w["b_zxh"], tf.zeros([4 * e], dtype)], 0),
             w_ab=tf.concat([w["w_alpha"], w["w_beta"]], 0),
             bias4=tf.reshape(w["bias"], [4, spec.units]))
    w["hyper"] = prepare(spec.hyper, w["hyper"])
  for name in MATMUL_WEIGHTS:
    if name in w:
      w[name] = tf.cast(w[name], spec.matmul_dtype)
  return w


def hyper_scales(spec, w, z, count=12, products="einsum"):
  """The first `count` of the 12 scales/biases [B, count, H] (4 alpha_x, 4 alpha_h, 4 beta,
  one per gate) from the embeddings z [B, 12E].

  products: how the 12 per-group products z_g W_ab,g are written, one of SCALE_PRODUCTS:
  one einsum (what training runs, under XLA and in graph mode), or a batched matmul over
  the groups between two transposes, the same products with ops that TF.js's wasm backend
  has kernels for (it has no Einsum).
  """
  if products not in SCALE_PRODUCTS:
    raise ValueError(f"products must be one of {SCALE_PRODUCTS}, not {products!r}")
  batch = tf.shape(z)[0]
  w_ab = w["w_ab"][:count]
  z3 = tf.reshape(tf.cast(z, w_ab.dtype), [batch, 12, spec.embedding_size])[:, :count]
  if products == "einsum":
    return tf.cast(tf.einsum("bge,geh->bgh", z3, w_ab), tf.float32)
  ab = tf.matmul(tf.transpose(z3, [1, 0, 2]), w_ab)          # [count, B, H]
  return tf.cast(tf.transpose(ab, [1, 0, 2]), tf.float32)


def step(spec, w, x, state, masks=None, layout="projected", keep=False, means="reduce",
         scale_products="einsum"):
  """One step of a cell.

  spec: the CellSpec. w: `prepare`d weights. x: the input projection x W_x
  for this step ([B, 4H], or a pair with the hyper cell's) in the "projected"
  layout; the input itself in the "stacked_transposed" layout. state: [c, h]
  or [c, h, hyper_c, hyper_h]. masks: the dropout keep mask [B, H] (a pair for
  a HyperLSTM) or None. keep: also return the values the backward pass needs.
  means: how layer norm takes its means, one of MEANS (see the module docstring).
  scale_products: how a HyperLSTM makes its scales, one of SCALE_PRODUCTS (`hyper_scales`).
  Returns (h', new state, kept); kept is {} unless `keep`.
  """
  if layout not in LAYOUTS:
    raise ValueError(f"unknown layout {layout!r}: use one of {LAYOUTS}")
  c, h = state[0], state[1]
  kept = {"c_in": c, "h_in": h} if keep else {}
  main_mask, hyper_mask = (masks if spec.hyper is not None and masks is not None
                           else (masks, None))
  if spec.hyper is None:
    if layout == "stacked_transposed":
      s = matmul(tf.concat([x, h], 1), w["w_xh_t"], transpose_b=True)
    else:
      s = x + matmul(h, w["w_h"])
    new_state = []
  else:
    if layout != "projected":
      raise ValueError("a HyperLSTM step takes the projected layout")
    xw, hyper_xw = x
    hc, hh = state[2], state[3]
    hw_h = w["hyper"]
    s_hyp = hyper_xw + matmul(tf.concat([h, hh], 1), hw_h["w_h"])
    new_hh, new_hc, hsaved = lstm_update(spec.hyper, hw_h, s_hyp, hc, hyper_mask, means, keep)
    hw = matmul(h, w["w_h"])
    z = matmul(new_hh, w["w_z"]) + w["b_z"]
    ab = hyper_scales(spec, w, z, products=scale_products)
    batch = tf.shape(z)[0]
    x4 = tf.reshape(xw, [batch, 4, spec.units])
    h4 = tf.reshape(hw, [batch, 4, spec.units])
    s = tf.reshape(ab[:, :4] * x4 + ab[:, 4:8] * h4 + w["bias4"] + ab[:, 8:],
                   [batch, 4 * spec.units])
    new_state = [new_hc, new_hh]
    if keep:
      kept.update({"hyp_" + k: v for k, v in hsaved.items()})
      kept.update(hc_in=hc, hh_in=hh, hh_out=new_hh, hw=hw, z=z)
  new_h, new_c, saved = lstm_update(spec, w, s, c, main_mask, means, keep)
  if keep:
    kept.update(saved)
  return new_h, [new_c, new_h] + new_state, kept
