// Fused elementwise work of one plain-LSTM training step, forward and backward.
//
// Graph mode runs each of a step's ~30 elementwise ops (gate split, 3
// sigmoids, 2 tanh, dropout, cell update, the length freeze, casts to and
// from the matmul dtype) as its own kernel, each a pass over [B, 4H] or
// [B, H] tensors in memory; on CPUs with bfloat16 matrix units that work, not
// the matmuls, bounds the step (BUILD.md, "Where the time goes, by op"). These
// two ops do it in one pass per row, in cache. The equations are those of
// `lstm_math.lstm_update` / `lstm_update_grad` (the Python module is their
// home and the tests hold these ops to it):
//
//   a = xw + hw + bias = [i, j, f, o]
//   si = sigmoid(i), g = tanh(j), sf = sigmoid(f + forget_bias), so = sigmoid(o)
//   c' = c * sf + si * drop(g),   h' = tanh(c') * so
//   drop(g) = g * mask / keep_prob  (no mask: g)
//
// and a sequence's state stops changing after its length (`alive` false).
// Tmm is the matmul operand dtype (float or bfloat16): hw arrives in it, the
// state h is also returned in it (the next step's matmul operand), and the
// backward op returns the gate gradients in it.
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernel_common.h"

namespace sketch_rnn {
namespace {

// Checks shared by both ops: [B, 4H] / [B, H] shapes and the optional mask/alive.
tensorflow::Status CheckShapes(const Tensor& gates, const Tensor& state, const Tensor& mask,
                               const Tensor& alive) {
  if (gates.dims() != 2 || state.dims() != 2 || gates.dim_size(0) != state.dim_size(0) ||
      gates.dim_size(1) != 4 * state.dim_size(1)) {
    return InvalidArgument("LSTM step: gates must be [B, 4H] and the state [B, H], got ",
                           gates.shape().DebugString(), " and ", state.shape().DebugString());
  }
  if (mask.NumElements() != 0 && mask.shape() != state.shape()) {
    return InvalidArgument("LSTM step: the dropout mask must be [B, H] or empty, got ",
                           mask.shape().DebugString());
  }
  if (alive.NumElements() != 0 && (alive.dims() != 1 || alive.dim_size(0) != state.dim_size(0))) {
    return InvalidArgument("LSTM step: alive must be [B] or empty, got ",
                           alive.shape().DebugString());
  }
  return tensorflow::OkStatus();
}

template <typename Tmm>
class LstmStepForward : public OpKernel {
 public:
  explicit LstmStepForward(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("keep_prob", &keep_prob_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("forget_bias", &forget_bias_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& xw = ctx->input(0);
    const Tensor& hw = ctx->input(1);
    const Tensor& bias = ctx->input(2);
    const Tensor& c = ctx->input(3);
    const Tensor& h = ctx->input(4);
    const Tensor& h_mm = ctx->input(5);
    const Tensor& mask = ctx->input(6);
    const Tensor& alive = ctx->input(7);
    OP_REQUIRES_OK(ctx, CheckShapes(xw, c, mask, alive));
    OP_REQUIRES(ctx, hw.shape() == xw.shape() && h.shape() == c.shape() &&
                         h_mm.shape() == c.shape() && bias.NumElements() == xw.dim_size(1),
                InvalidArgument("LSTM step forward: xw, hw [B, 4H], bias [4H], c, h [B, H]"));
    const int batch = c.dim_size(0), units = c.dim_size(1);
    Tensor *out_h, *new_c, *new_h, *new_h_mm, *acts, *tc;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, c.shape(), &out_h));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, c.shape(), &new_c));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, c.shape(), &new_h));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, c.shape(), &new_h_mm));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(4, xw.shape(), &acts));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(5, c.shape(), &tc));
    const bool has_mask = mask.NumElements() != 0, has_alive = alive.NumElements() != 0;
    const float* bias_p = bias.flat<float>().data();
    const float scale = 1.0f / keep_prob_;
    std::vector<float> hw_row(4 * units);
    for (int b = 0; b < batch; ++b) {
      const size_t g4 = static_cast<size_t>(b) * 4 * units, g1 = static_cast<size_t>(b) * units;
      LoadRow(hw.flat<Tmm>().data() + g4, 4 * units, hw_row.data());
      const float* x = xw.flat<float>().data() + g4;
      float* act = acts->flat<float>().data() + g4;
      ArrayMap(act, 4 * units) = ConstArrayMap(x, 4 * units) +
                                 ConstArrayMap(hw_row.data(), 4 * units) +
                                 ConstArrayMap(bias_p, 4 * units);
      Activate(act, units, forget_bias_);
      ConstArrayMap si(act, units), g(act + units, units), sf(act + 2 * units, units),
          so(act + 3 * units, units);
      ConstArrayMap c_in(c.flat<float>().data() + g1, units);
      ArrayMap nc(new_c->flat<float>().data() + g1, units);
      if (has_mask) {
        nc = c_in * sf + si * (g * ConstArrayMap(mask.flat<float>().data() + g1, units) * scale);
      } else {
        nc = c_in * sf + si * g;
      }
      ArrayMap t(tc->flat<float>().data() + g1, units);
      t = nc.tanh();
      ArrayMap oh(out_h->flat<float>().data() + g1, units);
      oh = t * so;
      float* nh = new_h->flat<float>().data() + g1;
      Tmm* nh_mm = new_h_mm->flat<Tmm>().data() + g1;
      if (has_alive && !alive.flat<bool>()(b)) {
        nc = c_in;
        std::copy_n(h.flat<float>().data() + g1, units, nh);
        std::copy_n(h_mm.flat<Tmm>().data() + g1, units, nh_mm);
      } else {
        std::copy_n(oh.data(), units, nh);
        StoreRow(nh, units, nh_mm);
      }
    }
  }

 private:
  float keep_prob_, forget_bias_;
};

template <typename Tmm>
class LstmStepBackward : public OpKernel {
 public:
  explicit LstmStepBackward(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("keep_prob", &keep_prob_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& dout = ctx->input(0);
    const Tensor& r = ctx->input(1);
    const Tensor& dh_pass = ctx->input(2);
    const Tensor& dc = ctx->input(3);
    const Tensor& acts = ctx->input(4);
    const Tensor& tc = ctx->input(5);
    const Tensor& c_in = ctx->input(6);
    const Tensor& mask = ctx->input(7);
    const Tensor& alive = ctx->input(8);
    OP_REQUIRES_OK(ctx, CheckShapes(acts, dc, mask, alive));
    OP_REQUIRES(ctx, dout.shape() == dc.shape() && r.shape() == dc.shape() &&
                         dh_pass.shape() == dc.shape() && tc.shape() == dc.shape() &&
                         c_in.shape() == dc.shape(),
                InvalidArgument("LSTM step backward: dout, r, dh_pass, dc, tc, c_in [B, H]"));
    const int batch = dc.dim_size(0), units = dc.dim_size(1);
    Tensor *ds, *dc_new, *dh_pass_new;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, acts.shape(), &ds));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, dc.shape(), &dc_new));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, dc.shape(), &dh_pass_new));
    const bool has_mask = mask.NumElements() != 0, has_alive = alive.NumElements() != 0;
    const float scale = 1.0f / keep_prob_;
    std::vector<float> row(4 * units), dh(units), dcell(units), r_row(units), keep(units, 1.0f);
    for (int b = 0; b < batch; ++b) {
      const size_t g4 = static_cast<size_t>(b) * 4 * units, g1 = static_cast<size_t>(b) * units;
      const bool live = !has_alive || alive.flat<bool>()(b);
      LoadRow(r.flat<Tmm>().data() + g1, units, r_row.data());
      ConstArrayMap dh_state_r(r_row.data(), units), dh_state_p(dh_pass.flat<float>().data() + g1, units);
      ConstArrayMap dc_state(dc.flat<float>().data() + g1, units);
      ConstArrayMap d_out(dout.flat<float>().data() + g1, units);
      ArrayMap dh_a(dh.data(), units), dcell_a(dcell.data(), units);
      ArrayMap pass_h(dh_pass_new->flat<float>().data() + g1, units);
      ArrayMap out_c(dc_new->flat<float>().data() + g1, units);
      const float* act = acts.flat<float>().data() + g4;
      ConstArrayMap si(act, units), g(act + units, units), sf(act + 2 * units, units),
          so(act + 3 * units, units);
      ConstArrayMap t(tc.flat<float>().data() + g1, units);
      if (live) {
        dh_a = d_out + (dh_state_r + dh_state_p);
        pass_h.setZero();
      } else {
        dh_a = d_out;
        pass_h = dh_state_r + dh_state_p;
      }
      ArrayMap d_i(row.data(), units), d_j(row.data() + units, units),
          d_f(row.data() + 2 * units, units), d_o(row.data() + 3 * units, units);
      d_o = dh_a * t * so * (1.0f - so);
      dcell_a = dh_a * so * (1.0f - t * t);
      if (live) dcell_a += dc_state;
      ConstArrayMap m(has_mask ? mask.flat<float>().data() + g1 : keep.data(), units);
      const float s = has_mask ? scale : 1.0f;
      d_i = dcell_a * (g * m * s) * si * (1.0f - si);
      d_j = (dcell_a * si) * m * s * (1.0f - g * g);
      d_f = dcell_a * ConstArrayMap(c_in.flat<float>().data() + g1, units) * sf * (1.0f - sf);
      out_c = dcell_a * sf;
      if (!live) out_c += dc_state;
      StoreRow(row.data(), 4 * units, ds->flat<Tmm>().data() + g4);
    }
  }

 private:
  float keep_prob_;
};


// The layer-norm update (`lstm_math.lstm_update` with layer_norm, as the
// layer-norm cell and both cells of a HyperLSTM use it), from s, the gates'
// pre-activations before their per-gate layer norm:
//
//   n_g = (s_g - mean(s_g)) * rstd_g,  rstd_g = 1 / sqrt(var(s_g) + epsilon)
//   [i, j, f, o] = n * gamma + beta;   c' as above;   h' = tanh(LN_c(c')) * so
//
// keeping n, rstd, n_c and rstd_c, from which the backward op recomputes the
// activations.
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
    OP_REQUIRES_OK(ctx, CheckShapes(s, c, mask, Tensor()));
    const int batch = c.dim_size(0), units = c.dim_size(1);
    OP_REQUIRES(ctx, ctx->input(2).NumElements() == 4 * units &&
                         ctx->input(3).NumElements() == 4 * units &&
                         ctx->input(4).NumElements() == units && ctx->input(5).NumElements() == units,
                InvalidArgument("layer-norm LSTM step: gamma, beta [4H], gamma_c, beta_c [H]"));
    const float* gamma = ctx->input(2).flat<float>().data();
    const float* beta = ctx->input(3).flat<float>().data();
    const float* gamma_c = ctx->input(4).flat<float>().data();
    const float* beta_c = ctx->input(5).flat<float>().data();
    Tensor *h, *new_c, *n, *rstd, *nc, *rstd_c;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, c.shape(), &h));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, c.shape(), &new_c));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, s.shape(), &n));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, TensorShape({batch, 4}), &rstd));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(4, c.shape(), &nc));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(5, TensorShape({batch, 1}), &rstd_c));
    const bool has_mask = mask.NumElements() != 0;
    const float scale = 1.0f / keep_prob_;
    std::vector<float> act(4 * units), cc(units);
    for (int b = 0; b < batch; ++b) {
      const size_t g4 = static_cast<size_t>(b) * 4 * units, g1 = static_cast<size_t>(b) * units;
      float* nrow = n->flat<float>().data() + g4;
      for (int gate = 0; gate < 4; ++gate) {
        const int o = gate * units;
        Normalise(s.flat<float>().data() + g4 + o, units, epsilon_, nrow + o,
                  rstd->flat<float>().data() + 4 * b + gate);
      }
      LnActivations(nrow, gamma, beta, units, forget_bias_, act.data());
      ConstArrayMap si(act.data(), units), g(act.data() + units, units),
          sf(act.data() + 2 * units, units), so(act.data() + 3 * units, units);
      ArrayMap ncell(new_c->flat<float>().data() + g1, units);
      ConstArrayMap c_in(c.flat<float>().data() + g1, units);
      if (has_mask) {
        ncell = c_in * sf + si * (g * ConstArrayMap(mask.flat<float>().data() + g1, units) * scale);
      } else {
        ncell = c_in * sf + si * g;
      }
      float* ncrow = nc->flat<float>().data() + g1;
      Normalise(ncell.data(), units, epsilon_, ncrow, rstd_c->flat<float>().data() + b);
      ArrayMap t(cc.data(), units);
      t = (ConstArrayMap(ncrow, units) * ConstArrayMap(gamma_c, units) +
           ConstArrayMap(beta_c, units)).tanh();
      ArrayMap(h->flat<float>().data() + g1, units) = t * so;
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
    OP_REQUIRES_OK(ctx, CheckShapes(n, dh, mask, Tensor()));
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
    const float* gamma = ctx->input(7).flat<float>().data();
    const float* beta = ctx->input(8).flat<float>().data();
    const float* gamma_c = ctx->input(9).flat<float>().data();
    const float* beta_c = ctx->input(10).flat<float>().data();
    Tensor *ds, *dc_in, *acc[4];
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, n.shape(), &ds));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, dh.shape(), &dc_in));
    // The accumulators are updated in place when nothing else holds them.
    for (int k = 0; k < 4; ++k) {
      OP_REQUIRES_OK(ctx, ctx->forward_input_or_allocate_output({12 + k}, 2 + k,
                                                               ctx->input(12 + k).shape(), &acc[k]));
    }
    const bool has_mask = mask.NumElements() != 0;
    const float scale = has_mask ? 1.0f / keep_prob_ : 1.0f;
    std::vector<float> act(4 * units), tc(units), dcell(units), ones(units, 1.0f);
    for (int b = 0; b < batch; ++b) {
      const size_t g4 = static_cast<size_t>(b) * 4 * units, g1 = static_cast<size_t>(b) * units;
      const float* nrow = n.flat<float>().data() + g4;
      LnActivations(nrow, gamma, beta, units, forget_bias_, act.data());
      ConstArrayMap si(act.data(), units), g(act.data() + units, units),
          sf(act.data() + 2 * units, units), so(act.data() + 3 * units, units);
      const float* ncrow = nc.flat<float>().data() + g1;
      ConstArrayMap ncm(ncrow, units);
      ArrayMap t(tc.data(), units);
      t = (ncm * ConstArrayMap(gamma_c, units) + ConstArrayMap(beta_c, units)).tanh();
      ConstArrayMap dhr(dh.flat<float>().data() + g1, units);
      float* dsrow = ds->flat<float>().data() + g4;
      ArrayMap d_o(dsrow + 3 * units, units);
      d_o = dhr * t * so * (1.0f - so);
      ArrayMap dcc(dcell.data(), units);
      dcc = dhr * so * (1.0f - t * t);
      ArrayMap acc_gc(acc[2]->flat<float>().data() + g1, units);
      ArrayMap acc_bc(acc[3]->flat<float>().data() + g1, units);
      acc_gc = ConstArrayMap(ctx->input(14).flat<float>().data() + g1, units) + dcc * ncm;
      acc_bc = ConstArrayMap(ctx->input(15).flat<float>().data() + g1, units) + dcc;
      dcc *= ConstArrayMap(gamma_c, units);
      NormaliseGrad(dcell.data(), ncrow, units, rstd_c.flat<float>()(b));
      dcc += ConstArrayMap(dc_ext.flat<float>().data() + g1, units);
      ConstArrayMap m(has_mask ? mask.flat<float>().data() + g1 : ones.data(), units);
      ArrayMap d_i(dsrow, units), d_j(dsrow + units, units), d_f(dsrow + 2 * units, units);
      d_i = dcc * (g * m * scale) * si * (1.0f - si);
      d_j = (dcc * si) * m * scale * (1.0f - g * g);
      d_f = dcc * ConstArrayMap(c_in.flat<float>().data() + g1, units) * sf * (1.0f - sf);
      ArrayMap(dc_in->flat<float>().data() + g1, units) = dcc * sf;
      ArrayMap acc_g(acc[0]->flat<float>().data() + g4, 4 * units);
      ArrayMap acc_b(acc[1]->flat<float>().data() + g4, 4 * units);
      ArrayMap da(dsrow, 4 * units);
      acc_g = ConstArrayMap(ctx->input(12).flat<float>().data() + g4, 4 * units) +
              da * ConstArrayMap(nrow, 4 * units);
      acc_b = ConstArrayMap(ctx->input(13).flat<float>().data() + g4, 4 * units) + da;
      da *= ConstArrayMap(gamma, 4 * units);
      for (int gate = 0; gate < 4; ++gate) {
        NormaliseGrad(dsrow + gate * units, nrow + gate * units, units,
                      rstd.flat<float>()(4 * b + gate));
      }
    }
  }

 private:
  float keep_prob_, forget_bias_;
};

}  // namespace

REGISTER_OP("SketchRnnLstmStepForward")
    .Input("xw: float")
    .Input("hw: Tmm")
    .Input("bias: float")
    .Input("c: float")
    .Input("h: float")
    .Input("h_mm: Tmm")
    .Input("mask: float")
    .Input("alive: bool")
    .Output("out_h: float")
    .Output("new_c: float")
    .Output("new_h: float")
    .Output("new_h_mm: Tmm")
    .Output("acts: float")
    .Output("tc: float")
    .Attr("Tmm: {float, bfloat16}")
    .Attr("keep_prob: float = 1.0")
    .Attr("forget_bias: float = 1.0")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      for (int k = 0; k < 4; ++k) c->set_output(k, c->input(3));
      c->set_output(4, c->input(0));
      c->set_output(5, c->input(3));
      return tensorflow::OkStatus();
    });

REGISTER_OP("SketchRnnLstmStepBackward")
    .Input("dout: float")
    .Input("r: Tmm")
    .Input("dh_pass: float")
    .Input("dc: float")
    .Input("acts: float")
    .Input("tc: float")
    .Input("c_in: float")
    .Input("mask: float")
    .Input("alive: bool")
    .Output("ds: Tmm")
    .Output("dc_new: float")
    .Output("dh_pass_new: float")
    .Attr("Tmm: {float, bfloat16}")
    .Attr("keep_prob: float = 1.0")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(4));
      c->set_output(1, c->input(3));
      c->set_output(2, c->input(3));
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

#define REGISTER(T)                                                                     \
  REGISTER_KERNEL_BUILDER(                                                              \
      Name("SketchRnnLstmStepForward").Device(DEVICE_CPU).TypeConstraint<T>("Tmm"),    \
      LstmStepForward<T>);                                                              \
  REGISTER_KERNEL_BUILDER(                                                              \
      Name("SketchRnnLstmStepBackward").Device(DEVICE_CPU).TypeConstraint<T>("Tmm"),   \
      LstmStepBackward<T>);
REGISTER(float)
REGISTER(Eigen::bfloat16)
#undef REGISTER

}  // namespace sketch_rnn
