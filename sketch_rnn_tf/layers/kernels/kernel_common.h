// What the fused kernels (lstm_step.cc, draw_loop.cc) share: TensorFlow's kernel
// names, and the row helpers: bfloat16 conversions, the LSTM gate activations
// and layer norm of one row. The equations' home is `lstm_math`; these are the
// C++ forms the kernels share.
#ifndef SKETCH_RNN_TF_LAYERS_KERNELS_KERNEL_COMMON_H_
#define SKETCH_RNN_TF_LAYERS_KERNELS_KERNEL_COMMON_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "unsupported/Eigen/CXX11/Tensor"

namespace sketch_rnn {

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
inline void LoadRow(const float* src, int n, float* dst) { std::copy_n(src, n, dst); }
inline void StoreRow(const float* src, int n, float* dst) { std::copy_n(src, n, dst); }
inline void LoadRow(const Eigen::bfloat16* src, int n, float* dst) {
  const uint16_t* in = reinterpret_cast<const uint16_t*>(src);
  uint32_t* out = reinterpret_cast<uint32_t*>(dst);
  for (int k = 0; k < n; ++k) out[k] = static_cast<uint32_t>(in[k]) << 16;
}
inline uint16_t ToBfloat16Bits(uint32_t v) {
  const bool nan = (v & 0x7fffffffu) > 0x7f800000u;
  const uint32_t rounded = (v + 0x7fffu + ((v >> 16) & 1u)) >> 16;
  return static_cast<uint16_t>(nan ? ((v >> 16) | 0x40u) : rounded);
}
inline uint16_t ToBfloat16Bits(float x) {
  uint32_t v;
  std::memcpy(&v, &x, sizeof v);
  return ToBfloat16Bits(v);
}
inline void StoreRow(const float* src, int n, Eigen::bfloat16* dst) {
  const uint32_t* in = reinterpret_cast<const uint32_t*>(src);
  uint16_t* out = reinterpret_cast<uint16_t*>(dst);
  for (int k = 0; k < n; ++k) out[k] = ToBfloat16Bits(in[k]);
}

// The gate activations of a row of pre-activations a = [i, j, f, o], in place:
// sigmoid(i), tanh(j), sigmoid(f + forget_bias), sigmoid(o). sigmoid(v) =
// (1 + tanh(v / 2)) / 2: Eigen's vectorised tanh is a rational approximation,
// ~3x faster here than its logistic (exp and a division).
inline void Activate(float* a, int units, float forget_bias) {
  for (int gate = 0; gate < 4; ++gate) {
    ArrayMap v(a + gate * units, units);
    if (gate == 1) {
      v = v.tanh();
    } else {
      if (gate == 2) v += forget_bias;
      v = (v * 0.5f).tanh() * 0.5f + 0.5f;
    }
  }
}

// Layer norm of a row of n: out = (x - mean(x)) * rstd, rstd = 1 / sqrt(var(x) + epsilon).
inline void Normalise(const float* x, int n, float epsilon, float* out, float* rstd) {
  ConstArrayMap v(x, n);
  const float mean = v.mean();
  ArrayMap o(out, n);
  o = v - mean;
  const float r = 1.0f / std::sqrt(o.square().mean() + epsilon);
  o *= r;
  *rstd = r;
}

// d/dx of n = LN(x) from dn: rstd * (dn - mean(dn) - n * mean(dn * n)), in place on dn.
inline void NormaliseGrad(float* dn, const float* n, int units, float rstd) {
  ArrayMap d(dn, units);
  ConstArrayMap nn(n, units);
  const float m1 = d.mean(), m2 = (d * nn).mean();
  d = rstd * (d - m1 - nn * m2);
}

// The activations from a row of normalised pre-activations n: Activate(n * gamma + beta).
inline void LnActivations(const float* n, const float* gamma, const float* beta, int units,
                          float forget_bias, float* act) {
  ArrayMap(act, 4 * units) = ConstArrayMap(n, 4 * units) * ConstArrayMap(gamma, 4 * units) +
                             ConstArrayMap(beta, 4 * units);
  Activate(act, units, forget_bias);
}

// The cell update from the activations act = [si, g, sf, so] [4H]: c_new = c * sf +
// si * drop(g), drop(g) = g * mask * scale (no mask: g). c_new may be c.
inline void CellUpdate(const float* act, const float* c, const float* mask, float scale, int units,
                       float* c_new) {
  ConstArrayMap si(act, units), g(act + units, units), sf(act + 2 * units, units);
  ArrayMap nc(c_new, units);
  if (mask) {
    nc = ConstArrayMap(c, units) * sf + si * (g * ConstArrayMap(mask, units) * scale);
  } else {
    nc = ConstArrayMap(c, units) * sf + si * g;
  }
}

// Its gradient for the input, forget and cell gates from dc (of c_new): ds's first
// 3H values (d_i, d_j, d_f, before any layer norm); the caller writes d_o.
inline void CellUpdateGrad(const float* dc, const float* act, const float* c_in, const float* mask,
                           float scale, int units, float* ds) {
  ConstArrayMap si(act, units), g(act + units, units), sf(act + 2 * units, units), dcc(dc, units);
  ArrayMap d_i(ds, units), d_j(ds + units, units), d_f(ds + 2 * units, units);
  if (mask) {
    ConstArrayMap m(mask, units);
    d_i = dcc * (g * m * scale) * si * (1.0f - si);
    d_j = (dcc * si) * m * scale * (1.0f - g * g);
  } else {
    d_i = dcc * g * si * (1.0f - si);
    d_j = (dcc * si) * (1.0f - g * g);
  }
  d_f = dcc * ConstArrayMap(c_in, units) * sf * (1.0f - sf);
}

// A layer-norm LSTM's gains and biases (`lstm_math.lstm_update` with layer_norm).
struct LnWeights {
  const float *gamma = nullptr, *beta = nullptr;        // [4H]
  const float *gamma_c = nullptr, *beta_c = nullptr;    // [H]
};

// One row of the layer-norm update from s [4H], the gates' pre-activations before
// their per-gate layer norm:
//   n_g = (s_g - mean(s_g)) * rstd_g,  rstd_g = 1 / sqrt(var(s_g) + epsilon)
//   [i, j, f, o] = n * gamma + beta;   c' = c * sf + si * drop(g)
//   h' = tanh(LN_c(c') * gamma_c + beta_c) * so
// writing n [4H], rstd [4], c_new [H], nc [H] (LN_c(c')), rstd_c [1] and h [H];
// act [4H] is scratch. mask [H] or null (then scale is not read).
inline void LnRowForward(const float* s, const float* c, const float* mask, float scale,
                         const LnWeights& w, int units, float forget_bias, float epsilon,
                         float* n, float* rstd, float* act, float* c_new, float* nc,
                         float* rstd_c, float* h) {
  for (int gate = 0; gate < 4; ++gate)
    Normalise(s + gate * units, units, epsilon, n + gate * units, rstd + gate);
  LnActivations(n, w.gamma, w.beta, units, forget_bias, act);
  CellUpdate(act, c, mask, scale, units, c_new);
  Normalise(c_new, units, epsilon, nc, rstd_c);
  ArrayMap(h, units) = (ConstArrayMap(nc, units) * ConstArrayMap(w.gamma_c, units) +
                        ConstArrayMap(w.beta_c, units)).tanh() *
                       ConstArrayMap(act + 3 * units, units);
}

// Its gradient from dh (of h') and dc_ext (of c', from the step after): ds [4H]
// (of s), dc_in [H] (of c); the gains' and biases' gradients added to acc_gamma,
// acc_beta [4H], acc_gamma_c, acc_beta_c [H]. act [4H], tc and dcell [H] are scratch.
inline void LnRowBackward(const float* dh, const float* dc_ext, const float* n,
                          const float* rstd, const float* nc, float rstd_c, const float* c_in,
                          const float* mask, float scale, const LnWeights& w, int units,
                          float forget_bias, float* act, float* tc, float* dcell, float* ds,
                          float* dc_in, float* acc_gamma, float* acc_beta, float* acc_gamma_c,
                          float* acc_beta_c) {
  LnActivations(n, w.gamma, w.beta, units, forget_bias, act);
  ConstArrayMap sf(act + 2 * units, units), so(act + 3 * units, units), ncm(nc, units),
      dhr(dh, units);
  ArrayMap t(tc, units);
  t = (ncm * ConstArrayMap(w.gamma_c, units) + ConstArrayMap(w.beta_c, units)).tanh();
  ArrayMap d_o(ds + 3 * units, units);
  d_o = dhr * t * so * (1.0f - so);
  ArrayMap dcc(dcell, units);
  dcc = dhr * so * (1.0f - t * t);
  ArrayMap(acc_gamma_c, units) += dcc * ncm;
  ArrayMap(acc_beta_c, units) += dcc;
  dcc *= ConstArrayMap(w.gamma_c, units);
  NormaliseGrad(dcell, nc, units, rstd_c);
  dcc += ConstArrayMap(dc_ext, units);
  CellUpdateGrad(dcell, act, c_in, mask, scale, units, ds);
  ArrayMap(dc_in, units) = dcc * sf;
  ArrayMap da(ds, 4 * units);
  ArrayMap(acc_gamma, 4 * units) += da * ConstArrayMap(n, 4 * units);
  ArrayMap(acc_beta, 4 * units) += da;
  da *= ConstArrayMap(w.gamma, 4 * units);
  for (int gate = 0; gate < 4; ++gate)
    NormaliseGrad(ds + gate * units, n + gate * units, units, rstd[gate]);
}

}  // namespace sketch_rnn

#endif  // SKETCH_RNN_TF_LAYERS_KERNELS_KERNEL_COMMON_H_
