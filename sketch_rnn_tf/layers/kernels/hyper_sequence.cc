// The HyperLSTM's whole sequence (Ha et al. 2016, as Sketch-RNN's decoder uses it),
// forward and backward, each one op: what `lstm_math.step` and the backward loop
// of `fast_recurrence._unroll_whole` do for a HyperLSTM, every step inside the op.
// As TensorFlow ops a step is hundreds of kernels forward and backward (casts,
// the scales' einsums, slices, the loop's control flow: the paper config ran
// ~880 ops per time step); here it is a few products
// on the panels of panels.h (AMX tiles for bfloat16 where the CPU has them) and
// the elementwise work of its rows in cache, the batch's rows split between
// threads. Per step, forward:
//
//   s_hyp = hyper_xw + [h, hh] W_hyp          the hyper cell (layer norm), -> hc', hh'
//   z = hh' W_z + b_z                          12 embeddings of E
//   ab_g = z_g W_ab,g  (g < 12)                alpha_x (4), alpha_h (4), beta (4), [H] each
//   s = alpha_x * xw + alpha_h * (h W_h) + bias + beta, per gate
//   the main cell's layer-norm update from s   -> c', h'
//
// and the backward op runs the steps in reverse with the cells' gradients
// (`LnRowBackward`), the scales' (dab) and embeddings' (dz = dab_g W_ab,g^T), and
// the products with W_z^T, W_hyp^T and W_h^T. It sums the gradients of W_ab, the
// bias and the layer norms' gains and biases; W_h, W_hyp and W_z's gradients are
// left to one matmul each over all steps outside, from what the ops return.
#include <memory>
#include <vector>

#include "sequence.h"

namespace sketch_rnn {
namespace {

constexpr int kGroups = 12;   // 4 alpha_x, 4 alpha_h, 4 beta
using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Sizes and the elementwise weights of one call.
struct HyperModel {
  int units = 0, hyper_units = 0, embedding = 0;   // H, HH, E
  float forget_bias = 1.0f, epsilon = 1e-3f;
  LnWeights main, hyp;
  int Width() const { return units + hyper_units; }   // [h, hh], the hyper cell's product input
};

// The masks of the hyper cell [T, B, HH] (or none), as `Sequence` reads the main cell's.
tensorflow::Status ReadHyperMask(const Tensor& mask, const Sequence& seq, int hyper_units,
                                 const float** out) {
  *out = nullptr;
  if (mask.NumElements() == 0) return tensorflow::OkStatus();
  if (mask.shape() != TensorShape({seq.steps, seq.batch, hyper_units})) {
    return InvalidArgument("HyperLSTM sequence: the hyper cell's dropout masks must be [T, B, HH] "
                           "or empty, got ", mask.shape().DebugString());
  }
  *out = mask.flat<float>().data();
  return tensorflow::OkStatus();
}

LnWeights LnAt(OpKernelContext* ctx, int first) {
  return {ctx->input(first).flat<float>().data(), ctx->input(first + 1).flat<float>().data(),
          ctx->input(first + 2).flat<float>().data(), ctx->input(first + 3).flat<float>().data()};
}

// Checks the shapes of the weights: w_h [H, 4H], 4 main gains and biases, W_hyp
// [H + HH, 4HH], 4 hyper gains and biases, w_z [HH, 12E], w_ab [12, E, H].
tensorflow::Status CheckWeights(OpKernelContext* ctx, const HyperModel& m, int w_h, int main_ln,
                                int hyp_w_h, int hyp_ln, int w_z, int w_ab) {
  const int u = m.units, hu = m.hyper_units, e = m.embedding;
  const std::pair<int, TensorShape> want[] = {
      {w_h, TensorShape({u, 4 * u})},          {main_ln, TensorShape({4 * u})},
      {main_ln + 1, TensorShape({4 * u})},     {main_ln + 2, TensorShape({u})},
      {main_ln + 3, TensorShape({u})},         {hyp_w_h, TensorShape({u + hu, 4 * hu})},
      {hyp_ln, TensorShape({4 * hu})},         {hyp_ln + 1, TensorShape({4 * hu})},
      {hyp_ln + 2, TensorShape({hu})},         {hyp_ln + 3, TensorShape({hu})},
      {w_z, TensorShape({hu, kGroups * e})},   {w_ab, TensorShape({kGroups, e, u})}};
  for (const auto& [index, shape] : want) {
    if (ctx->input(index).shape() != shape) {
      return InvalidArgument("HyperLSTM sequence: input ", index, " must be ", shape.DebugString(),
                             ", got ", ctx->input(index).shape().DebugString());
    }
  }
  return tensorflow::OkStatus();
}

// products[0, count), each on this thread.
void Run(const Product* products, int count) {
  for (int i = 0; i < count; ++i) products[i].Run();
}

float* At(Tensor* t, size_t offset) { return t->flat<float>().data() + offset; }
const float* At(const Tensor& t, size_t offset) { return t.flat<float>().data() + offset; }

class HyperSequenceForward : public OpKernel {
 public:
  explicit HyperSequenceForward(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("keep_prob", &keep_prob_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("forget_bias", &forget_bias_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("epsilon", &epsilon_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("bf16_weights", &bf16_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("threads", &threads_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& xw = ctx->input(0);
    const Tensor& hyper_xw = ctx->input(1);
    const Tensor& c0 = ctx->input(2);
    const Tensor& hc0 = ctx->input(4);
    Sequence seq;
    OP_REQUIRES_OK(ctx, seq.Read(xw, c0, ctx->input(20), ctx->input(22), keep_prob_, threads_));
    HyperModel m;
    m.units = seq.units, m.forget_bias = forget_bias_, m.epsilon = epsilon_;
    OP_REQUIRES(ctx, hc0.dims() == 2 && hc0.dim_size(0) == seq.batch && hc0.dim_size(1) > 0 &&
                         ctx->input(18).dims() == 1 && ctx->input(18).NumElements() % kGroups == 0,
                InvalidArgument("HyperLSTM sequence forward: hc0 [B, HH], b_z [12E], got hc0 ",
                                hc0.shape().DebugString(), ", b_z ", ctx->input(18).shape().DebugString()));
    m.hyper_units = hc0.dim_size(1), m.embedding = ctx->input(18).NumElements() / kGroups;
    const int steps = seq.steps, batch = seq.batch, u = m.units, hu = m.hyper_units,
              e = m.embedding;
    OP_REQUIRES_OK(ctx, CheckWeights(ctx, m, 6, 8, 12, 13, 17, 19));
    OP_REQUIRES(ctx, xw.shape() == TensorShape({batch, steps, 4 * u}) &&
                         hyper_xw.shape() == TensorShape({batch, steps, 4 * hu}) &&
                         ctx->input(3).shape() == c0.shape() && ctx->input(5).shape() == hc0.shape() &&
                         ctx->input(7).shape() == TensorShape({4 * u}),
                InvalidArgument("HyperLSTM sequence forward: xw [B, T, 4H], hyper_xw [B, T, 4HH], "
                                "c0, h0 [B, H], hc0, hh0 [B, HH], bias [4H], got xw ",
                                xw.shape().DebugString(), ", hyper_xw ", hyper_xw.shape().DebugString()));
    const float* hyper_mask;
    OP_REQUIRES_OK(ctx, ReadHyperMask(ctx->input(21), seq, hu, &hyper_mask));
    m.main = LnAt(ctx, 8), m.hyp = LnAt(ctx, 13);
    const float* bias = ctx->input(7).flat<float>().data();
    const float* b_z = ctx->input(18).flat<float>().data();

    // Outputs: the sequence, the final state, then what the backward op reads.
    const int widths[] = {u, 0, 0, 0, 0,            // out; c_n, h_n, hc_n, hh_n (states)
                          u, u, hu, hu,             // c_in, h_in, hc_in, hh_in
                          4 * u, 4, u, 1,           // n, rstd, nc, rstd_c
                          4 * hu, 4, hu, 1,         // the hyper cell's
                          4 * u, kGroups * e, hu};  // hw, z, hh_out
    Tensor* out[20];
    for (int k = 0; k < 20; ++k) {
      const TensorShape shape = k == 0 || k > 4 ? TensorShape({batch, steps, widths[k]})
                                                : (k < 3 ? c0.shape() : hc0.shape());
      OP_REQUIRES_OK(ctx, ctx->allocate_output(k, shape, &out[k]));
    }
    std::copy_n(c0.flat<float>().data(), c0.NumElements(), At(out[1], 0));
    std::copy_n(ctx->input(3).flat<float>().data(), c0.NumElements(), At(out[2], 0));
    std::copy_n(hc0.flat<float>().data(), hc0.NumElements(), At(out[3], 0));
    std::copy_n(ctx->input(5).flat<float>().data(), hc0.NumElements(), At(out[4], 0));
    if (batch == 0 || steps == 0) return;

    Operand w_h, hyp_w_h, w_z, w_ab[kGroups];
    std::vector<float> scratch;
    Pack(At(ctx->input(6), 0), u, 4 * u, false, bf16_, seq.threads, &w_h, &scratch);
    Pack(At(ctx->input(12), 0), u + hu, 4 * hu, false, bf16_, seq.threads, &hyp_w_h, &scratch);
    Pack(At(ctx->input(17), 0), hu, kGroups * e, false, bf16_, seq.threads, &w_z, &scratch);
    for (int g = 0; g < kGroups; ++g)
      Pack(At(ctx->input(19), static_cast<size_t>(g) * e * u), e, u, false, bf16_, seq.threads,
           &w_ab[g], &scratch);
    const bool tiles = bf16_ && AmxUsable();
    seq.ForEachShare(tiles, [&](int, int row0, int rows) {
      const int width = m.Width(), ab_cols = w_ab[0].cols;
      std::vector<float> state(static_cast<size_t>(rows) * width);   // [h, hh] per row
      float* c = At(out[1], static_cast<size_t>(row0) * u);
      float* hc = At(out[3], static_cast<size_t>(row0) * hu);
      for (int r = 0; r < rows; ++r) {
        std::copy_n(At(out[2], static_cast<size_t>(row0 + r) * u), u, &state[r * width]);
        std::copy_n(At(out[4], static_cast<size_t>(row0 + r) * hu), hu, &state[r * width + u]);
      }
      std::vector<float> s_hyp(static_cast<size_t>(rows) * hyp_w_h.cols),
          hw(static_cast<size_t>(rows) * w_h.cols), z(static_cast<size_t>(rows) * w_z.cols),
          ab(static_cast<size_t>(kGroups) * rows * ab_cols), hc_new(static_cast<size_t>(rows) * hu),
          hh_new(static_cast<size_t>(rows) * hu), s(4 * u), act(4 * u), c_new(u), h_new(u);
      Product p[kGroups];
      for (Product& product : p) product.tiles = tiles;
      for (int t = 0; t < steps; ++t) {
        p[0].Prepare(state.data(), width, rows, hyp_w_h, s_hyp.data(), hyp_w_h.cols, false);
        p[1].Prepare(state.data(), width, rows, w_h, hw.data(), w_h.cols, false);
        Run(p, 2);
        for (int r = 0; r < rows; ++r) {
          const int b = row0 + r;
          const size_t row_u = seq.Row(t, b, u), row_hu = seq.Row(t, b, hu);
          std::copy_n(c + r * u, u, At(out[5], row_u));
          std::copy_n(&state[r * width], u, At(out[6], row_u));
          std::copy_n(hc + r * hu, hu, At(out[7], row_hu));
          std::copy_n(&state[r * width + u], hu, At(out[8], row_hu));
          float* sh = &s_hyp[static_cast<size_t>(r) * hyp_w_h.cols];
          ArrayMap(sh, 4 * hu) += ConstArrayMap(At(hyper_xw, seq.Row(t, b, 4 * hu)), 4 * hu);
          const float* hmask = hyper_mask ? hyper_mask + (static_cast<size_t>(t) * batch + b) * hu
                                          : nullptr;
          LnRowForward(sh, hc + r * hu, hmask, seq.scale, m.hyp, hu, m.forget_bias, m.epsilon,
                       At(out[13], seq.Row(t, b, 4 * hu)), At(out[14], seq.Row(t, b, 4)), act.data(),
                       &hc_new[r * hu], At(out[15], row_hu), At(out[16], seq.Row(t, b, 1)),
                       &hh_new[r * hu]);
          std::copy_n(&hh_new[r * hu], hu, At(out[19], row_hu));
          std::copy_n(b_z, kGroups * e, &z[static_cast<size_t>(r) * w_z.cols]);
        }
        p[0].Prepare(hh_new.data(), hu, rows, w_z, z.data(), w_z.cols, true);
        Run(p, 1);
        for (int g = 0; g < kGroups; ++g)
          p[g].Prepare(z.data() + g * e, w_z.cols, rows, w_ab[g], &ab[static_cast<size_t>(g) * rows * ab_cols],
                       ab_cols, false);
        Run(p, kGroups);
        for (int r = 0; r < rows; ++r) {
          const int b = row0 + r;
          std::copy_n(&z[static_cast<size_t>(r) * w_z.cols], kGroups * e, At(out[18], seq.Row(t, b, kGroups * e)));
          const float* x = At(xw, seq.Row(t, b, 4 * u));
          const float* hwr = &hw[static_cast<size_t>(r) * w_h.cols];
          std::copy_n(hwr, 4 * u, At(out[17], seq.Row(t, b, 4 * u)));
          auto scale = [&](int group, int gate) {
            return ConstArrayMap(&ab[(static_cast<size_t>(group + gate) * rows + r) * ab_cols], u);
          };
          for (int gate = 0; gate < 4; ++gate) {
            const int o = gate * u;
            ArrayMap(s.data() + o, u) = scale(0, gate) * ConstArrayMap(x + o, u) +
                                        scale(4, gate) * ConstArrayMap(hwr + o, u) +
                                        ConstArrayMap(bias + o, u) + scale(8, gate);
          }
          float* o = At(out[0], seq.Row(t, b, u));
          LnRowForward(s.data(), c + r * u, seq.MaskRow(t, b), seq.scale, m.main, u, m.forget_bias,
                       m.epsilon, At(out[9], seq.Row(t, b, 4 * u)), At(out[10], seq.Row(t, b, 4)),
                       act.data(), c_new.data(), At(out[11], seq.Row(t, b, u)),
                       At(out[12], seq.Row(t, b, 1)), o);
          if (seq.Alive(b, t)) {
            std::copy_n(c_new.data(), u, c + r * u);
            std::copy_n(o, u, &state[r * width]);
            std::copy_n(&hc_new[r * hu], hu, hc + r * hu);
            std::copy_n(&hh_new[r * hu], hu, &state[r * width + u]);
          }
        }
      }
      for (int r = 0; r < rows; ++r) {
        std::copy_n(&state[r * width], u, At(out[2], static_cast<size_t>(row0 + r) * u));
        std::copy_n(&state[r * width + u], hu, At(out[4], static_cast<size_t>(row0 + r) * hu));
      }
    });
  }

 private:
  float keep_prob_, forget_bias_, epsilon_;
  bool bf16_;
  int threads_;
};

// The sums a thread adds up over its rows and steps, added together after.
struct HyperSums {
  std::vector<float> w_ab, bias, main[4], hyp[4];
  HyperSums(int u, int hu, int e) : w_ab(static_cast<size_t>(kGroups) * e * u), bias(4 * u) {
    const int main_sizes[] = {4 * u, 4 * u, u, u}, hyp_sizes[] = {4 * hu, 4 * hu, hu, hu};
    for (int k = 0; k < 4; ++k) main[k].assign(main_sizes[k], 0.0f), hyp[k].assign(hyp_sizes[k], 0.0f);
  }
};

class HyperSequenceBackward : public OpKernel {
 public:
  explicit HyperSequenceBackward(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("keep_prob", &keep_prob_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("forget_bias", &forget_bias_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("bf16_weights", &bf16_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("threads", &threads_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& dout = ctx->input(0);
    const Tensor& dc_n = ctx->input(1);
    const Tensor& dhc_n = ctx->input(3);
    Sequence seq;
    OP_REQUIRES_OK(ctx, seq.Read(dout, dc_n, ctx->input(30), ctx->input(32), keep_prob_, threads_));
    HyperModel m;
    m.units = seq.units, m.forget_bias = forget_bias_;
    OP_REQUIRES(ctx, dhc_n.dims() == 2 && dhc_n.dim_size(0) == seq.batch && dhc_n.dim_size(1) > 0 &&
                         ctx->input(17).dims() == 3 && ctx->input(17).dim_size(2) % kGroups == 0,
                InvalidArgument("HyperLSTM sequence backward: dhc_n [B, HH], z [B, T, 12E], got ",
                                dhc_n.shape().DebugString(), ", ", ctx->input(17).shape().DebugString()));
    m.hyper_units = dhc_n.dim_size(1), m.embedding = ctx->input(17).dim_size(2) / kGroups;
    const int steps = seq.steps, batch = seq.batch, u = m.units, hu = m.hyper_units,
              e = m.embedding;
    OP_REQUIRES_OK(ctx, CheckWeights(ctx, m, 18, 19, 23, 24, 28, 29));
    const int widths[] = {u, 0, 0, 0, 0, 4 * u,   // dout, (states), xw
                          u, hu, 4 * u, 4, u, 1, 4 * hu, 4, hu, 1, 4 * u, kGroups * e};
    for (int k = 0; k < 18; ++k) {
      const TensorShape want = k == 0 || k > 4 ? TensorShape({batch, steps, widths[k]})
                                               : (k < 3 ? dc_n.shape() : dhc_n.shape());
      OP_REQUIRES(ctx, ctx->input(k).shape() == want,
                  InvalidArgument("HyperLSTM sequence backward: input ", k, " must be ",
                                  want.DebugString(), ", got ", ctx->input(k).shape().DebugString()));
    }
    const float* hyper_mask;
    OP_REQUIRES_OK(ctx, ReadHyperMask(ctx->input(31), seq, hu, &hyper_mask));
    m.main = LnAt(ctx, 19), m.hyp = LnAt(ctx, 24);
    const Tensor& xw = ctx->input(5);
    const Tensor &c_in = ctx->input(6), &hc_in = ctx->input(7), &n = ctx->input(8),
                 &rstd = ctx->input(9), &nc = ctx->input(10), &rstd_c = ctx->input(11),
                 &hyp_n = ctx->input(12), &hyp_rstd = ctx->input(13), &hyp_nc = ctx->input(14),
                 &hyp_rstd_c = ctx->input(15), &hw = ctx->input(16), &z = ctx->input(17);

    // Outputs: dxw, d hyper_xw (ds_hyp), dz, dhw [B, T, .]; the initial state's
    // gradients; the sums: W_ab [12, E, H], bias [4H], main and hyper gains and biases.
    Tensor* out[18];
    const TensorShape seq_shapes[] = {{batch, steps, 4 * u}, {batch, steps, 4 * hu},
                                      {batch, steps, kGroups * e}, {batch, steps, 4 * u}};
    for (int k = 0; k < 4; ++k) OP_REQUIRES_OK(ctx, ctx->allocate_output(k, seq_shapes[k], &out[k]));
    for (int k = 0; k < 4; ++k) {
      const Tensor& init = ctx->input(1 + k);
      OP_REQUIRES_OK(ctx, ctx->allocate_output(4 + k, init.shape(), &out[4 + k]));
      std::copy_n(init.flat<float>().data(), init.NumElements(), At(out[4 + k], 0));
    }
    OP_REQUIRES_OK(ctx, ctx->allocate_output(8, TensorShape({kGroups, e, u}), &out[8]));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(9, TensorShape({4 * u}), &out[9]));
    for (int k = 0; k < 4; ++k) {
      OP_REQUIRES_OK(ctx, ctx->allocate_output(10 + k, TensorShape({k < 2 ? 4 * u : u}), &out[10 + k]));
      OP_REQUIRES_OK(ctx, ctx->allocate_output(14 + k, TensorShape({k < 2 ? 4 * hu : hu}), &out[14 + k]));
    }
    for (int k = 8; k < 18; ++k) std::fill_n(At(out[k], 0), out[k]->NumElements(), 0.0f);
    if (batch == 0 || steps == 0) return;

    Operand w_h_t, hyp_w_h_t, w_z_t, w_ab[8], w_ab_t[kGroups];
    std::vector<float> scratch;
    Pack(At(ctx->input(18), 0), u, 4 * u, true, bf16_, seq.threads, &w_h_t, &scratch);
    Pack(At(ctx->input(23), 0), u + hu, 4 * hu, true, bf16_, seq.threads, &hyp_w_h_t, &scratch);
    Pack(At(ctx->input(28), 0), hu, kGroups * e, true, bf16_, seq.threads, &w_z_t, &scratch);
    for (int g = 0; g < kGroups; ++g) {
      const float* wg = At(ctx->input(29), static_cast<size_t>(g) * e * u);
      if (g < 8) Pack(wg, e, u, false, bf16_, seq.threads, &w_ab[g], &scratch);
      Pack(wg, e, u, true, bf16_, seq.threads, &w_ab_t[g], &scratch);
    }
    const bool tiles = bf16_ && AmxUsable();
    std::vector<std::unique_ptr<HyperSums>> sums(seq.threads);
    for (auto& sum : sums) sum.reset(new HyperSums(u, hu, e));
    seq.ForEachShare(tiles, [&](int id, int row0, int rows) {
      HyperSums& sum = *sums[id];
      const int ab_cols = w_ab[0].cols, dz_cols = w_ab_t[0].cols;
      // The carried gradients of the state (c, h, hc, hh) live in the dc0 ... dhh0 outputs.
      float* dc = At(out[4], static_cast<size_t>(row0) * u);
      float* dh = At(out[5], static_cast<size_t>(row0) * u);
      float* dhc = At(out[6], static_cast<size_t>(row0) * hu);
      float* dhh = At(out[7], static_cast<size_t>(row0) * hu);
      const size_t ru = static_cast<size_t>(rows) * u, rhu = static_cast<size_t>(rows) * hu;
      std::vector<float> alpha(8 * static_cast<size_t>(rows) * ab_cols),
          dab(static_cast<size_t>(kGroups) * ru), dz(static_cast<size_t>(kGroups) * rows * dz_cols),
          dz_rows(static_cast<size_t>(rows) * kGroups * e), z_g(static_cast<size_t>(rows) * e),
          dhh_new(static_cast<size_t>(rows) * w_z_t.cols), dr(static_cast<size_t>(rows) * hyp_w_h_t.cols),
          dh_in(static_cast<size_t>(rows) * w_h_t.cols), dc_in(ru), dhc_in(rhu), zeros(std::max(u, hu)),
          dh_row(u), dpre(4 * u), act(4 * std::max(u, hu)), tc(std::max(u, hu)), dcell(std::max(u, hu));
      Product p[kGroups];
      for (Product& product : p) product.tiles = tiles;
      const int z_stride = steps * kGroups * e;   // z's rows, batch-major
      for (int t = steps - 1; t >= 0; --t) {
        // alpha_x and alpha_h again, from the kept embeddings.
        for (int g = 0; g < 8; ++g)
          p[g].Prepare(At(z, seq.Row(t, row0, kGroups * e)) + g * e, z_stride, rows, w_ab[g],
                       &alpha[static_cast<size_t>(g) * rows * ab_cols], ab_cols, false);
        Run(p, 8);
        for (int r = 0; r < rows; ++r) {
          const int b = row0 + r;
          const bool live = seq.Alive(b, t);
          ArrayMap(dh_row.data(), u) = ConstArrayMap(At(dout, seq.Row(t, b, u)), u);
          if (live) ArrayMap(dh_row.data(), u) += ConstArrayMap(dh + r * u, u);
          LnRowBackward(dh_row.data(), live ? dc + r * u : zeros.data(), At(n, seq.Row(t, b, 4 * u)),
                        At(rstd, seq.Row(t, b, 4)), At(nc, seq.Row(t, b, u)), *At(rstd_c, seq.Row(t, b, 1)),
                        At(c_in, seq.Row(t, b, u)), seq.MaskRow(t, b), seq.scale, m.main, u,
                        m.forget_bias, act.data(), tc.data(), dcell.data(), dpre.data(),
                        &dc_in[r * u], sum.main[0].data(), sum.main[1].data(), sum.main[2].data(),
                        sum.main[3].data());
          ArrayMap(sum.bias.data(), 4 * u) += ConstArrayMap(dpre.data(), 4 * u);
          const float* x = At(xw, seq.Row(t, b, 4 * u));
          const float* hwr = At(hw, seq.Row(t, b, 4 * u));
          float* dxw = At(out[0], seq.Row(t, b, 4 * u));
          float* dhw = At(out[3], seq.Row(t, b, 4 * u));
          for (int gate = 0; gate < 4; ++gate) {
            const int o = gate * u;
            ConstArrayMap d(dpre.data() + o, u);
            auto dab_at = [&](int group) { return ArrayMap(&dab[(static_cast<size_t>(group) * rows + r) * u], u); };
            auto alpha_at = [&](int group) {
              return ConstArrayMap(&alpha[(static_cast<size_t>(group) * rows + r) * ab_cols], u);
            };
            dab_at(gate) = d * ConstArrayMap(x + o, u);
            dab_at(4 + gate) = d * ConstArrayMap(hwr + o, u);
            dab_at(8 + gate) = d;
            ArrayMap(dxw + o, u) = alpha_at(gate) * d;
            ArrayMap(dhw + o, u) = alpha_at(4 + gate) * d;
          }
        }
        // dz_g = dab_g W_ab,g^T; W_ab,g's gradient += z_g^T dab_g.
        for (int g = 0; g < kGroups; ++g)
          p[g].Prepare(&dab[static_cast<size_t>(g) * ru], u, rows, w_ab_t[g],
                       &dz[static_cast<size_t>(g) * rows * dz_cols], dz_cols, false);
        Run(p, kGroups);
        for (int g = 0; g < kGroups; ++g) {
          for (int r = 0; r < rows; ++r) {
            std::copy_n(At(z, seq.Row(t, row0 + r, kGroups * e)) + g * e, e, &z_g[r * e]);
            std::copy_n(&dz[(static_cast<size_t>(g) * rows + r) * dz_cols], e,
                        &dz_rows[static_cast<size_t>(r) * kGroups * e + g * e]);
          }
          Eigen::Map<RowMatrix>(&sum.w_ab[static_cast<size_t>(g) * e * u], e, u).noalias() +=
              Eigen::Map<const RowMatrix>(z_g.data(), rows, e).transpose() *
              Eigen::Map<const RowMatrix>(&dab[static_cast<size_t>(g) * ru], rows, u);
        }
        for (int r = 0; r < rows; ++r)
          std::copy_n(&dz_rows[static_cast<size_t>(r) * kGroups * e], kGroups * e,
                      At(out[2], seq.Row(t, row0 + r, kGroups * e)));
        // The hyper cell: dhh' = dz W_z^T (+ the carried dhh), its update's gradient.
        p[0].Prepare(dz_rows.data(), kGroups * e, rows, w_z_t, dhh_new.data(), w_z_t.cols, false);
        Run(p, 1);
        for (int r = 0; r < rows; ++r) {
          const int b = row0 + r;
          const bool live = seq.Alive(b, t);
          float* dhh_r = &dhh_new[static_cast<size_t>(r) * w_z_t.cols];
          if (live) ArrayMap(dhh_r, hu) += ConstArrayMap(dhh + r * hu, hu);
          const float* hmask = hyper_mask ? hyper_mask + (static_cast<size_t>(t) * batch + b) * hu
                                          : nullptr;
          LnRowBackward(dhh_r, live ? dhc + r * hu : zeros.data(), At(hyp_n, seq.Row(t, b, 4 * hu)),
                        At(hyp_rstd, seq.Row(t, b, 4)), At(hyp_nc, seq.Row(t, b, hu)),
                        *At(hyp_rstd_c, seq.Row(t, b, 1)), At(hc_in, seq.Row(t, b, hu)), hmask,
                        seq.scale, m.hyp, hu, m.forget_bias, act.data(), tc.data(), dcell.data(),
                        At(out[1], seq.Row(t, b, 4 * hu)), &dhc_in[r * hu], sum.hyp[0].data(),
                        sum.hyp[1].data(), sum.hyp[2].data(), sum.hyp[3].data());
        }
        // d[h, hh] = ds_hyp W_hyp^T; dh += dhw W_h^T.
        p[0].Prepare(At(out[1], seq.Row(t, row0, 4 * hu)), steps * 4 * hu, rows, hyp_w_h_t, dr.data(),
                     hyp_w_h_t.cols, false);
        p[1].Prepare(At(out[3], seq.Row(t, row0, 4 * u)), steps * 4 * u, rows, w_h_t, dh_in.data(),
                     w_h_t.cols, false);
        Run(p, 2);
        // The state's gradients before this step; a finished row passes its own through.
        for (int r = 0; r < rows; ++r) {
          const bool live = seq.Alive(row0 + r, t);
          const float* drr = &dr[static_cast<size_t>(r) * hyp_w_h_t.cols];
          ArrayMap dcr(dc + r * u, u), dhr(dh + r * u, u), dhcr(dhc + r * hu, hu), dhhr(dhh + r * hu, hu);
          ConstArrayMap new_dc(&dc_in[r * u], u), new_dhc(&dhc_in[r * hu], hu), dr_h(drr, u),
              dr_hh(drr + u, hu), new_dh(&dh_in[static_cast<size_t>(r) * w_h_t.cols], u);
          if (live) {
            dcr = new_dc, dhr = new_dh + dr_h, dhcr = new_dhc, dhhr = dr_hh;
          } else {
            dcr += new_dc, dhr += new_dh + dr_h, dhcr += new_dhc, dhhr += dr_hh;
          }
        }
      }
    });
    for (const auto& sum : sums) {
      ArrayMap(At(out[8], 0), sum->w_ab.size()) += ConstArrayMap(sum->w_ab.data(), sum->w_ab.size());
      ArrayMap(At(out[9], 0), 4 * u) += ConstArrayMap(sum->bias.data(), 4 * u);
      for (int k = 0; k < 4; ++k) {
        ArrayMap(At(out[10 + k], 0), sum->main[k].size()) +=
            ConstArrayMap(sum->main[k].data(), sum->main[k].size());
        ArrayMap(At(out[14 + k], 0), sum->hyp[k].size()) +=
            ConstArrayMap(sum->hyp[k].data(), sum->hyp[k].size());
      }
    }
  }

 private:
  float keep_prob_, forget_bias_;
  bool bf16_;
  int threads_;
};

}  // namespace

REGISTER_OP("SketchRnnHyperSequenceForward")
    .Input("xw: float")              // 0  [B, T, 4H]
    .Input("hyper_xw: float")        // 1  [B, T, 4HH]
    .Input("c0: float")              // 2  [B, H]
    .Input("h0: float")              // 3
    .Input("hc0: float")             // 4  [B, HH]
    .Input("hh0: float")             // 5
    .Input("w_h: float")             // 6  [H, 4H]
    .Input("bias: float")            // 7  [4H]
    .Input("ln_gamma: float")        // 8  [4H]
    .Input("ln_beta: float")         // 9  [4H]
    .Input("ln_c_gamma: float")      // 10 [H]
    .Input("ln_c_beta: float")       // 11 [H]
    .Input("hyper_w_h: float")       // 12 [H + HH, 4HH]
    .Input("hyper_ln_gamma: float")  // 13 [4HH]
    .Input("hyper_ln_beta: float")   // 14
    .Input("hyper_ln_c_gamma: float")// 15 [HH]
    .Input("hyper_ln_c_beta: float") // 16
    .Input("w_z: float")             // 17 [HH, 12E] (`lstm_math.prepare`)
    .Input("b_z: float")             // 18 [12E]
    .Input("w_ab: float")            // 19 [12, E, H]
    .Input("masks: float")           // 20 [T, B, H] or [0]
    .Input("hyper_masks: float")     // 21 [T, B, HH] or [0]
    .Input("lengths: int32")         // 22 [B] or [0]
    .Output("out: float")            // [B, T, H]
    .Output("c_n: float")
    .Output("h_n: float")
    .Output("hc_n: float")
    .Output("hh_n: float")
    .Output("c_in: float")           // what the backward op reads, [B, T, .]
    .Output("h_in: float")
    .Output("hc_in: float")
    .Output("hh_in: float")
    .Output("n: float")
    .Output("rstd: float")
    .Output("nc: float")
    .Output("rstd_c: float")
    .Output("hyp_n: float")
    .Output("hyp_rstd: float")
    .Output("hyp_nc: float")
    .Output("hyp_rstd_c: float")
    .Output("hw: float")
    .Output("z: float")
    .Output("hh_out: float")
    .Attr("keep_prob: float = 1.0")
    .Attr("forget_bias: float = 1.0")
    .Attr("epsilon: float")
    .Attr("bf16_weights: bool = false")
    .Attr("threads: int = 1")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      auto batch = c->Dim(c->input(2), 0), steps = c->Dim(c->input(0), 1);
      auto u = c->Dim(c->input(2), 1), hu = c->Dim(c->input(4), 1);
      auto seq = [&](tensorflow::shape_inference::DimensionOrConstant d) {
        return c->MakeShape({batch, steps, d});
      };
      c->set_output(0, seq(u));
      for (int k = 1; k < 5; ++k) c->set_output(k, c->input(k < 3 ? 2 : 4));
      c->set_output(5, seq(u));
      c->set_output(6, seq(u));
      c->set_output(7, seq(hu));
      c->set_output(8, seq(hu));
      c->set_output(9, c->input(0));
      c->set_output(10, seq(4));
      c->set_output(11, seq(u));
      c->set_output(12, seq(1));
      c->set_output(13, c->input(1));
      c->set_output(14, seq(4));
      c->set_output(15, seq(hu));
      c->set_output(16, seq(1));
      c->set_output(17, c->input(0));
      c->set_output(18, seq(c->Dim(c->input(17), 1)));
      c->set_output(19, seq(hu));
      return tensorflow::OkStatus();
    });

REGISTER_OP("SketchRnnHyperSequenceBackward")
    .Input("dout: float")            // 0  [B, T, H]
    .Input("dc_n: float")            // 1  [B, H]
    .Input("dh_n: float")            // 2
    .Input("dhc_n: float")           // 3  [B, HH]
    .Input("dhh_n: float")           // 4
    .Input("xw: float")              // 5  [B, T, 4H]
    .Input("c_in: float")            // 6  the forward op's outputs 5, 7, 9-18
    .Input("hc_in: float")           // 7
    .Input("n: float")               // 8
    .Input("rstd: float")            // 9
    .Input("nc: float")              // 10
    .Input("rstd_c: float")          // 11
    .Input("hyp_n: float")           // 12
    .Input("hyp_rstd: float")        // 13
    .Input("hyp_nc: float")          // 14
    .Input("hyp_rstd_c: float")      // 15
    .Input("hw: float")              // 16
    .Input("z: float")               // 17
    .Input("w_h: float")             // 18
    .Input("ln_gamma: float")        // 19
    .Input("ln_beta: float")         // 20
    .Input("ln_c_gamma: float")      // 21
    .Input("ln_c_beta: float")       // 22
    .Input("hyper_w_h: float")       // 23
    .Input("hyper_ln_gamma: float")  // 24
    .Input("hyper_ln_beta: float")   // 25
    .Input("hyper_ln_c_gamma: float")// 26
    .Input("hyper_ln_c_beta: float") // 27
    .Input("w_z: float")             // 28
    .Input("w_ab: float")            // 29
    .Input("masks: float")           // 30
    .Input("hyper_masks: float")     // 31
    .Input("lengths: int32")         // 32
    .Output("dxw: float")            // [B, T, 4H]
    .Output("dhyper_xw: float")      // [B, T, 4HH], also the hyper cell's ds (W_hyp's gradient)
    .Output("dz: float")             // [B, T, 12E] (W_z's and b_z's gradients)
    .Output("dhw: float")            // [B, T, 4H] (W_h's gradient)
    .Output("dc0: float")
    .Output("dh0: float")
    .Output("dhc0: float")
    .Output("dhh0: float")
    .Output("dw_ab: float")          // [12, E, H]
    .Output("dbias: float")          // [4H]
    .Output("dln_gamma: float")
    .Output("dln_beta: float")
    .Output("dln_c_gamma: float")
    .Output("dln_c_beta: float")
    .Output("dhyper_ln_gamma: float")
    .Output("dhyper_ln_beta: float")
    .Output("dhyper_ln_c_gamma: float")
    .Output("dhyper_ln_c_beta: float")
    .Attr("keep_prob: float = 1.0")
    .Attr("forget_bias: float = 1.0")
    .Attr("bf16_weights: bool = false")
    .Attr("threads: int = 1")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(5));
      c->set_output(1, c->input(12));
      c->set_output(2, c->input(17));
      c->set_output(3, c->input(5));
      for (int k = 0; k < 4; ++k) c->set_output(4 + k, c->input(1 + k));
      c->set_output(8, c->input(29));
      c->set_output(9, c->input(19));
      for (int k = 0; k < 4; ++k) {
        c->set_output(10 + k, c->input(19 + k));
        c->set_output(14 + k, c->input(24 + k));
      }
      return tensorflow::OkStatus();
    });

REGISTER_KERNEL_BUILDER(Name("SketchRnnHyperSequenceForward").Device(DEVICE_CPU),
                        HyperSequenceForward);
REGISTER_KERNEL_BUILDER(Name("SketchRnnHyperSequenceBackward").Device(DEVICE_CPU),
                        HyperSequenceBackward);

}  // namespace sketch_rnn
