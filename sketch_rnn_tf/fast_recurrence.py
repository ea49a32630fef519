"""`recurrence.unroll` with a hand-written gradient over the whole sequence.

`unroll_fast(cell, xw, initial_state, lengths, keep_masks)` returns what
`recurrence.unroll` returns (outputs [B, T, H] and the final state list, the
state frozen after each sequence's length, recurrent dropout on tanh(j)), to
float32 rounding, for all three kinds of `SketchLSTMCell` (plain, layer norm,
HyperLSTM), but its gradient is not TensorFlow's step-by-step autodiff of the
loop (`tf.custom_gradient` over the whole sequence):

- the forward loop does the cell's arithmetic (re-implemented here on plain
  tensors, not through `cell.step`) and keeps, for every step, what the
  backward pass needs: the state fed in, the gate activations, tanh of the
  (normalised) cell, the layer norms' normalised values and inverse standard
  deviations and, for a HyperLSTM, h W_h and the hyper embeddings z;
- a backward loop runs from the last step to the first carrying dc, dh (and
  the hyper cell's), and computes per step only what the recurrence needs:
  the gradients of the pre-activations, their products with W_h^T, and for
  a HyperLSTM the gradients of the scales and embeddings;
- after the loop the weight gradients are a few large matmuls over all steps
  at once (dW_h = [R, T*B] x [T*B, 4H]; the HyperLSTM's embedding and scale
  weights likewise, biases and layer-norm gains as sums); the gradient of the
  input projections is returned whole ([B, T, ...]) to `project_inputs`.

Gradients flow to xw, the initial state and every weight `step` uses (the
variables are read as tensors outside the custom-gradient function, so
autodiff carries the gradients on to them). Works with and without XLA (the
TensorArrays have `maximum_iterations`) and under tf.distribute (it touches
only per-replica tensors).

XLA CPU notes (measured): a large reduce_sum/reduce_mean becomes a slow
reduce-window (the tree-reduction rewrite), so row sums and layer-norm means
are matmuls with a ones vector here; a concat along the minor axis in a fused
loop is slow, so the 4 gates are joined with a stack on axis 1.

`recurrence.unroll` dispatches here; `recurrence.unroll_autodiff` is the
reference the tests compare with.
"""
from __future__ import annotations

import tensorflow as tf

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


def _row_mean(x3):
  """Mean over the last axis of [B, G, n], keepdims, as a matmul with a ones vector:
  XLA CPU rewrites reduce_mean into a much slower reduce-window (tree reduction)."""
  n = x3.shape[-1]
  shape = tf.shape(x3)
  flat = tf.reshape(x3, [-1, n])
  mean = tf.matmul(flat, tf.fill([n, 1], tf.constant(1.0 / n, x3.dtype)))
  return tf.reshape(mean, [shape[0], shape[1], 1])


def _ln_forward(x, groups, units):
  """Normalised x (per group of units) and its inverse std [B, groups]."""
  shape = tf.shape(x)
  g = tf.reshape(x, [shape[0], groups, units])
  d = g - _row_mean(g)
  rstd = tf.math.rsqrt(_row_mean(d * d) + LN_EPSILON)
  return tf.reshape(d * rstd, shape), tf.reshape(rstd, [shape[0], groups])


def _ln_backward(dn, n, rstd, groups, units):
  """Gradient w.r.t. x from the gradient w.r.t. n = (x - mean) * rstd."""
  shape = tf.shape(dn)
  dn3 = tf.reshape(dn, [shape[0], groups, units])
  n3 = tf.reshape(n, [shape[0], groups, units])
  dx = rstd[:, :, None] * (dn3 - _row_mean(dn3) - n3 * _row_mean(dn3 * n3))
  return tf.reshape(dx, shape)


def _split4(a):
  """[B, 4H] -> 4 x [B, H], sliced along a major axis (cheaper under XLA than tf.split)."""
  return tf.unstack(tf.reshape(a, [tf.shape(a)[0], 4, -1]), axis=1)


def _join4(parts):
  """4 x [B, H] -> [B, 4H] (a stack on a major axis: XLA CPU vectorises it, not a concat)."""
  return tf.reshape(tf.stack(parts, axis=1), [tf.shape(parts[0])[0], -1])


def _sum_rows(x):
  """Sum over the rows of [N, n] as a matmul: XLA CPU turns a large reduce_sum into a
  slow reduce-window (its tree-reduction rewrite)."""
  return tf.matmul(tf.ones([1, tf.shape(x)[0]], x.dtype), x)[0]


def _flat2(t):
  """[T, B, n] -> [T*B, n]."""
  return tf.reshape(t, [-1, tf.shape(t)[-1]])


def _matmul_steps(a, b):
  """Sum over steps and batch of a^T b: [T, B, m], [T, B, n] -> [m, n]."""
  return tf.matmul(_flat2(a), _flat2(b), transpose_a=True)


def _zeros_if_none(g, like):
  return tf.zeros_like(like) if g is None else g


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
      n, rstd = _ln_forward(s, 4, self.units)
      a = n * w["ln_gamma"] + w["ln_beta"]
      saved.update(n=n, rstd=rstd)
    else:
      a = s + w["bias"]
    i, j, f, o = _split4(a)
    si, g, sf, so = tf.sigmoid(i), tf.tanh(j), tf.sigmoid(f + self.forget_bias), tf.sigmoid(o)
    new_c = c * sf + si * self.drop(g, mask)
    if self.layer_norm:
      nc, rstd_c = _ln_forward(new_c, 1, self.units)
      cc = nc * w["ln_c_gamma"] + w["ln_c_beta"]
      saved.update(nc=nc, rstd_c=rstd_c)
    else:
      cc = new_c
    tc = tf.tanh(cc)
    saved.update(acts=_join4([si, g, sf, so]), tc=tc)
    return tc * so, new_c, saved

  def backward(self, dh, dc_ext, saved, c_in, mask, acc):
    """Gradients of new_h (dh) and new_c (dc_ext) -> (ds, dc_in, acc).

    ds: the gradient w.r.t. `forward`'s s. acc: the layer norms' gamma and
    beta gradients summed over steps (not yet over the batch: [B, n] each, so
    the loop adds elementwise; `finish_acc` sums the rows).
    """
    w = self.w
    si, g, sf, so = _split4(saved["acts"])
    tc = saved["tc"]
    d_o = dh * tc * so * (1.0 - so)
    dcc = dh * so * (1.0 - tc * tc)
    acc = dict(acc)
    if self.layer_norm:
      nc = saved["nc"]
      acc["ln_c_gamma"] += dcc * nc
      acc["ln_c_beta"] += dcc
      dc = _ln_backward(dcc * w["ln_c_gamma"], nc, saved["rstd_c"], 1, self.units) + dc_ext
    else:
      dc = dcc + dc_ext
    di = dc * self.drop(g, mask) * si * (1.0 - si)
    dj = self.drop(dc * si, mask) * (1.0 - g * g)
    df = dc * c_in * sf * (1.0 - sf)
    da = _join4([di, dj, df, d_o])
    if self.layer_norm:
      n = saved["n"]
      acc["ln_gamma"] += da * n
      acc["ln_beta"] += da
      ds = _ln_backward(da * w["ln_gamma"], n, saved["rstd"], 4, self.units)
    else:
      ds = da
    return ds, dc * sf, acc

  def zero_acc(self, batch, dtype):
    if not self.layer_norm:
      return {}
    g4, h = 4 * self.units, self.units
    return {"ln_gamma": tf.zeros([batch, g4], dtype), "ln_beta": tf.zeros([batch, g4], dtype),
            "ln_c_gamma": tf.zeros([batch, h], dtype), "ln_c_beta": tf.zeros([batch, h], dtype)}

  @staticmethod
  def finish_acc(acc):
    return {k: _sum_rows(v) for k, v in acc.items()}


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

  def mask_at(k, t):
    return None if masks[k] is None else masks[k][t]

  @tf.custom_gradient
  def core(*args):
    xw_in = args[:n_x]             # batch-major [B, T, n]: step t reads xw[:, t]
    state0 = list(args[n_x:n_x + n_s])
    wt = dict(zip(names, args[n_x + n_s:n_x + n_s + len(names)]))
    hwt = dict(zip(hyper_names, args[n_x + n_s + len(names):]))
    main = _Gates(cell, wt)
    hyp = _Gates(cell.hyper, hwt) if hyper else None
    batch = tf.shape(xw_in[0])[0]
    steps = tf.shape(xw_in[0])[1]

    if hyper:
      # The HyperLSTM's 12 embeddings (4 x-scales, 4 h-scales, 4 biases) as one
      # matmul and one batched [E, H] product per step.
      w_z = tf.concat([wt["w_zxh"], wt["w_zb"]], 1)                  # [HH, 12E]
      b_z = tf.concat([wt["b_zxh"], tf.zeros([4 * emb], dtype)], 0)
      w_ab = tf.concat([wt["w_alpha"], wt["w_beta"]], 0)              # [12, E, H]
      bias4 = tf.reshape(wt["bias"], [4, units])

    def ta():
      return tf.TensorArray(dtype, size=steps)

    def forward_step(t, state):
      """One step: (output h, new state, {name: value kept for the backward pass})."""
      c, h = state[0], state[1]
      keep = {"c_in": c, "h_in": h}
      x_t = xw_in[0][:, t]
      if not hyper:
        s = x_t + tf.matmul(h, wt["w_h"])
        new_h, new_c, saved = main.forward(s, c, mask_at(0, t))
        new_state = [new_c, new_h]
      else:
        hc, hh = state[2], state[3]
        keep.update(hc_in=hc, hh_in=hh)
        s_hyp = xw_in[1][:, t] + tf.matmul(tf.concat([h, hh], 1), hwt["w_h"])
        new_hh, new_hc, hsaved = hyp.forward(s_hyp, hc, mask_at(1, t))
        keep.update({"hyp_" + k: v for k, v in hsaved.items()})
        keep["hh_out"] = new_hh
        hw = tf.matmul(h, wt["w_h"])
        z = tf.matmul(new_hh, w_z) + b_z                                # [B, 12E]
        ab = tf.einsum("bge,geh->bgh", tf.reshape(z, [batch, 12, emb]), w_ab)  # [B, 12, H]
        x4 = tf.reshape(x_t, [batch, 4, units])
        h4 = tf.reshape(hw, [batch, 4, units])
        pre = ab[:, :4] * x4 + ab[:, 4:8] * h4 + bias4 + ab[:, 8:]
        new_h, new_c, saved = main.forward(tf.reshape(pre, [batch, 4 * units]), c,
                                           mask_at(0, t))
        keep.update(hw=hw, z=z)
        new_state = [new_c, new_h, new_hc, new_hh]
      keep.update(saved)
      if lengths is not None:
        alive = (t < lengths)[:, None]
        new_state = [tf.where(alive, n, o) for n, o in zip(new_state, state)]
      return new_h, new_state, keep

    keep_names = sorted(_keep_names(hyper, cell.layer_norm))

    def body(t, state, out_ta, tas):
      new_h, new_state, keep = forward_step(t, state)
      tas = {k: tas[k].write(t, keep[k]) for k in keep_names}
      return t + 1, new_state, out_ta.write(t, new_h), tas

    _, final_state, out_ta, tas = tf.while_loop(
        lambda t, *_: t < steps, body,
        (tf.constant(0), state0, ta(), {k: ta() for k in keep_names}),
        maximum_iterations=steps)
    kept = {k: v.stack() for k, v in tas.items()}   # time-major [T, B, n]
    out = _time_major(out_ta.stack())
    out.set_shape([None, None, units])

    def grad(*dys):
      dout = _zeros_if_none(dys[0], out)             # [B, T, H]: step t reads dout[:, t]
      dfinal = [_zeros_if_none(g, s) for g, s in zip(dys[1:], final_state)]
      # Transposed once here, not in every step's matmul.
      wt_t = {"w_h": tf.transpose(wt["w_h"])}
      if hyper:
        wt_t["w_z"] = tf.transpose(w_z)
      hwt_t = {"w_h": tf.transpose(hwt["w_h"])} if hyper else {}
      acc0 = {"m": main.zero_acc(batch, dtype)}
      if hyper:
        acc0["h"] = hyp.zero_acc(batch, dtype)
      ds_names = ("ds",) if not hyper else ("dxw", "dhw", "dab", "dz", "ds_hyp")

      def saved_of(prefix, t, layer_norm):
        keys = ("acts", "tc") + (("n", "rstd", "nc", "rstd_c") if layer_norm else ())
        return {k: kept[prefix + k][t] for k in keys}

      def bbody(k, dstate, acc, gtas):
        t = steps - 1 - k
        if lengths is not None:
          alive = (t < lengths)[:, None]
          carried = [tf.where(alive, d, tf.zeros_like(d)) for d in dstate]
          passed = [tf.where(alive, tf.zeros_like(d), d) for d in dstate]
        else:
          carried, passed = dstate, None
        acc = dict(acc)
        dpre, dc_in, acc["m"] = main.backward(
            dout[:, t] + carried[1], carried[0], saved_of("", t, main.layer_norm),
            kept["c_in"][t], mask_at(0, t), acc["m"])
        if not hyper:
          new_d = [dc_in, tf.matmul(dpre, wt_t["w_h"])]
          gtas = {"ds": gtas["ds"].write(t, dpre)}
        else:
          dpre4 = tf.reshape(dpre, [batch, 4, units])
          x4 = tf.reshape(xw_in[0][:, t], [batch, 4, units])
          h4 = tf.reshape(kept["hw"][t], [batch, 4, units])
          # Gradients of the 12 scales/biases, and the scales themselves.
          dab = tf.concat([dpre4 * x4, dpre4 * h4, dpre4], 1)             # [B, 12, H]
          dz = tf.reshape(tf.einsum("bgh,geh->bge", dab, w_ab), [batch, 12 * emb])
          alpha = tf.einsum("bge,geh->bgh",
                            tf.reshape(kept["z"][t], [batch, 12, emb])[:, :8], wt["w_alpha"])
          dxw_t = tf.reshape(alpha[:, :4] * dpre4, [batch, 4 * units])
          dhw = tf.reshape(alpha[:, 4:] * dpre4, [batch, 4 * units])
          dhh_new = tf.matmul(dz, wt_t["w_z"]) + carried[3]
          ds_hyp, dhc_in, acc["h"] = hyp.backward(
              dhh_new, carried[2], saved_of("hyp_", t, True), kept["hc_in"][t],
              mask_at(1, t), acc["h"])
          dr = tf.matmul(ds_hyp, hwt_t["w_h"])                    # [B, H + HH]
          dh_in = tf.matmul(dhw, wt_t["w_h"]) + dr[:, :units]
          new_d = [dc_in, dh_in, dhc_in, dr[:, units:]]
          gtas = {"dxw": gtas["dxw"].write(t, dxw_t), "dhw": gtas["dhw"].write(t, dhw),
                  "dab": gtas["dab"].write(t, tf.reshape(dab, [batch, 12 * units])),
                  "dz": gtas["dz"].write(t, dz), "ds_hyp": gtas["ds_hyp"].write(t, ds_hyp)}
        if passed is not None:
          new_d = [n + p for n, p in zip(new_d, passed)]
        return k + 1, new_d, acc, gtas

      _, dinit, acc, gtas = tf.while_loop(
          lambda k, *_: k < steps, bbody,
          (tf.constant(0), dfinal, acc0, {k: ta() for k in ds_names}),
          maximum_iterations=steps)
      gs = {k: v.stack() for k, v in gtas.items()}    # time-major [T, B, n]

      dw = dict(_Gates.finish_acc(acc["m"]))
      if not hyper:
        ds = gs["ds"]
        dxw = [_time_major(ds)]
        dw["w_h"] = _matmul_steps(kept["h_in"], ds)
        if not cell.layer_norm:
          dw["bias"] = _sum_rows(_flat2(ds))
        dhyper = []
      else:
        dxw = [_time_major(gs["dxw"]), _time_major(gs["ds_hyp"])]
        dw["w_h"] = _matmul_steps(kept["h_in"], gs["dhw"])
        dz = gs["dz"]
        dw_z = _matmul_steps(kept["hh_out"], dz)                       # [HH, 12E]
        dw["w_zxh"], dw["w_zb"] = dw_z[:, :8 * emb], dw_z[:, 8 * emb:]
        dw["b_zxh"] = _sum_rows(_flat2(dz[:, :, :8 * emb]))
        # Per scale/bias g: [E, T*B] x [T*B, H].
        flat_z = tf.reshape(kept["z"], [-1, 12, emb])
        flat_dab = tf.reshape(gs["dab"], [-1, 12, units])
        dw_ab = tf.stack([tf.matmul(flat_z[:, g], flat_dab[:, g], transpose_a=True)
                          for g in range(12)])
        dw["w_alpha"], dw["w_beta"] = dw_ab[:8], dw_ab[8:]
        dw["bias"] = _sum_rows(tf.reshape(flat_dab[:, 8:], [-1, 4 * units]))
        ds_hyp = gs["ds_hyp"]
        dwh_hyp = tf.concat([_matmul_steps(kept["h_in"], ds_hyp),
                             _matmul_steps(kept["hh_in"], ds_hyp)], 0)
        hacc = _Gates.finish_acc(acc["h"])
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
    names += ["hc_in", "hh_in", "hh_out", "hw", "z"]
    names += ["hyp_" + k for k in ["acts", "tc", "n", "rstd", "nc", "rstd_c"]]
  return names
