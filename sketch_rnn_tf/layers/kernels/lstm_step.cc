// The plain LSTM's training recurrence as two ops (its whole sequence, forward
// and backward) and the layer-norm LSTM's cell update as one op per step.
//
// Graph mode runs each of a step's ~30 elementwise ops (gate split, 3
// sigmoids, 2 tanh, dropout, cell update, the length freeze, casts to and
// from the matmul dtype) as its own kernel, each a pass over [B, 4H] or
// [B, H] tensors in memory, and the executor's work around each op costs more
// than the op (BUILD.md, "Where the time goes, by op" and "Whole sequences in
// one op"). The equations are those of `lstm_math.lstm_update` /
// `lstm_update_grad` (the Python module is their home and the tests hold these
// ops to it):
//
//   a = xw + h W_h + bias = [i, j, f, o]
//   si = sigmoid(i), g = tanh(j), sf = sigmoid(f + forget_bias), so = sigmoid(o)
//   c' = c * sf + si * drop(g),   h' = tanh(c') * so
//   drop(g) = g * mask / keep_prob  (no mask: g)
//
// and a sequence's state stops changing after its length.
#include <cmath>
#include <cstdint>
#include <vector>

#include "sequence.h"

namespace sketch_rnn {
namespace {

// The layer-norm step ops' checks: [B, 4H] / [B, H] shapes and the optional mask.
tensorflow::Status CheckShapes(const Tensor& gates, const Tensor& state, const Tensor& mask) {
  if (gates.dims() != 2 || state.dims() != 2 || gates.dim_size(0) != state.dim_size(0) ||
      gates.dim_size(1) != 4 * state.dim_size(1)) {
    return InvalidArgument("LSTM step: gates must be [B, 4H] and the state [B, H], got ",
                           gates.shape().DebugString(), " and ", state.shape().DebugString());
  }
  if (mask.NumElements() != 0 && mask.shape() != state.shape()) {
    return InvalidArgument("LSTM step: the dropout mask must be [B, H] or empty, got ",
                           mask.shape().DebugString());
  }
  return tensorflow::OkStatus();
}

// The plain LSTM's whole sequence, forward and backward, each one op. A step's
// products h W_h (forward) and ds W_h^T (backward) run inside the loop on the
// panels of panels.h (AMX tiles, AVX512-BF16 dot products or float32 FMAs), so a
// step costs no op dispatch, TensorArray traffic or allocation; the batch's rows
// are split between `threads` threads, each running the loop over its rows on
// its own. The weight gradients are left to one large matmul over all steps
// outside (dW_h = [H, T*B] x [T*B, 4H]), which oneDNN runs near the peak.

// One row's step: act [4H] = xw + hw + bias, activated in place; c_new, tc =
// tanh(c_new), out = tc * so. mask [H] or null.
inline void RowForward(const float* xw, const float* hw, const float* bias, const float* c,
                       const float* mask, float scale, int units, float forget_bias, float* act,
                       float* c_new, float* tc, float* out) {
  ArrayMap(act, 4 * units) = ConstArrayMap(xw, 4 * units) + ConstArrayMap(hw, 4 * units) +
                             ConstArrayMap(bias, 4 * units);
  Activate(act, units, forget_bias);
  CellUpdate(act, c, mask, scale, units, c_new);
  ArrayMap t(tc, units);
  t = ConstArrayMap(c_new, units).tanh();
  ArrayMap(out, units) = t * ConstArrayMap(act + 3 * units, units);
}

// One row's step backward from dh, the gradient reaching h' (the output's and, for a
// live row, the next step's), and dc_next, the cell's (added for a live row): ds [4H]
// the gates' pre-activation gradients, dc the gradient of the step's c_in (a
// finished row passes dc_next through).
inline void RowBackward(const float* dh, const float* dc_next, bool live, const float* act,
                        const float* tc, const float* c_in, const float* mask, float scale,
                        int units, float* ds, float* dcell, float* dc) {
  ConstArrayMap sf(act + 2 * units, units), so(act + 3 * units, units), t(tc, units),
      dhr(dh, units), dcn(dc_next, units);
  ArrayMap d_o(ds + 3 * units, units), dcc(dcell, units);
  d_o = dhr * t * so * (1.0f - so);
  dcc = dhr * so * (1.0f - t * t);
  if (live) dcc += dcn;
  CellUpdateGrad(dcell, act, c_in, mask, scale, units, ds);
  ArrayMap out(dc, units);
  out = dcc * sf;
  if (!live) out += dcn;
}

class LstmSequenceForward : public OpKernel {
 public:
  explicit LstmSequenceForward(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("keep_prob", &keep_prob_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("forget_bias", &forget_bias_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("bf16_weights", &bf16_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("threads", &threads_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& xw = ctx->input(0);
    const Tensor& c0 = ctx->input(1);
    const Tensor& h0 = ctx->input(2);
    const Tensor& w_h = ctx->input(3);
    const Tensor& bias = ctx->input(4);
    Sequence seq;
    OP_REQUIRES_OK(ctx, seq.Read(xw, c0, ctx->input(5), ctx->input(6), keep_prob_, threads_));
    const int steps = seq.steps, batch = seq.batch, units = seq.units;
    OP_REQUIRES(ctx, xw.dim_size(2) == 4 * units && h0.shape() == c0.shape() &&
                         w_h.shape() == TensorShape({units, 4 * units}) &&
                         bias.NumElements() == 4 * units,
                InvalidArgument("LSTM sequence forward: xw [B, T, 4H], c0, h0 [B, H], w_h [H, 4H], "
                                "bias [4H], got xw ", xw.shape().DebugString(), ", c0 ",
                                c0.shape().DebugString(), ", w_h ", w_h.shape().DebugString()));
    Tensor *out, *c_n, *h_n, *acts, *tc, *c_in, *h_in;
    const TensorShape seq_h({batch, steps, units});
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, seq_h, &out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, c0.shape(), &c_n));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, c0.shape(), &h_n));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, xw.shape(), &acts));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(4, seq_h, &tc));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(5, seq_h, &c_in));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(6, seq_h, &h_in));
    std::copy_n(c0.flat<float>().data(), c0.NumElements(), c_n->flat<float>().data());
    std::copy_n(h0.flat<float>().data(), h0.NumElements(), h_n->flat<float>().data());
    if (batch == 0 || steps == 0) return;
    Operand w;
    std::vector<float> scratch;
    Pack(w_h.flat<float>().data(), units, 4 * units, false, bf16_, seq.threads, &w, &scratch);
    const bool tiles = bf16_ && AmxUsable();
    const float* xw_p = xw.flat<float>().data();
    const float* bias_p = bias.flat<float>().data();
    seq.ForEachShare(tiles, [&](int, int row0, int rows) {
      // This share's state lives in c_n and h_n, rows [row0, row0 + rows).
      float* c = c_n->flat<float>().data() + static_cast<size_t>(row0) * units;
      float* h = h_n->flat<float>().data() + static_cast<size_t>(row0) * units;
      std::vector<float> hw(static_cast<size_t>(rows) * w.cols), c_new(units);
      Product product;
      product.tiles = tiles;
      for (int t = 0; t < steps; ++t) {
        for (int r = 0; r < rows; ++r) {
          std::copy_n(c + r * units, units, c_in->flat<float>().data() + seq.Row(t, row0 + r, units));
          std::copy_n(h + r * units, units, h_in->flat<float>().data() + seq.Row(t, row0 + r, units));
        }
        product.Prepare(h, units, rows, w, hw.data(), w.cols, false);
        product.Run();
        for (int r = 0; r < rows; ++r) {
          const int b = row0 + r;
          float* o = out->flat<float>().data() + seq.Row(t, b, units);
          RowForward(xw_p + seq.Row(t, b, 4 * units), &hw[static_cast<size_t>(r) * w.cols], bias_p,
                     c + r * units, seq.MaskRow(t, b), seq.scale, units, forget_bias_,
                     acts->flat<float>().data() + seq.Row(t, b, 4 * units), c_new.data(),
                     tc->flat<float>().data() + seq.Row(t, b, units), o);
          if (seq.Alive(b, t)) {
            std::copy_n(c_new.data(), units, c + r * units);
            std::copy_n(o, units, h + r * units);
          }
        }
      }
    });
  }

 private:
  float keep_prob_, forget_bias_;
  bool bf16_;
  int threads_;
};

class LstmSequenceBackward : public OpKernel {
 public:
  explicit LstmSequenceBackward(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("keep_prob", &keep_prob_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("bf16_weights", &bf16_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("threads", &threads_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& dout = ctx->input(0);
    const Tensor& dc_n = ctx->input(1);
    const Tensor& dh_n = ctx->input(2);
    const Tensor& acts = ctx->input(3);
    const Tensor& tc = ctx->input(4);
    const Tensor& c_in = ctx->input(5);
    const Tensor& w_h = ctx->input(6);
    Sequence seq;
    OP_REQUIRES_OK(ctx, seq.Read(dout, dc_n, ctx->input(7), ctx->input(8), keep_prob_, threads_));
    const int steps = seq.steps, batch = seq.batch, units = seq.units;
    const TensorShape seq_h({batch, steps, units});
    OP_REQUIRES(ctx, dout.shape() == seq_h && dh_n.shape() == dc_n.shape() &&
                         acts.shape() == TensorShape({batch, steps, 4 * units}) &&
                         tc.shape() == seq_h && c_in.shape() == seq_h &&
                         w_h.shape() == TensorShape({units, 4 * units}),
                InvalidArgument("LSTM sequence backward: dout, tc, c_in [B, T, H], acts [B, T, 4H], "
                                "dc_n, dh_n [B, H], w_h [H, 4H], got dout ",
                                dout.shape().DebugString(), ", acts ", acts.shape().DebugString(),
                                ", w_h ", w_h.shape().DebugString()));
    Tensor *ds, *dc0, *dh0;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, acts.shape(), &ds));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, dc_n.shape(), &dc0));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, dc_n.shape(), &dh0));
    // dc0 carries dc; dh0 carries what a finished row passes through unchanged, and
    // r = ds W_h^T of the step after, in its own buffer, is added at the end.
    std::copy_n(dc_n.flat<float>().data(), dc_n.NumElements(), dc0->flat<float>().data());
    std::copy_n(dh_n.flat<float>().data(), dh_n.NumElements(), dh0->flat<float>().data());
    if (batch == 0 || steps == 0) return;
    Operand w_t;
    std::vector<float> scratch;
    Pack(w_h.flat<float>().data(), units, 4 * units, true, bf16_, seq.threads, &w_t, &scratch);
    const bool tiles = bf16_ && AmxUsable();
    seq.ForEachShare(tiles, [&](int, int row0, int rows) {
      float* dc = dc0->flat<float>().data() + static_cast<size_t>(row0) * units;
      float* pass = dh0->flat<float>().data() + static_cast<size_t>(row0) * units;
      std::vector<float> r_buf(static_cast<size_t>(rows) * w_t.cols, 0.0f), dh(units),
          dcell(units), dc_new(units);
      Product product;
      product.tiles = tiles;
      for (int t = steps - 1; t >= 0; --t) {
        for (int r = 0; r < rows; ++r) {
          const int b = row0 + r;
          const bool live = seq.Alive(b, t);
          ArrayMap dh_a(dh.data(), units), pass_r(pass + r * units, units);
          ConstArrayMap from_next(&r_buf[static_cast<size_t>(r) * w_t.cols], units);
          ConstArrayMap d_out(dout.flat<float>().data() + seq.Row(t, b, units), units);
          if (live) {
            dh_a = d_out + (from_next + pass_r);
            pass_r.setZero();
          } else {
            dh_a = d_out;
            pass_r += from_next;
          }
          RowBackward(dh.data(), dc + r * units, live, acts.flat<float>().data() + seq.Row(t, b, 4 * units),
                      tc.flat<float>().data() + seq.Row(t, b, units),
                      c_in.flat<float>().data() + seq.Row(t, b, units), seq.MaskRow(t, b), seq.scale,
                      units, ds->flat<float>().data() + seq.Row(t, b, 4 * units), dcell.data(),
                      dc_new.data());
          std::copy_n(dc_new.data(), units, dc + r * units);
        }
        product.Prepare(ds->flat<float>().data() + seq.Row(t, row0, 4 * units), steps * 4 * units, rows, w_t,
                        r_buf.data(), w_t.cols, false);
        product.Run();
      }
      for (int r = 0; r < rows; ++r)
        ArrayMap(pass + r * units, units) += ConstArrayMap(&r_buf[static_cast<size_t>(r) * w_t.cols], units);
    });
  }

 private:
  float keep_prob_;
  bool bf16_;
  int threads_;
};

// One step's layer-norm update (`LnRowForward`, as the layer-norm cell uses it)
// and its gradient, keeping n, rstd, n_c and rstd_c, from which the backward op
// recomputes the activations.
class LnLstmForward : public OpKernel {
 public:
  explicit LnLstmForward(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("keep_prob", &keep_prob_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("forget_bias", &forget_bias_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("epsilon", &epsilon_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& s = ctx->input(0);
    const Tensor& c = ctx->input(1);
    const Tensor& mask = ctx->input(6);
    OP_REQUIRES_OK(ctx, CheckShapes(s, c, mask));
    const int batch = c.dim_size(0), units = c.dim_size(1);
    OP_REQUIRES(ctx, ctx->input(2).NumElements() == 4 * units &&
                         ctx->input(3).NumElements() == 4 * units &&
                         ctx->input(4).NumElements() == units && ctx->input(5).NumElements() == units,
                InvalidArgument("layer-norm LSTM step: gamma, beta [4H], gamma_c, beta_c [H]"));
    const LnWeights w{ctx->input(2).flat<float>().data(), ctx->input(3).flat<float>().data(),
                      ctx->input(4).flat<float>().data(), ctx->input(5).flat<float>().data()};
    Tensor *h, *new_c, *n, *rstd, *nc, *rstd_c;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, c.shape(), &h));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, c.shape(), &new_c));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, s.shape(), &n));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, TensorShape({batch, 4}), &rstd));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(4, c.shape(), &nc));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(5, TensorShape({batch, 1}), &rstd_c));
    const bool has_mask = mask.NumElements() != 0;
    std::vector<float> act(4 * units);
    for (int b = 0; b < batch; ++b) {
      const size_t g4 = static_cast<size_t>(b) * 4 * units, g1 = static_cast<size_t>(b) * units;
      LnRowForward(s.flat<float>().data() + g4, c.flat<float>().data() + g1,
                   has_mask ? mask.flat<float>().data() + g1 : nullptr, 1.0f / keep_prob_, w,
                   units, forget_bias_, epsilon_, n->flat<float>().data() + g4,
                   rstd->flat<float>().data() + 4 * b, act.data(), new_c->flat<float>().data() + g1,
                   nc->flat<float>().data() + g1, rstd_c->flat<float>().data() + b,
                   h->flat<float>().data() + g1);
    }
  }

 private:
  float keep_prob_, forget_bias_, epsilon_;
};

class LnLstmBackward : public OpKernel {
 public:
  explicit LnLstmBackward(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("keep_prob", &keep_prob_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("forget_bias", &forget_bias_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& dh = ctx->input(0);
    const Tensor& dc_ext = ctx->input(1);
    const Tensor& n = ctx->input(2);
    const Tensor& rstd = ctx->input(3);
    const Tensor& nc = ctx->input(4);
    const Tensor& rstd_c = ctx->input(5);
    const Tensor& c_in = ctx->input(6);
    const Tensor& mask = ctx->input(11);
    OP_REQUIRES_OK(ctx, CheckShapes(n, dh, mask));
    const int batch = dh.dim_size(0), units = dh.dim_size(1);
    OP_REQUIRES(ctx, dc_ext.shape() == dh.shape() && nc.shape() == dh.shape() &&
                         c_in.shape() == dh.shape() && rstd.NumElements() == 4 * batch &&
                         rstd_c.NumElements() == batch,
                InvalidArgument("layer-norm LSTM step backward: dh, dc, n_c, c_in [B, H], "
                                "rstd [B, 4], rstd_c [B, 1]"));
    for (int k = 12; k < 16; ++k) {
      const TensorShape& want = k < 14 ? n.shape() : dh.shape();
      OP_REQUIRES(ctx, ctx->input(k).shape() == want,
                  InvalidArgument("layer-norm LSTM step backward: accumulator ", k - 12,
                                  " must be ", want.DebugString()));
    }
    const LnWeights w{ctx->input(7).flat<float>().data(), ctx->input(8).flat<float>().data(),
                      ctx->input(9).flat<float>().data(), ctx->input(10).flat<float>().data()};
    Tensor *ds, *dc_in, *acc[4];
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, n.shape(), &ds));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, dh.shape(), &dc_in));
    // The accumulators are updated in place when nothing else holds them.
    float* acc_p[4];
    for (int k = 0; k < 4; ++k) {
      OP_REQUIRES_OK(ctx, ctx->forward_input_or_allocate_output({12 + k}, 2 + k,
                                                               ctx->input(12 + k).shape(), &acc[k]));
      acc_p[k] = acc[k]->flat<float>().data();
      const float* in = ctx->input(12 + k).flat<float>().data();
      if (in != acc_p[k]) std::copy_n(in, acc[k]->NumElements(), acc_p[k]);
    }
    const bool has_mask = mask.NumElements() != 0;
    std::vector<float> act(4 * units), tc(units), dcell(units);
    for (int b = 0; b < batch; ++b) {
      const size_t g4 = static_cast<size_t>(b) * 4 * units, g1 = static_cast<size_t>(b) * units;
      LnRowBackward(dh.flat<float>().data() + g1, dc_ext.flat<float>().data() + g1,
                    n.flat<float>().data() + g4, rstd.flat<float>().data() + 4 * b,
                    nc.flat<float>().data() + g1, rstd_c.flat<float>()(b),
                    c_in.flat<float>().data() + g1,
                    has_mask ? mask.flat<float>().data() + g1 : nullptr, 1.0f / keep_prob_, w,
                    units, forget_bias_, act.data(), tc.data(), dcell.data(),
                    ds->flat<float>().data() + g4, dc_in->flat<float>().data() + g1,
                    acc_p[0] + g4, acc_p[1] + g4, acc_p[2] + g1, acc_p[3] + g1);
    }
  }

 private:
  float keep_prob_, forget_bias_;
};

}  // namespace

REGISTER_OP("SketchRnnLstmSequenceForward")
    .Input("xw: float")         // [B, T, 4H]
    .Input("c0: float")         // [B, H]
    .Input("h0: float")         // [B, H]
    .Input("w_h: float")        // [H, 4H]
    .Input("bias: float")       // [4H]
    .Input("masks: float")      // [T, B, H] keep masks, or [0]
    .Input("lengths: int32")    // [B], or [0]
    .Output("out: float")       // [B, T, H]
    .Output("c_n: float")
    .Output("h_n: float")
    .Output("acts: float")      // [B, T, 4H], kept for the backward op
    .Output("tc: float")        // [B, T, H]
    .Output("c_in: float")      // [B, T, H]
    .Output("h_in: float")      // [B, T, H], the product's operand of each step
    .Attr("keep_prob: float = 1.0")
    .Attr("forget_bias: float = 1.0")
    .Attr("bf16_weights: bool = false")
    .Attr("threads: int = 1")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      auto seq_h = c->MakeShape({c->Dim(c->input(1), 0), c->Dim(c->input(0), 1), c->Dim(c->input(1), 1)});
      c->set_output(0, seq_h);
      c->set_output(1, c->input(1));
      c->set_output(2, c->input(1));
      c->set_output(3, c->input(0));
      for (int k = 4; k < 7; ++k) c->set_output(k, seq_h);
      return tensorflow::OkStatus();
    });

REGISTER_OP("SketchRnnLstmSequenceBackward")
    .Input("dout: float")       // [B, T, H]
    .Input("dc_n: float")       // [B, H]
    .Input("dh_n: float")       // [B, H]
    .Input("acts: float")
    .Input("tc: float")
    .Input("c_in: float")
    .Input("w_h: float")        // [H, 4H]
    .Input("masks: float")
    .Input("lengths: int32")
    .Output("ds: float")        // [B, T, 4H]: the gradient of xw (and of the bias and W_h's products)
    .Output("dc0: float")
    .Output("dh0: float")
    .Attr("keep_prob: float = 1.0")
    .Attr("bf16_weights: bool = false")
    .Attr("threads: int = 1")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(3));
      c->set_output(1, c->input(1));
      c->set_output(2, c->input(1));
      return tensorflow::OkStatus();
    });

REGISTER_OP("SketchRnnLnLstmForward")
    .Input("s: float")
    .Input("c: float")
    .Input("gamma: float")
    .Input("beta: float")
    .Input("gamma_c: float")
    .Input("beta_c: float")
    .Input("mask: float")
    .Output("h: float")
    .Output("new_c: float")
    .Output("n: float")
    .Output("rstd: float")
    .Output("nc: float")
    .Output("rstd_c: float")
    .Attr("keep_prob: float = 1.0")
    .Attr("forget_bias: float = 1.0")
    .Attr("epsilon: float")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      auto batch = c->Dim(c->input(1), 0);
      c->set_output(0, c->input(1));
      c->set_output(1, c->input(1));
      c->set_output(2, c->input(0));
      c->set_output(3, c->MakeShape({batch, 4}));
      c->set_output(4, c->input(1));
      c->set_output(5, c->MakeShape({batch, 1}));
      return tensorflow::OkStatus();
    });

REGISTER_OP("SketchRnnLnLstmBackward")
    .Input("dh: float")
    .Input("dc_ext: float")
    .Input("n: float")
    .Input("rstd: float")
    .Input("nc: float")
    .Input("rstd_c: float")
    .Input("c_in: float")
    .Input("gamma: float")
    .Input("beta: float")
    .Input("gamma_c: float")
    .Input("beta_c: float")
    .Input("mask: float")
    .Input("acc_gamma: float")
    .Input("acc_beta: float")
    .Input("acc_gamma_c: float")
    .Input("acc_beta_c: float")
    .Output("ds: float")
    .Output("dc_in: float")
    .Output("acc_gamma_out: float")
    .Output("acc_beta_out: float")
    .Output("acc_gamma_c_out: float")
    .Output("acc_beta_c_out: float")
    .Attr("keep_prob: float = 1.0")
    .Attr("forget_bias: float = 1.0")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(2));
      c->set_output(1, c->input(0));
      for (int k = 0; k < 4; ++k) c->set_output(2 + k, c->input(12 + k));
      return tensorflow::OkStatus();
    });

REGISTER_KERNEL_BUILDER(Name("SketchRnnLnLstmForward").Device(DEVICE_CPU), LnLstmForward);
REGISTER_KERNEL_BUILDER(Name("SketchRnnLnLstmBackward").Device(DEVICE_CPU), LnLstmBackward);

REGISTER_KERNEL_BUILDER(Name("SketchRnnLstmSequenceForward").Device(DEVICE_CPU),
                        LstmSequenceForward);
REGISTER_KERNEL_BUILDER(Name("SketchRnnLstmSequenceBackward").Device(DEVICE_CPU),
                        LstmSequenceBackward);

}  // namespace sketch_rnn
