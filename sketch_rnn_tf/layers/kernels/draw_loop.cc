// A Sketch-RNN decoder's whole drawing loop as one op: every step of every
// sketch (cell, mixture head, the draw of the next point) without leaving it.
//
// Why: one step of one sketch reads all of the decoder's weights (8.9 MB of
// float32 for the paper's HyperLSTM) and does a few thousand elementwise
// operations. As TensorFlow ops (XLA or graph mode) the step costs 1.4-1.7x
// the time to stream those weights; here the weights are read once per step,
// as bfloat16 if asked (half the bytes), with both cores streaming the panels
// of each matrix (`Team`), and the elementwise work is a few microseconds in
// cache.
// A batch is compute-bound: its rows are split between the cores, each
// running the loop over its rows on its own, and with bfloat16 weights the
// products run on the CPU's bfloat16 dot-product instructions (AVX512-BF16)
// where it has them, or on its matrix units (AMX tiles: 16 x 32 bfloat16
// times 32 x 16, accumulated in float32) where it has those.
//
// The equations are those of `lstm_math.step` (the cells), `mdn.split_params`
// (the head's columns) and `sampler.temperature_params` / `draw_point` /
// `decode_loop` (tempering, the inverse-CDF draws, end of sketch): the Python
// modules are their home, and the tests hold this op to `decode_loop`.
//
// Products go through `Operand`s and `Product`s (panels.h).
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "panels.h"

namespace sketch_rnn {
namespace {

constexpr int kTaskBytes = 48 << 10;   // the least weight bytes a shared task reads
constexpr int kPointSize = 5;    // stroke-5
constexpr int kNoiseSize = 4;    // u_mixture, u_pen, e1, e2 (sampler.NOISE_SIZE)

enum Kind { kPlain, kLayerNorm, kHyper };

// The products' right operands of one call.
struct Operands {
  Operand w_h, hyp_w_h, w_z, w_out;
  std::vector<Operand> w_ab = std::vector<Operand>(12);   // 12 groups [E, H]
};

// Everything of one call that every thread reads: sizes, weights, settings.
struct Model {
  Kind kind = kPlain;
  int units = 0, hyper_units = 0, embedding = 0, mixtures = 0, batch = 0, steps = 0;
  bool greedy = false;
  bool tiles = false;              // every thread has the AMX tiles configured
  float forget_bias = 1.0f, epsilon = 1e-3f, temperature = 1.0f;
  // Vectors read as they come: [5, 4H] input rows, bias [4H], layer norms' gains and biases.
  const float *w_x = nullptr, *bias = nullptr, *ln_gamma = nullptr, *ln_beta = nullptr,
              *ln_c_gamma = nullptr, *ln_c_beta = nullptr;
  const float *hyp_w_x = nullptr, *hyp_ln_gamma = nullptr, *hyp_ln_beta = nullptr,
              *hyp_ln_c_gamma = nullptr, *hyp_ln_c_beta = nullptr, *b_z = nullptr,
              *b_out = nullptr;
  const Operands* ops = nullptr;
  // Per-sketch inputs [B, ...] and the outputs.
  const float *prev = nullptr, *const_xw = nullptr, *hyp_const_xw = nullptr, *noise = nullptr;
  float *strokes = nullptr;        // [B, T, 5]
  int32_t* lengths = nullptr;      // [B]
  float *c = nullptr, *h = nullptr, *hyp_c = nullptr, *hyp_h = nullptr;   // outputs, from the inputs

  int RecurrentWidth() const { return units + hyper_units; }
  int OutputWidth() const { return 3 + 6 * mixtures; }
};

// dst = base + prev . w_x (+ bias), [width]: a step's input projection.
void Project(const float* base, const float* prev, const float* w_x, int width, const float* bias,
             float* dst) {
  for (int u = 0; u < width; ++u) {
    float v = base[u] + (bias ? bias[u] : 0.0f);
    for (int i = 0; i < kPointSize; ++i) v += prev[i] * w_x[i * width + u];
    dst[u] = v;
  }
}

// The layer-norm LSTM update of one row (`lstm_math.lstm_update`, layer_norm): s [4U]
// is overwritten, c [U] updated in place, h [U] written.
void LnUpdate(float* s, float* c, float* h, const float* gamma, const float* beta,
              const float* gamma_c, const float* beta_c, int units, const Model& m, float* cc) {
  float rstd[4], rstd_c;   // `LnRowForward` in place: s becomes n, then the activations
  LnRowForward(s, c, nullptr, 1.0f, LnWeights{gamma, beta, gamma_c, beta_c}, units,
               m.forget_bias, m.epsilon, s, rstd, s, c, cc, &rstd_c, h);
}

// The plain LSTM update of one row from a = s + bias (already added), in place on s.
void PlainUpdate(float* s, float* c, float* h, int units, const Model& m) {
  Activate(s, units, m.forget_bias);
  CellUpdate(s, c, nullptr, 1.0f, units, c);
  ArrayMap(h, units) = ConstArrayMap(c, units).tanh() * ConstArrayMap(s + 3 * units, units);
}

// The first k with cumsum(softmax(logits))_k > u (at most n - 1), as `sampler._inverse_cdf`.
int InverseCdf(const float* logits, int n, float u) {
  const float top = *std::max_element(logits, logits + n);
  float e[64], sum = 0.0f;
  for (int k = 0; k < n; ++k) sum += (e[k] = std::exp(logits[k] - top));
  const float inv = 1.0f / sum;
  float cdf = 0.0f;
  int count = 0;
  for (int k = 0; k < n; ++k) {
    cdf += e[k] * inv;
    count += cdf <= u;
  }
  return std::min(count, n - 1);
}

// The next point of one sketch from the head's output y [3 + 6M] (`sampler.draw_point`
// with `temperature_params`): writes point [5]; returns whether it is an end of sketch.
bool Draw(const float* y, const float* noise, const Model& m, float* point) {
  const int mix = m.mixtures;
  const float tau = m.temperature;
  float pi[64], q[3];
  for (int k = 0; k < 3; ++k) q[k] = y[k] / tau;
  for (int k = 0; k < mix; ++k) pi[k] = y[3 + k] / tau;
  int j, pen;
  if (m.greedy) {
    j = std::max_element(pi, pi + mix) - pi;
    pen = std::max_element(q, q + 3) - q;
  } else {
    j = InverseCdf(pi, mix, noise[0]);
    pen = InverseCdf(q, 3, noise[1]);
  }
  float dx = y[3 + mix + j], dy = y[3 + 2 * mix + j];
  if (!m.greedy) {
    const float half_log_tau = 0.5f * std::log(tau);
    const float sx = std::exp(y[3 + 3 * mix + j] + half_log_tau);
    const float sy = std::exp(y[3 + 4 * mix + j] + half_log_tau);
    const float rho = std::tanh(y[3 + 5 * mix + j]);
    dx += sx * noise[2];
    dy += sy * (rho * noise[2] + std::sqrt(std::max(1.0f - rho * rho, 0.0f)) * noise[3]);
  }
  point[0] = dx, point[1] = dy;
  for (int k = 0; k < 3; ++k) point[2 + k] = k == pen ? 1.0f : 0.0f;
  return pen == 2;
}

// One loop: the sketches [row0, row0 + rows). Its own thread runs every step's
// elementwise work and draws; the products' panels it shares with the team.
class Loop {
 public:
  Loop(const Model& m, int row0, int rows, int team) : m_(m), row0_(row0), rows_(rows), team_(team) {
    const int u = m.units, hu = m.hyper_units, width = m.RecurrentWidth();
    state_.assign(static_cast<size_t>(rows) * width, 0.0f);   // [h, hyper_h] per row
    for (int r = 0; r < rows; ++r) {
      std::copy_n(m.h + (row0 + r) * u, u, &state_[r * width]);
      if (hu) std::copy_n(m.hyp_h + (row0 + r) * hu, hu, &state_[r * width + u]);
    }
    prev_.assign(m.prev + row0 * kPointSize, m.prev + (row0 + rows) * kPointSize);
    finished_.assign(rows, 0);
    for (Product& p : products_) p.tiles = m.tiles;
    s_.resize(static_cast<size_t>(rows) * m.ops->w_h.cols);
    y_.resize(static_cast<size_t>(rows) * m.ops->w_out.cols);
    row_.resize(4 * u);   // a HyperLSTM step's x W_x
    cc_.resize(u);
    if (m.kind == kHyper) {
      hw_.resize(static_cast<size_t>(rows) * m.ops->w_h.cols);
      s_hyp_.resize(static_cast<size_t>(rows) * m.ops->hyp_w_h.cols);
      z_.resize(static_cast<size_t>(rows) * m.ops->w_z.cols);
      ab_.resize(static_cast<size_t>(12) * rows * m.ops->w_ab[0].cols);
    }
  }

  Team& team() { return team_; }

  void Run() {
    const Operands& ops = *m_.ops;
    const int width = m_.RecurrentWidth(), out = m_.OutputWidth();
    for (int t = 0; t < m_.steps; ++t) {
      if (m_.kind == kHyper) {
        HyperStep();
      } else {
        CellStep();
      }
      // The head: y = h W_out + b_out.
      for (int r = 0; r < rows_; ++r) std::copy_n(m_.b_out, out, &y_[r * ops.w_out.cols]);
      products_[0].Prepare(state_.data(), width, rows_, ops.w_out, y_.data(), ops.w_out.cols, true);
      RunProducts(1);
      for (int r = 0; r < rows_; ++r) DrawRow(r, t);
    }
    for (int r = 0; r < rows_; ++r) {
      const int b = row0_ + r, u = m_.units, hu = m_.hyper_units;
      std::copy_n(&state_[r * width], u, m_.h + b * u);
      if (hu) std::copy_n(&state_[r * width + u], hu, m_.hyp_h + b * hu);
    }
  }

 private:
  // The panels of products_[0, n) as one phase of tasks for the team, a task being
  // enough panels to read at least kTaskBytes of weights (a claim costs ~0.1 us; the
  // 12 scale products' panels are 4 KB each).
  void RunProducts(int n) {
    tasks_.clear();
    for (int i = 0; i < n; ++i) {
      const Product& p = products_[i];
      const int panel_bytes = p.w->Depth() * kBlockCols * 4;
      const int per_task = std::max(1, kTaskBytes / panel_bytes);
      for (int first = 0; first < p.Panels(); first += per_task)
        tasks_.push_back({i, first, std::min(p.Panels(), first + per_task)});
    }
    team_.Run(static_cast<int>(tasks_.size()), [this](int task) {
      const Task& t = tasks_[task];
      for (int panel = t.first; panel < t.end; ++panel) products_[t.product].RunPanel(panel);
    });
  }

  // A plain or layer-norm step: s = x W_x + h W_h (+ bias), then the update.
  void CellStep() {
    const Operands& ops = *m_.ops;
    const int u = m_.units, g4 = 4 * u, ld = ops.w_h.cols;
    for (int r = 0; r < rows_; ++r)
      Project(m_.const_xw + (row0_ + r) * g4, &prev_[r * kPointSize], m_.w_x, g4,
              m_.kind == kPlain ? m_.bias : nullptr, &s_[r * ld]);
    products_[0].Prepare(state_.data(), m_.RecurrentWidth(), rows_, ops.w_h, s_.data(), ld, true);
    RunProducts(1);
    for (int r = 0; r < rows_; ++r) {
      float* c = m_.c + (row0_ + r) * u;
      float* h = &state_[r * m_.RecurrentWidth()];
      if (m_.kind == kPlain) {
        PlainUpdate(&s_[r * ld], c, h, u, m_);
      } else {
        LnUpdate(&s_[r * ld], c, h, m_.ln_gamma, m_.ln_beta, m_.ln_c_gamma, m_.ln_c_beta, u, m_,
                 cc_.data());
      }
    }
  }

  // A HyperLSTM step (`lstm_math.step`): the hyper cell, its embeddings and scales, the main cell.
  void HyperStep() {
    const Operands& ops = *m_.ops;
    const int u = m_.units, hu = m_.hyper_units, e = m_.embedding, width = m_.RecurrentWidth();
    const int g4 = 4 * u, hg4 = 4 * hu, ld_hyp = ops.hyp_w_h.cols;
    // The hyper cell's pre-activations and h W_h, both from the previous state.
    for (int r = 0; r < rows_; ++r)
      Project(m_.hyp_const_xw + (row0_ + r) * hg4, &prev_[r * kPointSize], m_.hyp_w_x, hg4,
              nullptr, &s_hyp_[r * ld_hyp]);
    products_[0].Prepare(state_.data(), width, rows_, ops.hyp_w_h, s_hyp_.data(), ld_hyp, true);
    products_[1].Prepare(state_.data(), width, rows_, ops.w_h, hw_.data(), ops.w_h.cols, false);
    RunProducts(2);
    for (int r = 0; r < rows_; ++r) {
      LnUpdate(&s_hyp_[r * ld_hyp], m_.hyp_c + (row0_ + r) * hu, &state_[r * width + u],
               m_.hyp_ln_gamma, m_.hyp_ln_beta, m_.hyp_ln_c_gamma, m_.hyp_ln_c_beta, hu, m_,
               cc_.data());
    }
    // The embeddings z = hyper_h W_z + b_z, then the 12 scale products z_g W_ab,g.
    for (int r = 0; r < rows_; ++r) std::copy_n(m_.b_z, 12 * e, &z_[r * ops.w_z.cols]);
    products_[0].Prepare(state_.data() + u, width, rows_, ops.w_z, z_.data(), ops.w_z.cols, true);
    RunProducts(1);
    const int ab_cols = ops.w_ab[0].cols;
    for (int g = 0; g < 12; ++g)
      products_[g].Prepare(z_.data() + g * e, ops.w_z.cols, rows_, ops.w_ab[g],
                           &ab_[g * rows_ * ab_cols], ab_cols, false);
    RunProducts(12);
    float* xw = row_.data();
    for (int r = 0; r < rows_; ++r) {
      // s_g = alpha_x,g (x W_x)_g + alpha_h,g (h W_h)_g + b_g + beta_g, per gate g.
      Project(m_.const_xw + (row0_ + r) * g4, &prev_[r * kPointSize], m_.w_x, g4, nullptr, xw);
      float* s = &s_[r * ops.w_h.cols];
      const float* hw = &hw_[r * ops.w_h.cols];
      for (int gate = 0; gate < 4; ++gate) {
        const int o = gate * u;
        auto scale = [&](int group) { return ConstArrayMap(&ab_[(group * rows_ + r) * ab_cols], u); };
        ArrayMap(s + o, u) = scale(gate) * ConstArrayMap(xw + o, u) +
                             scale(4 + gate) * ConstArrayMap(hw + o, u) +
                             ConstArrayMap(m_.bias + o, u) + scale(8 + gate);
      }
      LnUpdate(s, m_.c + (row0_ + r) * u, &state_[r * width], m_.ln_gamma, m_.ln_beta, m_.ln_c_gamma,
               m_.ln_c_beta, u, m_, cc_.data());
    }
  }

  void DrawRow(int r, int t) {
    const int b = row0_ + r;
    float* point = &prev_[r * kPointSize];
    const bool ends = Draw(&y_[r * m_.ops->w_out.cols],
                           m_.noise + (static_cast<size_t>(t) * m_.batch + b) * kNoiseSize, m_,
                           point) || finished_[r];
    if (ends) {
      std::fill_n(point, kPointSize, 0.0f);
      point[4] = 1.0f;
      if (!finished_[r]) m_.lengths[b] = t;
      finished_[r] = 1;
    }
    std::copy_n(point, kPointSize, m_.strokes + (static_cast<size_t>(b) * m_.steps + t) * kPointSize);
  }

  const Model& m_;
  const int row0_, rows_;
  Team team_;
  Product products_[12];
  struct Task { int product, first, end; };
  std::vector<Task> tasks_;
  std::vector<float> state_, prev_, s_, y_, hw_, s_hyp_, z_, ab_, row_, cc_;
  std::vector<char> finished_;
};

const char* const kKinds[] = {"lstm", "layer_norm", "hyper"};

class DrawLoop : public OpKernel {
 public:
  explicit DrawLoop(OpKernelConstruction* ctx) : OpKernel(ctx) {
    std::string kind;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("kind", &kind));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("bf16_weights", &bf16_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("greedy", &greedy_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("forget_bias", &forget_bias_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("epsilon", &epsilon_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("threads", &threads_));
    int k = 0;
    while (k < 3 && kind != kKinds[k]) ++k;
    OP_REQUIRES(ctx, k < 3, InvalidArgument("draw loop: kind must be lstm, layer_norm or hyper, not ", kind));
    kind_ = static_cast<Kind>(k);
  }

  void Compute(OpKernelContext* ctx) override {
    Model m;
    m.kind = kind_, m.greedy = greedy_;
    m.forget_bias = forget_bias_, m.epsilon = epsilon_;
    const Tensor& prev = ctx->input(0);
    const Tensor& noise = ctx->input(7);
    OP_REQUIRES(ctx, prev.dims() == 2 && prev.dim_size(1) == kPointSize,
                InvalidArgument("draw loop: prev must be [B, 5], got ", prev.shape().DebugString()));
    OP_REQUIRES(ctx, noise.dims() == 3 && noise.dim_size(1) == prev.dim_size(0) &&
                         noise.dim_size(2) == kNoiseSize,
                InvalidArgument("draw loop: noise must be [T, B, 4], got ", noise.shape().DebugString()));
    OP_REQUIRES(ctx, ctx->input(8).NumElements() == 1,
                InvalidArgument("draw loop: temperature must be a scalar"));
    m.batch = prev.dim_size(0), m.steps = noise.dim_size(0);
    m.temperature = ctx->input(8).flat<float>()(0);
    OP_REQUIRES(ctx, greedy_ || (m.temperature > 0.0f && m.temperature <= 1.0f),
                InvalidArgument("draw loop: temperature must be in (0, 1], not ", m.temperature));
    const Tensor& c = ctx->input(1);
    const Tensor& w_h = ctx->input(10);
    const Tensor& w_out = ctx->input(25);
    m.units = c.dims() == 2 ? c.dim_size(1) : 0;
    m.hyper_units = ctx->input(3).dims() == 2 ? ctx->input(3).dim_size(1) : -1;
    OP_REQUIRES(ctx, m.units > 0 && w_out.dims() == 2 && w_out.dim_size(0) == m.units &&
                         (w_out.dim_size(1) - 3) % 6 == 0 && w_out.dim_size(1) > 3 &&
                         w_out.dim_size(1) <= 3 + 6 * 64,
                InvalidArgument("draw loop: w_out must be [H, 3 + 6M] (M <= 64), got ",
                                w_out.shape().DebugString()));
    m.mixtures = (w_out.dim_size(1) - 3) / 6;
    OP_REQUIRES(ctx, (kind_ == kHyper) == (m.hyper_units > 0) && m.hyper_units >= 0,
                InvalidArgument("draw loop: hyper_c must be [B, HH] with HH > 0 exactly for a HyperLSTM"));
    const int u = m.units, hu = m.hyper_units, b = m.batch;
    auto shaped = [&](int index, std::initializer_list<int64_t> dims, const char* name) {
      if (ctx->input(index).shape() == TensorShape(dims)) return true;
      ctx->CtxFailure(InvalidArgument("draw loop: ", name, " must be ", TensorShape(dims).DebugString(),
                                      ", got ", ctx->input(index).shape().DebugString()));
      return false;
    };
    const int64_t e12 = kind_ == kHyper ? ctx->input(23).NumElements() : 0;
    m.embedding = e12 / 12;
    if (!shaped(1, {b, u}, "c") || !shaped(2, {b, u}, "h") || !shaped(3, {b, hu}, "hyper_c") ||
        !shaped(4, {b, hu}, "hyper_h") || !shaped(5, {b, 4 * u}, "const_xw") ||
        !shaped(6, {b, 4 * hu}, "hyper_const_xw") || !shaped(9, {kPointSize, 4 * u}, "w_x") ||
        !shaped(10, {u, 4 * u}, "w_h") ||
        !shaped(11, {kind_ == kLayerNorm ? 0 : 4 * u}, "bias") ||
        !shaped(26, {3 + 6 * m.mixtures}, "b_out"))
      return;
    const bool ln = kind_ != kPlain;
    const char* ln_names[] = {"ln_gamma", "ln_beta", "ln_c_gamma", "ln_c_beta"};
    for (int i = 0; i < 4; ++i)
      if (!shaped(12 + i, {ln ? (i < 2 ? 4 * u : u) : 0}, ln_names[i])) return;
    const char* hyp_ln_names[] = {"hyper_ln_gamma", "hyper_ln_beta", "hyper_ln_c_gamma", "hyper_ln_c_beta"};
    for (int i = 0; i < 4; ++i)
      if (!shaped(18 + i, {i < 2 ? 4 * hu : hu}, hyp_ln_names[i])) return;
    if (!shaped(16, {kPointSize, 4 * hu}, "hyper_w_x")) return;
    if (kind_ == kHyper) {
      const int e = m.embedding;
      if (e * 12 != e12 || e == 0) {
        ctx->CtxFailure(InvalidArgument("draw loop: b_z must be [12E], got ", ctx->input(23).shape().DebugString()));
        return;
      }
      if (!shaped(17, {u + hu, 4 * hu}, "hyper_w_h") || !shaped(22, {hu, 12 * e}, "w_z") ||
          !shaped(24, {12, e, u}, "w_ab"))
        return;
    }
    auto f = [&](int index) { return ctx->input(index).NumElements() ? ctx->input(index).flat<float>().data() : nullptr; };
    m.prev = f(0), m.const_xw = f(5), m.hyp_const_xw = f(6), m.noise = f(7);
    m.w_x = f(9), m.bias = f(11), m.ln_gamma = f(12), m.ln_beta = f(13), m.ln_c_gamma = f(14),
    m.ln_c_beta = f(15), m.hyp_w_x = f(16), m.hyp_ln_gamma = f(18), m.hyp_ln_beta = f(19),
    m.hyp_ln_c_gamma = f(20), m.hyp_ln_c_beta = f(21), m.b_z = f(23), m.b_out = f(26);
    // The operands go into the kernel's own storage, kept between calls (a concurrent
    // call lays out its own), and are laid out by all threads, a panel each in turn.
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    Operands local;
    Operands* ops = lock.owns_lock() ? &cache_ : &local;
    m.ops = ops;
    struct Panel { Operand* op; const float* w; int index; };
    std::vector<Panel> panels;
    auto add = [&](Operand* op, const float* w, int rows, int columns) {
      for (int n = op->Shape(rows, columns, bf16_), i = 0; i < n; ++i) panels.push_back({op, w, i});
    };
    add(&ops->w_h, f(10), u, 4 * u);
    add(&ops->w_out, f(25), u, w_out.dim_size(1));
    if (kind_ == kHyper) {
      const int e = m.embedding;
      add(&ops->hyp_w_h, f(17), u + hu, 4 * hu);
      add(&ops->w_z, f(22), hu, 12 * e);
      for (int g = 0; g < 12; ++g) add(&ops->w_ab[g], f(24) + g * e * u, e, u);
    }
    Tensor *strokes, *lengths, *c_out, *h_out, *hc_out, *hh_out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({b, m.steps, kPointSize}), &strokes));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({b}), &lengths));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, c.shape(), &c_out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, c.shape(), &h_out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(4, ctx->input(3).shape(), &hc_out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(5, ctx->input(3).shape(), &hh_out));
    m.strokes = strokes->flat<float>().data();
    m.lengths = lengths->flat<int32_t>().data();
    std::fill_n(m.lengths, b, m.steps);
    m.c = c_out->flat<float>().data(), m.h = h_out->flat<float>().data();
    std::copy_n(c.flat<float>().data(), c.NumElements(), m.c);
    std::copy_n(ctx->input(2).flat<float>().data(), c.NumElements(), m.h);
    if (hu) {
      m.hyp_c = hc_out->flat<float>().data(), m.hyp_h = hh_out->flat<float>().data();
      std::copy_n(ctx->input(3).flat<float>().data(), b * hu, m.hyp_c);
      std::copy_n(ctx->input(4).flat<float>().data(), b * hu, m.hyp_h);
    }
    if (b == 0 || m.steps == 0) return;
    m.tiles = bf16_ && AmxUsable();
    int threads = threads_ > 0 ? threads_
                               : ctx->device()->tensorflow_cpu_worker_threads()->num_threads;
    threads = std::max(1, threads);
    // A batch of at least one row per thread: one loop per thread over its rows, no
    // sharing. Fewer sketches: one loop, whose products' panels the threads share.
    std::vector<std::unique_ptr<Loop>> loops;
    if (b >= threads) {
      for (int p = 0; p < threads; ++p) {
        const int r0 = b * p / threads, r1 = b * (p + 1) / threads;
        loops.emplace_back(new Loop(m, r0, r1 - r0, 1));
      }
    } else {
      loops.emplace_back(new Loop(m, 0, b, threads));
    }
    auto* pool = ctx->device()->tensorflow_cpu_worker_threads()->workers;
    RunOnThreads(pool, threads, [&](int id) {
      for (size_t i = id; i < panels.size(); i += threads) panels[i].op->FillPanel(panels[i].w, panels[i].index);
    });
    RunOnThreads(pool, threads, [&](int id) {
      AmxTiles configured(m.tiles);   // a thread's tile configuration is its own
      if (loops.size() > 1) {
        loops[id]->Run();
      } else if (id == 0) {
        loops[0]->Run();
        loops[0]->team().Stop();
      } else {
        loops[0]->team().Serve();
      }
    });
  }

 private:
  Kind kind_;
  bool bf16_, greedy_;
  float forget_bias_, epsilon_;
  int threads_;
  std::mutex mu_;
  Operands cache_;
};

}  // namespace

REGISTER_OP("SketchRnnDrawLoop")
    .Input("prev: float")             // 0  [B, 5], the first step's input point
    .Input("c: float")                // 1  [B, H]
    .Input("h: float")                // 2  [B, H]
    .Input("hyper_c: float")          // 3  [B, HH] ([B, 0] but for a HyperLSTM)
    .Input("hyper_h: float")          // 4  [B, HH]
    .Input("const_xw: float")         // 5  [B, 4H]: the constant input's (z, class) share of x W_x
    .Input("hyper_const_xw: float")   // 6  [B, 4HH]
    .Input("noise: float")            // 7  [T, B, 4]
    .Input("temperature: float")      // 8  []
    .Input("w_x: float")              // 9  [5, 4H]: W_x's rows for the point
    .Input("w_h: float")              // 10 [H, 4H]
    .Input("bias: float")             // 11 [4H] ([0] for a layer-norm cell)
    .Input("ln_gamma: float")         // 12 [4H] (these four [0] for a plain cell)
    .Input("ln_beta: float")          // 13 [4H]
    .Input("ln_c_gamma: float")       // 14 [H]
    .Input("ln_c_beta: float")        // 15 [H]
    .Input("hyper_w_x: float")        // 16 [5, 4HH] (hyper_*, w_z, b_z, w_ab: HyperLSTM only)
    .Input("hyper_w_h: float")        // 17 [H + HH, 4HH]
    .Input("hyper_ln_gamma: float")   // 18 [4HH]
    .Input("hyper_ln_beta: float")    // 19 [4HH]
    .Input("hyper_ln_c_gamma: float") // 20 [HH]
    .Input("hyper_ln_c_beta: float")  // 21 [HH]
    .Input("w_z: float")              // 22 [HH, 12E] (`lstm_math.prepare`)
    .Input("b_z: float")              // 23 [12E]
    .Input("w_ab: float")             // 24 [12, E, H]
    .Input("w_out: float")            // 25 [H, 3 + 6M], the mixture head
    .Input("b_out: float")            // 26 [3 + 6M]
    .Output("strokes: float")         // [B, T, 5]
    .Output("lengths: int32")         // [B]
    .Output("c_out: float")
    .Output("h_out: float")
    .Output("hyper_c_out: float")
    .Output("hyper_h_out: float")
    .Attr("kind: {'lstm', 'layer_norm', 'hyper'}")
    .Attr("bf16_weights: bool = false")
    .Attr("greedy: bool = false")
    .Attr("forget_bias: float = 1.0")
    .Attr("epsilon: float = 0.001")
    .Attr("threads: int = 0")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      auto batch = c->Dim(c->input(0), 0);
      c->set_output(0, c->MakeShape({batch, c->Dim(c->input(7), 0), kPointSize}));
      c->set_output(1, c->Vector(batch));
      for (int i = 0; i < 4; ++i) c->set_output(2 + i, c->input(1 + i));
      return tensorflow::OkStatus();
    });

REGISTER_KERNEL_BUILDER(Name("SketchRnnDrawLoop").Device(DEVICE_CPU), DrawLoop);

}  // namespace sketch_rnn
