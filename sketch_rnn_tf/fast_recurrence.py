"""`recurrence.unroll` with a hand-written gradient over the whole sequence.

`unroll_fast(cell, xw, initial_state, lengths, keep_masks)` returns exactly
what `recurrence.unroll` returns (outputs [B, T, H] and the final state list,
the state frozen after each sequence's length, recurrent dropout on tanh(j))
for all three kinds of `SketchLSTMCell` (plain, layer norm, HyperLSTM), but
its gradient is not TensorFlow's step-by-step autodiff of the loop:

- the forward loop does the cell's arithmetic (re-implemented here on plain
  tensors, not through `cell.step`) and keeps, for every step, what the
  backward pass needs: the state fed in, the gate activations, tanh of the
  (normalised) cell, the layer norms' normalised values and inverse standard
  deviations and, for a HyperLSTM, h W_h and the hyper embeddings z;
- a backward loop runs from the last step to the first carrying dc, dh (and
  the hyper cell's), and computes per step only what the recurrence needs:
  the gradient of the pre-activations and its product with W_h^T;
- after the loop the weight gradients are a few large matmuls over all steps
  at once (dW_h = [R, T*B] x [T*B, 4H], the HyperLSTM's embedding and scale
  weights likewise); the gradient of the input projections is returned as a
  whole [B, T, ...] tensor, so the einsum of `project_inputs` makes dW_x in
  one matmul too.

Gradients flow to xw, the initial state and every weight `step` uses (read as
tensors outside the custom-gradient function, so autodiff carries them on to
the variables). Works with and without XLA (TensorArrays have
`maximum_iterations`), and under tf.distribute (per-replica tensors only).

`use_fast_unroll()` is a context manager that swaps `recurrence.unroll` for
`unroll_fast` (encoder.py and decoder.py call it through the module), e.g.
around the first trace of a tf.function.
"""
from __future__ import annotations

import contextlib

import tensorflow as tf

from sketch_rnn_tf import recurrence
from sketch_rnn_tf.lstm_cell import LN_EPSILON

_PLAIN = ("w_h", "bias")
_LN = ("w_h", "ln_gamma", "ln_beta", "ln_c_gamma", "ln_c_beta")
_HYPER = ("w_h", "bias", "ln_gamma", "ln_beta", "ln_c_gamma", "ln_c_beta",
          "w_zxh", "b_zxh", "w_zb", "w_alpha", "w_beta")


def _weight_names(cell):
  if cell.hyper is not None:
    return _HYPER
  return _LN if cell.layer_norm else _PLAIN


def _time_major(t):
  return tf.transpose(t, [1, 0] + list(range(2, t.shape.rank)))


def _ln_forward(x, groups):
  """Normalised x (per group of units) and its inverse std [B, groups]."""
  shape = tf.shape(x)
  g = tf.reshape(x, [shape[0], groups, -1])
  mean, var = tf.nn.moments(g, axes=[2], keepdims=True)
  rstd = tf.math.rsqrt(var + LN_EPSILON)
  return tf.reshape((g - mean) * rstd, shape), tf.reshape(rstd, [shape[0], groups])


def _ln_backward(dn, n, rstd, groups):
  """Gradient w.r.t. x from the gradient w.r.t. n = (x - mean) * rstd."""
  shape = tf.shape(dn)
  dn3 = tf.reshape(dn, [shape[0], groups, -1])
  n3 = tf.reshape(n, [shape[0], groups, -1])
  dx = rstd[:, :, None] * (dn3 - tf.reduce_mean(dn3, 2, keepdims=True)
                           - n3 * tf.reduce_mean(dn3 * n3, 2, keepdims=True))
  return tf.reshape(dx, shape)


class _Gates:
  """The LSTM update of one (non-hyper part of a) cell on given pre-activations."""

  def __init__(self, cell, w):
    self.units = cell.units
    self.layer_norm = cell.layer_norm
    self.forget_bias = cell.forget_bias
    self.keep_prob = cell.keep_prob
    self.w = w  # name -> tensor

  def drop(self, v, mask):
    if mask is None or self.keep_prob >= 1.0:
      return v
    return v * mask / self.keep_prob

  def forward(self, s, c, mask):
    """s: pre-activations before LN (layer norm) or before the bias (plain).

    Returns (new_h, new_c, saved) with saved the per-step values for `backward`.
    """
    w = self.w
    saved = {}
    if self.layer_norm:
      n, rstd = _ln_forward(s, 4)
      a = n * w["ln_gamma"] + w["ln_beta"]
      saved.update(n=n, rstd=rstd)
    else:
      a = s + w["bias"]
    i, j, f, o = tf.split(a, 4, axis=1)
    si, g, sf, so = tf.sigmoid(i), tf.tanh(j), tf.sigmoid(f + self.forget_bias), tf.sigmoid(o)
    new_c = c * sf + si * self.drop(g, mask)
    if self.layer_norm:
      nc, rstd_c = _ln_forward(new_c, 1)
      cc = nc * w["ln_c_gamma"] + w["ln_c_beta"]
      saved.update(nc=nc, rstd_c=rstd_c)
    else:
      cc = new_c
    tc = tf.tanh(cc)
    saved.update(acts=tf.concat([si, g, sf, so], 1), tc=tc)
    return tc * so, new_c, saved

  def backward(self, dh, dc_ext, saved, c_in, mask, acc):
    """Gradients of new_h (dh) and new_c (dc_ext) -> (ds, dc_in, acc).

    ds: the gradient w.r.t. `forward`'s s; acc: running sums of the layer
    norms' gamma and beta gradients (layer norm only).
    """
    w = self.w
    si, g, sf, so = tf.split(saved["acts"], 4, axis=1)
    tc = saved["tc"]
    d_o = dh * tc * so * (1.0 - so)
    dcc = dh * so * (1.0 - tc * tc)
    acc = dict(acc)
    if self.layer_norm:
      nc = saved["nc"]
      acc["ln_c_gamma"] += tf.reduce_sum(dcc * nc, 0)
      acc["ln_c_beta"] += tf.reduce_sum(dcc, 0)
      dc = _ln_backward(dcc * w["ln_c_gamma"], nc, saved["rstd_c"], 1) + dc_ext
    else:
      dc = dcc + dc_ext
    di = dc * self.drop(g, mask) * si * (1.0 - si)
    dj = self.drop(dc * si, mask) * (1.0 - g * g)
    df = dc * c_in * sf * (1.0 - sf)
    da = tf.concat([di, dj, df, d_o], 1)
    if self.layer_norm:
      n = saved["n"]
      acc["ln_gamma"] += tf.reduce_sum(da * n, 0)
      acc["ln_beta"] += tf.reduce_sum(da, 0)
      ds = _ln_backward(da * w["ln_gamma"], n, saved["rstd"], 4)
    else:
      ds = da
    return ds, dc * sf, acc

  def zero_acc(self, dtype):
    if not self.layer_norm:
      return {}
    g4, h = 4 * self.units, self.units
    return {"ln_gamma": tf.zeros([g4], dtype), "ln_beta": tf.zeros([g4], dtype),
            "ln_c_gamma": tf.zeros([h], dtype), "ln_c_beta": tf.zeros([h], dtype)}


def _flat2(t):
  """[T, B, n] -> [T*B, n]."""
  return tf.reshape(t, [-1, tf.shape(t)[-1]])


def _matmul_steps(a, b):
  """sum over steps and batch of a^T b: [T, B, m], [T, B, n] -> [m, n]."""
  return tf.matmul(_flat2(a), _flat2(b), transpose_a=True)


def _zeros_if_none(g, like):
  return tf.zeros_like(like) if g is None else g


def unroll_fast(cell, xw, initial_state, lengths=None, keep_masks=None):
  """Same arguments and results as `recurrence.unroll`, hand-written gradient."""
  hyper = cell.hyper is not None
  dtype = initial_state[1].dtype
  names = _weight_names(cell)
  hyper_names = _LN if hyper else ()
  weights = [tf.convert_to_tensor(getattr(cell, n)) for n in names]
  weights += [tf.convert_to_tensor(getattr(cell.hyper, n)) for n in hyper_names]
  xws = list(xw) if hyper else [xw]
  init = list(initial_state)
  n_x, n_s = len(xws), len(init)

  if lengths is not None:
    lengths = tf.cast(lengths, tf.int32)
  if keep_masks is None or cell.keep_prob >= 1.0:
    masks = (None, None)
  elif hyper:
    masks = tuple(keep_masks)
  else:
    masks = (keep_masks, None)

  units = cell.units
  emb = cell.hyper_embedding_size

  @tf.custom_gradient
  def core(*args):
    xw_in = args[:n_x]
    state0 = list(args[n_x:n_x + n_s])
    wt = dict(zip(names, args[n_x + n_s:n_x + n_s + len(names)]))
    hwt = dict(zip(hyper_names, args[n_x + n_s + len(names):]))
    main = _Gates(cell, wt)
    hyp = _Gates(cell.hyper, hwt) if hyper else None
    xw_tm = [_time_major(v) for v in xw_in]
    steps = tf.shape(xw_tm[0])[0]
    batch = tf.shape(xw_tm[0])[1]

    def ta():
      return tf.TensorArray(dtype, size=steps, element_shape=None)

    def forward_step(t, state):
      """One step: (outputs h, new state, {name: value to keep})."""
      c, h = state[0], state[1]
      keep = {"c_in": c, "h_in": h}
      if not hyper:
        s = xw_tm[0][t] + tf.matmul(h, wt["w_h"])
        new_h, new_c, saved = main.forward(s, c, None if masks[0] is None else masks[0][t])
        new_state = [new_c, new_h]
      else:
        hc, hh = state[2], state[3]
        keep.update(hc_in=hc, hh_in=hh)
        s_hyp = xw_tm[1][t] + tf.matmul(tf.concat([h, hh], 1), hwt["w_h"])
        new_hh, new_hc, hsaved = hyp.forward(s_hyp, hc,
                                             None if masks[1] is None else masks[1][t])
        keep.update({"hyp_" + k: v for k, v in hsaved.items()})
        keep["hh_out"] = new_hh
        hw = tf.matmul(h, wt["w_h"])
        z_xh = tf.matmul(new_hh, wt["w_zxh"]) + wt["b_zxh"]
        z_b = tf.matmul(new_hh, wt["w_zb"])
        alpha = tf.einsum("bge,geh->bgh", tf.reshape(z_xh, [batch, 8, emb]), wt["w_alpha"])
        beta = tf.einsum("bge,geh->bgh", tf.reshape(z_b, [batch, 4, emb]), wt["w_beta"])
        x4 = tf.reshape(xw_tm[0][t], [batch, 4, units])
        h4 = tf.reshape(hw, [batch, 4, units])
        pre = (alpha[:, :4] * x4 + alpha[:, 4:] * h4 + tf.reshape(wt["bias"], [4, units])
               + beta)
        new_h, new_c, saved = main.forward(tf.reshape(pre, [batch, 4 * units]), c,
                                           None if masks[0] is None else masks[0][t])
        keep.update(hw=hw, z_xh=z_xh, z_b=z_b)
        new_state = [new_c, new_h, new_hc, new_hh]
      keep.update(saved)
      if lengths is not None:
        alive = (t < lengths)[:, None]
        new_state = [tf.where(alive, n, o) for n, o in zip(new_state, state)]
      return new_h, new_state, keep

    keep_names = sorted(_keep_names(hyper, cell.layer_norm))
    tas0 = {k: ta() for k in keep_names}
    out_ta0 = ta()

    def body(t, state, out_ta, tas):
      new_h, new_state, keep = forward_step(t, state)
      tas = {k: tas[k].write(t, keep[k]) for k in keep_names}
      return t + 1, new_state, out_ta.write(t, new_h), tas

    _, final_state, out_ta, tas = tf.while_loop(
        lambda t, *_: t < steps, body, (tf.constant(0), state0, out_ta0, tas0),
        maximum_iterations=steps)
    kept = {k: v.stack() for k, v in tas.items()}
    out = _time_major(out_ta.stack())
    out.set_shape([None, None, units])

    def grad(*dys):
      dout = _time_major(_zeros_if_none(dys[0], out))
      dfinal = [_zeros_if_none(g, s) for g, s in zip(dys[1:], final_state)]

      # Transposed once here, not in every step's matmul.
      wt_t = {k: tf.transpose(wt[k]) for k in ("w_h", "w_zxh", "w_zb") if k in wt}
      hwt_t = {"w_h": tf.transpose(hwt["w_h"])} if hyper else {}
      acc0 = {"m": main.zero_acc(dtype)}
      if hyper:
        acc0["h"] = hyp.zero_acc(dtype)
      ds_names = ("ds",) if not hyper else ("dpre", "dhw", "dz_xh", "dz_b", "ds_hyp")
      gtas0 = {k: ta() for k in ds_names}

      def read(k, t):
        return kept[k][t]

      def saved_of(prefix, t, layer_norm):
        keys = ("acts", "tc") + (("n", "rstd", "nc", "rstd_c") if layer_norm else ())
        return {k: read(prefix + k, t) for k in keys}

      def bbody(k, dstate, acc, gtas):
        t = steps - 1 - k
        if lengths is not None:
          alive = (t < lengths)[:, None]
          carried = [tf.where(alive, d, tf.zeros_like(d)) for d in dstate]
          passed = [tf.where(alive, tf.zeros_like(d), d) for d in dstate]
        else:
          carried, passed = dstate, None
        acc = dict(acc)
        dh_new = dout[t] + carried[1]
        dpre, dc_in, acc["m"] = main.backward(dh_new, carried[0], saved_of("", t, main.layer_norm),
                                              read("c_in", t),
                                              None if masks[0] is None else masks[0][t],
                                              acc["m"])
        if not hyper:
          dh_in = tf.matmul(dpre, wt_t["w_h"])
          new_d = [dc_in, dh_in]
          gtas = {"ds": gtas["ds"].write(t, dpre)}
        else:
          dpre4 = tf.reshape(dpre, [batch, 4, units])
          z_xh = tf.reshape(read("z_xh", t), [batch, 8, emb])
          x4 = tf.reshape(xw_tm[0][t], [batch, 4, units])
          h4 = tf.reshape(read("hw", t), [batch, 4, units])
          dalpha = tf.concat([dpre4 * x4, dpre4 * h4], 1)           # [B, 8, H]
          dz_xh = tf.reshape(tf.einsum("bgh,geh->bge", dalpha, wt["w_alpha"]),
                             [batch, 8 * emb])
          dz_b = tf.reshape(tf.einsum("bgh,geh->bge", dpre4, wt["w_beta"]), [batch, 4 * emb])
          alpha_h = tf.einsum("bge,geh->bgh", z_xh[:, 4:], wt["w_alpha"][4:])
          dhw = tf.reshape(alpha_h * dpre4, [batch, 4 * units])
          dhh_new = (tf.matmul(dz_xh, wt_t["w_zxh"])
                     + tf.matmul(dz_b, wt_t["w_zb"]) + carried[3])
          ds_hyp, dhc_in, acc["h"] = hyp.backward(
              dhh_new, carried[2], saved_of("hyp_", t, True), read("hc_in", t),
              None if masks[1] is None else masks[1][t], acc["h"])
          dr = tf.matmul(ds_hyp, hwt_t["w_h"])     # [B, H + HH]
          dh_in = tf.matmul(dhw, wt_t["w_h"]) + dr[:, :units]
          new_d = [dc_in, dh_in, dhc_in, dr[:, units:]]
          gtas = {"dpre": gtas["dpre"].write(t, dpre), "dhw": gtas["dhw"].write(t, dhw),
                  "dz_xh": gtas["dz_xh"].write(t, dz_xh), "dz_b": gtas["dz_b"].write(t, dz_b),
                  "ds_hyp": gtas["ds_hyp"].write(t, ds_hyp)}
        if passed is not None:
          new_d = [n + p for n, p in zip(new_d, passed)]
        return k + 1, new_d, acc, gtas

      _, dinit, acc, gtas = tf.while_loop(
          lambda k, *_: k < steps, bbody, (tf.constant(0), dfinal, acc0, gtas0),
          maximum_iterations=steps)
      gs = {k: v.stack() for k, v in gtas.items()}

      dw = {}
      if not hyper:
        ds = gs["ds"]
        dxw = [_time_major(ds)]
        dw["w_h"] = _matmul_steps(kept["h_in"], ds)
        if cell.layer_norm:
          dw.update(acc["m"])
        else:
          dw["bias"] = tf.reduce_sum(_flat2(ds), 0)
        dhyper = []
      else:
        dpre, dhw = gs["dpre"], gs["dhw"]
        shape4 = [steps, batch, 4, units]
        dpre4 = tf.reshape(dpre, shape4)
        z_xh = tf.reshape(kept["z_xh"], [steps, batch, 8, emb])
        z_b = tf.reshape(kept["z_b"], [steps, batch, 4, emb])
        x4 = tf.reshape(xw_tm[0], shape4)
        h4 = tf.reshape(kept["hw"], shape4)
        alpha_x = tf.einsum("tbge,geh->tbgh", z_xh[:, :, :4], wt["w_alpha"][:4])
        dxw_main = tf.reshape(alpha_x * dpre4, [steps, batch, 4 * units])
        dxw = [_time_major(dxw_main), _time_major(gs["ds_hyp"])]
        dw["w_h"] = _matmul_steps(kept["h_in"], dhw)
        dw["bias"] = tf.reduce_sum(_flat2(dpre), 0)
        dw.update(acc["m"])
        dw["w_zxh"] = _matmul_steps(kept["hh_out"], gs["dz_xh"])
        dw["b_zxh"] = tf.reduce_sum(_flat2(gs["dz_xh"]), 0)
        dw["w_zb"] = _matmul_steps(kept["hh_out"], gs["dz_b"])
        dalpha = tf.concat([dpre4 * x4, dpre4 * h4], 2)            # [T, B, 8, H]
        dw["w_alpha"] = tf.einsum("tbge,tbgh->geh", z_xh, dalpha)
        dw["w_beta"] = tf.einsum("tbge,tbgh->geh", z_b, dpre4)
        ds_hyp = gs["ds_hyp"]
        dwh_hyp = tf.concat([_matmul_steps(kept["h_in"], ds_hyp),
                             _matmul_steps(kept["hh_in"], ds_hyp)], 0)
        hacc = acc["h"]
        dhyper = [dwh_hyp] + [hacc[n] for n in _LN[1:]]
      return dxw + list(dinit) + [dw[n] for n in names] + dhyper

    return (out,) + tuple(final_state), grad

  results = core(*(xws + init + weights))
  out = results[0]
  out.set_shape([None, None, units])
  return out, list(results[1:])


def _keep_names(hyper, layer_norm):
  gate_keys = ["acts", "tc"] + (["n", "rstd", "nc", "rstd_c"] if layer_norm or hyper else [])
  names = ["c_in", "h_in"] + gate_keys
  if hyper:
    names += ["hc_in", "hh_in", "hh_out", "hw", "z_xh", "z_b"]
    names += ["hyp_" + k for k in ["acts", "tc", "n", "rstd", "nc", "rstd_c"]]
  return names


@contextlib.contextmanager
def use_fast_unroll():
  """Within the block, `recurrence.unroll` is `unroll_fast` (for code calling it by module)."""
  original = recurrence.unroll
  recurrence.unroll = unroll_fast
  try:
    yield
  finally:
    recurrence.unroll = original
