"""`recurrence.unroll` with a hand-written gradient over the whole sequence.

`unroll_fast(cell, xw, initial_state, lengths, keep_masks)` returns what
`recurrence.unroll_autodiff` returns (outputs [B, T, H] and the final state
list, the state frozen after each sequence's length, recurrent dropout on
tanh(j)), to float32 rounding, for all three kinds of `SketchLSTMCell`, but its
gradient is not TensorFlow's step-by-step autodiff of the loop
(`tf.custom_gradient` over the whole sequence):

- the forward loop runs `lstm_math.step` (the one definition of the cell)
  asking it to keep, for every step, what the backward pass needs: the state
  fed in, the gate activations and tanh of the cell (a plain LSTM) or the
  layer norms' normalised values and inverse standard deviations (the
  activations are recomputed from them) and, for a HyperLSTM, h W_h and the
  hyper embeddings z;
- a backward loop runs from the last step to the first carrying dc, dh (and
  the hyper cell's) through `lstm_math.lstm_update_grad`, and computes per step
  only what the recurrence needs: the gradients of the pre-activations, their
  products with W_h^T, and for a HyperLSTM the gradients of the scales and
  embeddings;
- after the loop the weight gradients are a few large matmuls over all steps
  at once (dW_h = [R, T*B] x [T*B, 4H]; the hyper cell's and the embeddings'
  likewise, biases and layer-norm gains as sums); the gradient of the input
  projections is returned whole ([B, T, ...]) to `project_inputs`. A
  HyperLSTM's main dW_h, W_alpha, W_beta and bias gradients are instead summed
  inside the backward loop: what they would need kept per step (h W_h's
  gradient, the 12 scale gradients: 16H values per point) set the paper
  config's peak memory, and the loop's small products cost no measurable time.

Gradients flow to xw, the initial state and every weight the step reads (the
variables are read as tensors outside the custom-gradient function, so
autodiff carries the gradients on to them). Works with and without XLA (the
TensorArrays have `maximum_iterations`) and under tf.distribute (it touches
only per-replica tensors). Under XLA on CPU a large reduce_sum becomes a slow
reduce-window, so row sums here are matmuls with a ones vector.
"""
from __future__ import annotations

import dataclasses

import tensorflow as tf

from sketch_rnn_tf.layers import lstm_math


def time_major(t):
  """[B, T, ...] <-> [T, B, ...]."""
  return tf.transpose(t, [1, 0] + list(range(2, t.shape.rank)))


def _sum_rows(x):
  """Sum over the rows of [N, n] as a matmul (see the module docstring), float32."""
  return tf.cast(tf.matmul(tf.ones([1, tf.shape(x)[0]], x.dtype), x)[0], tf.float32)


def _flat2(t):
  """[T, B, n] -> [T*B, n]."""
  return tf.reshape(t, [-1, tf.shape(t)[-1]])


def _matmul_steps(a, b):
  """Sum over steps and batch of a^T b: [T, B, m], [T, B, n] -> [m, n] float32."""
  return tf.cast(tf.matmul(_flat2(a), _flat2(b), transpose_a=True), tf.float32)


def _zeros_if_none(g, like):
  return tf.zeros_like(like) if g is None else g


def _gate_keys(prefix, layer_norm):
  return [prefix + k for k in (("n", "rstd", "nc", "rstd_c") if layer_norm else ("acts", "tc"))]


# Saved values that the backward pass uses only as matmul operands: kept in the
# matmul dtype (bfloat16 halves what they hold).
_MATMUL_KEPT = frozenset(("h_in", "hh_in", "hh_out", "z", "hw"))


# bfloat16 values are stored bit-cast to uint16: XLA on CPU writes a bfloat16
# TensorArray row by copying the whole buffer (measured: 130 writes of
# [100, 2048] took 2.1 s against 0.09 s in float32) and a uint16 one in place.
def _storage_dtype(dt):
  return tf.uint16 if dt == tf.bfloat16 else dt


def _to_storage(v, dt):
  v = tf.cast(v, dt)
  return tf.bitcast(v, tf.uint16) if dt == tf.bfloat16 else v


def _from_storage(ta, dt):
  """The stacked TensorArray, time-major [T, B, n], in dtype dt."""
  v = ta.stack()
  return tf.bitcast(v, tf.bfloat16) if dt == tf.bfloat16 else v


def _kept_names(spec):
  """What `lstm_math.step(..., keep=True)` returns for this cell."""
  names = ["c_in", "h_in"] + _gate_keys("", spec.layer_norm)
  if spec.hyper is not None:
    names += ["hc_in", "hh_in", "hh_out", "hw", "z"] + _gate_keys("hyp_", True)
  return sorted(names)


def unroll_fast(cell, xw, initial_state, lengths=None, keep_masks=None):
  """Same arguments and results as `recurrence.unroll_autodiff`, hand-written gradient."""
  layer_norm_only = cell.spec.hyper is None and cell.spec.layer_norm
  # The plain LSTM's and the HyperLSTM's sequence ops split the batch between threads themselves.
  if cell.spec.batch_parts > 1 and layer_norm_only and lstm_math.fused_ops(cell.spec) is not None:
    return _unroll_in_parts(cell, xw, initial_state, lengths, keep_masks)
  return _unroll_whole(cell, xw, initial_state, lengths, keep_masks)


def _unroll_in_parts(cell, xw, initial_state, lengths, keep_masks):
  """`unroll_fast` on `spec.batch_parts` slices of the batch, each its own loop.

  A recurrence is a chain of small dependent steps, one op at a time, so graph
  mode's one-thread-per-op pools (`compute_path.Path.threads`) keep one core
  busy; independent loops over parts of the batch run side by side (magenta
  config, 2 cores: 48-51 -> 62-65 sketches/s). Rows never mix, so the results
  are those of one loop; the weights' gradients add up over the parts.
  """
  parts = cell.spec.batch_parts
  batch = tf.shape(initial_state[0])[0]
  sizes = [(batch + k) // parts for k in range(parts)]     # sums to batch

  def split(t, axis=0):
    return tf.split(t, sizes, axis=axis)

  def split_all(v, axis=0):
    """A tensor, a tuple of tensors or None -> one per part."""
    if v is None:
      return [None] * parts
    if isinstance(v, (tuple, list)):
      return list(zip(*(split(t, axis) for t in v)))
    return split(v, axis)

  results = [_unroll_whole(cell, x, list(s), n, m) for x, s, n, m in zip(
      split_all(xw), split_all(initial_state), split_all(lengths), split_all(keep_masks, 1))]
  out = tf.concat([r[0] for r in results], 0)
  return out, [tf.concat(list(s), 0) for s in zip(*(r[1] for r in results))]


def _unroll_whole(cell, xw, initial_state, lengths=None, keep_masks=None):
  spec = cell.spec
  ops = lstm_math.fused_ops(spec)
  if ops is not None and spec.hyper is not None:
    return _unroll_fused_hyper(ops, cell, xw, initial_state, lengths, keep_masks)
  if ops is not None and not spec.layer_norm:
    return _unroll_fused_lstm(ops, cell, xw, initial_state, lengths, keep_masks)
  hyper = spec.hyper is not None
  dtype = initial_state[1].dtype
  raw = cell.recurrence_weights()
  names = spec.weight_names
  hyper_names = spec.hyper.weight_names if hyper else ()
  weights = [raw[n] for n in names] + [raw["hyper"][n] for n in hyper_names]
  xws = list(xw) if hyper else [xw]
  init = list(initial_state)
  n_x, n_s = len(xws), len(init)

  if lengths is not None:
    lengths = tf.cast(lengths, tf.int32)
  if keep_masks is None or spec.keep_prob >= 1.0:
    masks = (None, None)
  else:
    masks = tuple(keep_masks) if hyper else (keep_masks, None)

  units = spec.units
  emb = spec.embedding_size
  mdt = tf.as_dtype(spec.matmul_dtype)

  def kept_dtype(name):
    return mdt if name in _MATMUL_KEPT else dtype

  def mask_at(k, t):
    return None if masks[k] is None else masks[k][t]

  def masks_at(t):
    return (mask_at(0, t), mask_at(1, t)) if hyper else mask_at(0, t)

  @tf.custom_gradient
  def core(*args):
    xw_in = args[:n_x]             # batch-major [B, T, n]
    # Time-major once: a step's row of a [T, ...] tensor is a view (TensorFlow
    # slices the leading axis without copying), of a [B, T, ...] one a strided copy.
    xw_tm = [time_major(x) for x in xw_in]
    state0 = list(args[n_x:n_x + n_s])
    wt = dict(zip(names, args[n_x + n_s:n_x + n_s + len(names)]))
    if hyper:
      wt["hyper"] = dict(zip(hyper_names, args[n_x + n_s + len(names):]))
    w = lstm_math.prepare(spec, wt)
    batch = tf.shape(xw_in[0])[0]
    steps = tf.shape(xw_in[0])[1]
    kept_names = _kept_names(spec)

    def ta(dt=dtype):
      return tf.TensorArray(_storage_dtype(dt), size=steps)

    def body(t, state, out_ta, tas):
      x_t = tuple(x[t] for x in xw_tm) if hyper else xw_tm[0][t]
      new_h, new_state, kept = lstm_math.step(spec, w, x_t, state, masks_at(t), keep=True,
                                              means="matmul")
      if lengths is not None:
        alive = (t < lengths)[:, None]
        new_state = [tf.where(alive, n, o) for n, o in zip(new_state, state)]
      tas = {k: tas[k].write(t, _to_storage(kept[k], kept_dtype(k))) for k in kept_names}
      return t + 1, new_state, out_ta.write(t, new_h), tas

    _, final_state, out_ta, tas = tf.while_loop(
        lambda t, *_: t < steps, body,
        (tf.constant(0), state0, ta(), {k: ta(kept_dtype(k)) for k in kept_names}),
        maximum_iterations=steps)
    kept = {k: _from_storage(v, kept_dtype(k)) for k, v in tas.items()}   # [T, B, n]
    out = time_major(out_ta.stack())
    out.set_shape([None, None, units])

    def grad(*dys):
      dout = time_major(_zeros_if_none(dys[0], out))   # [T, B, H]
      dfinal = [_zeros_if_none(g, s) for g, s in zip(dys[1:], final_state)]
      # Transposed once here, not in every step's matmul.
      w_h_t = tf.transpose(w["w_h"])
      if hyper:
        w_z_t = tf.transpose(w["w_z"])
        hyper_w_h_t = tf.transpose(w["hyper"]["w_h"])
      acc0 = {"m": lstm_math.zero_grad_acc(spec, batch, dtype)}
      if hyper:
        acc0["h"] = lstm_math.zero_grad_acc(spec.hyper, batch, dtype)
        acc0["w_ab"] = tf.zeros([12, emb, units], dtype)
        acc0["bias"] = tf.zeros([batch, 4 * units], dtype)
        acc0["w_h"] = tf.zeros(w["w_h"].shape, dtype)
      ds_names = ("ds",) if not hyper else ("dxw", "dz", "ds_hyp")

      def saved_of(prefix, t, layer_norm):
        return {k[len(prefix):]: kept[k][t] for k in _gate_keys(prefix, layer_norm)}

      def bbody(k, dstate, acc, gtas):
        t = steps - 1 - k
        if lengths is not None:
          alive = (t < lengths)[:, None]
          carried = [tf.where(alive, d, tf.zeros_like(d)) for d in dstate]
          passed = [tf.where(alive, tf.zeros_like(d), d) for d in dstate]
        else:
          carried, passed = dstate, None
        acc = dict(acc)
        dpre, dc_in, acc["m"] = lstm_math.lstm_update_grad(
            spec, w, dout[t] + carried[1], carried[0], saved_of("", t, spec.layer_norm),
            kept["c_in"][t], mask_at(0, t), acc["m"])
        if not hyper:
          new_d = [dc_in, lstm_math.matmul(dpre, w_h_t)]
          gtas = {"ds": gtas["ds"].write(t, _to_storage(dpre, mdt))}
        else:
          dpre4 = tf.reshape(dpre, [batch, 4, units])
          x4 = tf.reshape(xw_tm[0][t], [batch, 4, units])
          h4 = tf.reshape(tf.cast(kept["hw"][t], dtype), [batch, 4, units])
          # The 12 scales' and biases' gradients feed the embeddings' (dz) and,
          # summed over steps here, W_alpha's and W_beta's; kept per step they
          # would be 12H values per point.
          dab = tf.cast(tf.concat([dpre4 * x4, dpre4 * h4, dpre4], 1), mdt)   # [B, 12, H]
          z3 = tf.reshape(kept["z"][t], [batch, 12, emb])
          dz = tf.reshape(tf.cast(tf.einsum("bgh,geh->bge", dab, w["w_ab"]), dtype),
                          [batch, 12 * emb])
          acc["w_ab"] = acc["w_ab"] + tf.cast(tf.einsum("bge,bgh->geh", z3, dab), dtype)
          acc["bias"] = acc["bias"] + dpre
          alpha = lstm_math.hyper_scales(spec, w, kept["z"][t], count=8)
          dxw_t = tf.reshape(alpha[:, :4] * dpre4, [batch, 4 * units])
          dhw = tf.reshape(alpha[:, 4:] * dpre4, [batch, 4 * units])
          dhh_new = lstm_math.matmul(dz, w_z_t) + carried[3]
          ds_hyp, dhc_in, acc["h"] = lstm_math.lstm_update_grad(
              spec.hyper, w["hyper"], dhh_new, carried[2], saved_of("hyp_", t, True),
              kept["hc_in"][t], mask_at(1, t), acc["h"])
          dr = lstm_math.matmul(ds_hyp, hyper_w_h_t)             # [B, H + HH]
          dh_in = lstm_math.matmul(dhw, w_h_t) + dr[:, :units]
          # dW_h summed here too: keeping dhw for one large matmul after the
          # loop would hold 4H more values per point (the paper config's peak).
          acc["w_h"] = acc["w_h"] + tf.cast(tf.matmul(kept["h_in"][t], tf.cast(dhw, mdt),
                                                      transpose_a=True), dtype)
          new_d = [dc_in, dh_in, dhc_in, dr[:, units:]]
          new_g = {"dxw": dxw_t, "dz": dz, "ds_hyp": ds_hyp}
          gtas = {k: gtas[k].write(t, _to_storage(v, mdt)) for k, v in new_g.items()}
        if passed is not None:
          new_d = [n + p for n, p in zip(new_d, passed)]
        return k + 1, new_d, acc, gtas

      _, dinit, acc, gtas = tf.while_loop(
          lambda k, *_: k < steps, bbody,
          (tf.constant(0), dfinal, acc0, {k: ta(mdt) for k in ds_names}),
          maximum_iterations=steps)
      gs = {k: _from_storage(v, mdt) for k, v in gtas.items()}    # [T, B, n]

      dw = {k: _sum_rows(v) for k, v in acc["m"].items()}
      if not hyper:
        ds = gs["ds"]
        dxw = [tf.cast(time_major(ds), dtype)]
        dw["w_h"] = _matmul_steps(kept["h_in"], ds)
        if not spec.layer_norm:
          dw["bias"] = _sum_rows(_flat2(ds))
        dhyper = []
      else:
        dxw = [tf.cast(time_major(gs[k]), dtype) for k in ("dxw", "ds_hyp")]
        dw["w_h"] = acc["w_h"]
        dz = gs["dz"]
        dw_z = _matmul_steps(kept["hh_out"], dz)                       # [HH, 12E]
        dw["w_zxh"], dw["w_zb"] = dw_z[:, :8 * emb], dw_z[:, 8 * emb:]
        dw["b_zxh"] = _sum_rows(_flat2(dz[:, :, :8 * emb]))
        dw["w_alpha"], dw["w_beta"] = acc["w_ab"][:8], acc["w_ab"][8:]
        dw["bias"] = _sum_rows(acc["bias"])
        ds_hyp = gs["ds_hyp"]
        hacc = {k: _sum_rows(v) for k, v in acc["h"].items()}
        hacc["w_h"] = tf.concat([_matmul_steps(kept["h_in"], ds_hyp),
                                 _matmul_steps(kept["hh_in"], ds_hyp)], 0)
        dhyper = [hacc[n] for n in hyper_names]
      return dxw + list(dinit) + [dw[n] for n in names] + dhyper

    return (out,) + tuple(final_state), grad

  results = core(*(xws + init + weights))
  out = results[0]
  out.set_shape([None, None, units])
  return out, list(results[1:])


def _unroll_fused_lstm(ops, cell, xw, initial_state, lengths, keep_masks):
  """`unroll_fast` for a plain LSTM: the whole loop, forward and backward, one op each.

  `kernels/lstm_step.cc` runs every step of the sequence (its product h W_h or
  ds W_h^T and `lstm_math.lstm_update` / `lstm_update_grad` with the dropout
  and the length freeze) without leaving the op, the batch's rows split
  between `spec.batch_parts` threads, where TensorFlow's ops make a step ~30
  kernels and a matmul (BUILD.md, "Where the time goes, by op"). With bfloat16
  matmuls the op multiplies bfloat16 weights and activations, accumulating in
  float32. The weight gradients are the usual matmuls over all steps.
  """
  spec = cell.spec
  dtype = initial_state[1].dtype
  mdt = tf.as_dtype(spec.matmul_dtype)
  raw = cell.recurrence_weights()
  keep_prob = float(spec.keep_prob)
  masks = (tf.cast(keep_masks, tf.float32) if keep_masks is not None and keep_prob < 1.0
           else tf.zeros([0]))
  lengths = tf.zeros([0], tf.int32) if lengths is None else tf.cast(lengths, tf.int32)
  attrs = {"keep_prob": keep_prob, "bf16_weights": mdt == tf.bfloat16,
           "threads": max(1, spec.batch_parts)}

  @tf.custom_gradient
  def core(xw_in, c0, h0, w_h, bias):
    w_h32 = tf.cast(w_h, tf.float32)
    # Batch-major throughout: no transposes of the sequences.
    out, c_n, h_n, acts, tc, c_in, h_in = ops.sketch_rnn_lstm_sequence_forward(
        xw_in, c0, h0, w_h32, tf.cast(bias, tf.float32), masks, lengths,
        forget_bias=spec.forget_bias, **attrs)
    out.set_shape([None, None, spec.units])

    def grad(dout, dc_n, dh_n):
      dout = _zeros_if_none(dout, out)
      dc_n, dh_n = _zeros_if_none(dc_n, c_n), _zeros_if_none(dh_n, h_n)
      ds, dc0, dh0 = ops.sketch_rnn_lstm_sequence_backward(
          dout, dc_n, dh_n, acts, tc, c_in, w_h32, masks, lengths, **attrs)   # ds [B, T, 4H]
      return (tf.cast(ds, dtype), dc0, dh0,
              _matmul_steps(tf.cast(h_in, mdt), tf.cast(ds, mdt)), _sum_rows(_flat2(ds)))

    return (out, c_n, h_n), grad

  out, c_n, h_n = core(xw, initial_state[0], initial_state[1], raw["w_h"], raw["bias"])
  out.set_shape([None, None, spec.units])
  return out, [c_n, h_n]


_LN_KEYS = ("ln_gamma", "ln_beta", "ln_c_gamma", "ln_c_beta")


def _unroll_fused_hyper(ops, cell, xw, initial_state, lengths, keep_masks):
  """`unroll_fast` for a HyperLSTM: the whole loop, forward and backward, one op each.

  `kernels/hyper_sequence.cc` runs every step of `lstm_math.step` (the hyper
  cell, the embeddings, the 12 scale products, the main cell) and, backward,
  the loop of `_unroll_whole`'s gradient, the batch's rows split between
  `spec.batch_parts` threads. It returns the summed gradients of W_alpha,
  W_beta, the bias and the layer norms, and per step what the weight gradients
  of W_h, the hyper cell's W_h and W_z need: those are one matmul each here.
  """
  spec = cell.spec
  dtype = initial_state[1].dtype
  mdt = tf.as_dtype(spec.matmul_dtype)
  raw = cell.recurrence_weights()
  names, hyper_names = spec.weight_names, spec.hyper.weight_names
  emb = spec.embedding_size
  keep_prob = float(spec.keep_prob)
  masks = ((tf.zeros([0]), tf.zeros([0])) if keep_masks is None or keep_prob >= 1.0 else
           tuple(tf.cast(m, tf.float32) for m in keep_masks))
  lengths = tf.zeros([0], tf.int32) if lengths is None else tf.cast(lengths, tf.int32)
  attrs = {"keep_prob": keep_prob, "forget_bias": spec.forget_bias,
           "bf16_weights": mdt == tf.bfloat16, "threads": max(1, spec.batch_parts)}
  weights = [raw[n] for n in names] + [raw["hyper"][n] for n in hyper_names]
  n_main = len(names)

  @tf.custom_gradient
  def core(xw_in, hyper_xw_in, c0, h0, hc0, hh0, *wts):
    wt = dict(zip(names, wts[:n_main]))
    wt["hyper"] = dict(zip(hyper_names, wts[n_main:]))
    # The op takes float32 weights and lays out the products' operands itself.
    w = lstm_math.prepare(dataclasses.replace(spec, matmul_dtype="float32"), wt)
    w = tf.nest.map_structure(lambda v: tf.cast(v, tf.float32), w)
    hw_ = w["hyper"]
    main_ln, hyper_ln = [w[k] for k in _LN_KEYS], [hw_[k] for k in _LN_KEYS]
    outs = ops.sketch_rnn_hyper_sequence_forward(
        xw_in, hyper_xw_in, c0, h0, hc0, hh0, w["w_h"], w["bias"], *main_ln, hw_["w_h"],
        *hyper_ln, w["w_z"], w["b_z"], w["w_ab"], *masks, lengths,
        epsilon=lstm_math.LN_EPSILON, **attrs)
    out, final = outs[0], list(outs[1:5])
    c_in, h_in, hc_in, hh_in, *saved = outs[5:17]
    hw, z, hh_out = outs[17:20]
    out.set_shape([None, None, spec.units])

    def grad(*dys):
      dout = _zeros_if_none(dys[0], out)
      dfinal = [_zeros_if_none(g, s) for g, s in zip(dys[1:], final)]
      g = ops.sketch_rnn_hyper_sequence_backward(
          dout, *dfinal, xw_in, c_in, hc_in, *saved, hw, z, w["w_h"], *main_ln, hw_["w_h"],
          *hyper_ln, w["w_z"], w["w_ab"], *masks, lengths, **attrs)
      dxw, dhyper_xw, dz, dhw, dinit, dw_ab, dbias = g[0], g[1], g[2], g[3], g[4:8], g[8], g[9]

      def steps(a, b):   # sum over steps and batch of a^T b, in the matmul dtype
        return _matmul_steps(tf.cast(a, mdt), tf.cast(b, mdt))

      dw_z = steps(hh_out, dz)                                          # [HH, 12E]
      dw = dict(zip(_LN_KEYS, g[10:14]), w_h=steps(h_in, dhw), bias=dbias,
                w_zxh=dw_z[:, :8 * emb], w_zb=dw_z[:, 8 * emb:],
                b_zxh=_sum_rows(_flat2(dz[:, :, :8 * emb])), w_alpha=dw_ab[:8], w_beta=dw_ab[8:])
      dhyper = dict(zip(_LN_KEYS, g[14:18]),
                    w_h=tf.concat([steps(h_in, dhyper_xw), steps(hh_in, dhyper_xw)], 0))
      return ([tf.cast(dxw, dtype), tf.cast(dhyper_xw, dtype)] + list(dinit)
              + [dw[n] for n in names] + [dhyper[n] for n in hyper_names])

    return (out, *final), grad

  results = core(xw[0], xw[1], *initial_state, *weights)
  out = results[0]
  out.set_shape([None, None, spec.units])
  return out, list(results[1:])
