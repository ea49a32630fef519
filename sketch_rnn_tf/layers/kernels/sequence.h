// What the fused sequence ops (lstm_step.cc, hyper_sequence.cc) share: the
// sequences' layout, masks and lengths, the split of the batch between threads,
// and the weights laid out as panels.
#ifndef SKETCH_RNN_TF_LAYERS_KERNELS_SEQUENCE_H_
#define SKETCH_RNN_TF_LAYERS_KERNELS_SEQUENCE_H_

#include <algorithm>
#include <vector>

#include "panels.h"

namespace sketch_rnn {

// What both sequence ops read: sizes, the optional mask and lengths, and the threads.
struct Sequence {
  int steps = 0, batch = 0, units = 0, threads = 1;
  const float* mask = nullptr;     // [T, B, H] or null
  const int32_t* lengths = nullptr;
  float scale = 1.0f;

  tensorflow::Status Read(const Tensor& seq, const Tensor& state,
                          const Tensor& mask_t, const Tensor& lengths_t, float keep_prob,
                          int max_threads) {
    if (seq.dims() != 3 || state.dims() != 2 || seq.dim_size(0) != state.dim_size(0)) {
      return InvalidArgument("LSTM sequence: a [B, T, n] sequence and a [B, H] state, got ",
                             seq.shape().DebugString(), " and ", state.shape().DebugString());
    }
    steps = seq.dim_size(1), batch = state.dim_size(0), units = state.dim_size(1);
    if (mask_t.NumElements() != 0) {
      if (mask_t.shape() != TensorShape({steps, batch, units})) {
        return InvalidArgument("LSTM sequence: the dropout masks must be [T, B, H] or empty, got ",
                               mask_t.shape().DebugString());
      }
      mask = mask_t.flat<float>().data();
      scale = 1.0f / keep_prob;
    }
    if (lengths_t.NumElements() != 0) {
      if (lengths_t.shape() != TensorShape({batch})) {
        return InvalidArgument("LSTM sequence: lengths must be [B] or empty, got ",
                               lengths_t.shape().DebugString());
      }
      lengths = lengths_t.flat<int32_t>().data();
    }
    threads = std::max(1, std::min(max_threads > 0 ? max_threads : 1, batch));
    return tensorflow::OkStatus();
  }

  bool Alive(int b, int t) const { return lengths == nullptr || t < lengths[b]; }
  const float* MaskRow(int t, int b) const {
    return mask ? mask + (static_cast<size_t>(t) * batch + b) * units : nullptr;
  }
  // Sequences are batch-major [B, T, n] (the masks alone are time-major, as made).
  size_t Row(int t, int b, int width) const {
    return (static_cast<size_t>(b) * steps + t) * width;
  }

  // fn(id, row0, rows) for each thread's share of the batch, side by side, each
  // thread with the AMX tiles configured for its products if it may use them.
  template <typename Fn>
  void ForEachShare(bool tiles, const Fn& fn) const {
    RunOnThreads(nullptr, threads, [&](int id) {
      AmxTiles configured(tiles);
      const int r0 = batch * id / threads, r1 = batch * (id + 1) / threads;
      fn(id, r0, r1 - r0);
    });
  }
};

// W (float32 [k, n], row-major, or its transpose if `transpose`) laid out in `w`'s panels.
inline void Pack(const float* data, int k, int n, bool transpose, bool bf16, int threads, Operand* w,
          std::vector<float>* scratch) {
  if (transpose) {   // W^T [n, k] from W [k, n]
    scratch->resize(static_cast<size_t>(k) * n);
    for (int r = 0; r < k; ++r)
      for (int c = 0; c < n; ++c) (*scratch)[static_cast<size_t>(c) * k + r] = data[static_cast<size_t>(r) * n + c];
    data = scratch->data();
    std::swap(k, n);
  }
  const int panels = w->Shape(k, n, bf16);
  RunOnThreads(nullptr, threads, [&](int id) {
    for (int p = id; p < panels; p += threads) w->FillPanel(data, p);
  });
}

}  // namespace sketch_rnn

#endif  // SKETCH_RNN_TF_LAYERS_KERNELS_SEQUENCE_H_
