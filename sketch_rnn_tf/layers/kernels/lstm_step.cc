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

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace sketch_rnn {
namespace {

using tensorflow::DEVICE_CPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::errors::InvalidArgument;
using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

// Rows of Tmm to and from float. bfloat16 is the top half of a float, so the
// conversions are integer loops the compiler vectorises (Eigen's per-value
// casts do not): widening is a shift; narrowing rounds to nearest even, as
// TensorFlow's Cast does, and keeps NaNs quiet.
void LoadRow(const float* src, int n, float* dst) { std::copy_n(src, n, dst); }
void StoreRow(const float* src, int n, float* dst) { std::copy_n(src, n, dst); }
void LoadRow(const Eigen::bfloat16* src, int n, float* dst) {
  const uint16_t* in = reinterpret_cast<const uint16_t*>(src);
  uint32_t* out = reinterpret_cast<uint32_t*>(dst);
  for (int k = 0; k < n; ++k) out[k] = static_cast<uint32_t>(in[k]) << 16;
}
void StoreRow(const float* src, int n, Eigen::bfloat16* dst) {
  const uint32_t* in = reinterpret_cast<const uint32_t*>(src);
  uint16_t* out = reinterpret_cast<uint16_t*>(dst);
  for (int k = 0; k < n; ++k) {
    const uint32_t v = in[k];
    const bool nan = (v & 0x7fffffffu) > 0x7f800000u;
    const uint32_t rounded = (v + 0x7fffu + ((v >> 16) & 1u)) >> 16;
    out[k] = static_cast<uint16_t>(nan ? ((v >> 16) | 0x40u) : rounded);
  }
}

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
      for (int gate = 0; gate < 4; ++gate) {
        const int o = gate * units;
        ArrayMap a(act + o, units);
        a = ConstArrayMap(x + o, units) + ConstArrayMap(hw_row.data() + o, units) +
            ConstArrayMap(bias_p + o, units);
        if (gate == 1) {
          a = a.tanh();
        } else {
          // sigmoid(v) = (1 + tanh(v / 2)) / 2: Eigen's vectorised tanh is a
          // rational approximation, ~3x faster here than its logistic (exp and a division).
          if (gate == 2) a += forget_bias_;
          a = (a * 0.5f).tanh() * 0.5f + 0.5f;
        }
      }
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
