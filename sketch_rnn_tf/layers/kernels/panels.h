// The products of the fused loops (draw_loop.cc, lstm_step.cc's sequence ops):
// C (+)= A W for a few hundred rows of A at most, with W laid out once per call.
//
// Products y = a W (a: rows of activations, W [K, N]) go through `Operand`s
// laid out once per call in panels of 64 columns:
//   float32: W as is;
//   bfloat16: W rounded to bfloat16 (nearest even) and stored as pairs of rows,
//     (W[2p, n], W[2p + 1, n]) in one 32-bit word, the layout of the
//     AVX512-BF16 dot product. With that instruction a is rounded to bfloat16
//     too and the products accumulate in float32 (as oneDNN's bfloat16 matmuls
//     in training); without it each pair is widened to float32 and a stays
//     float32. 16 row pairs of 16 columns, 256 bytes apart, are also an AMX
//     tile of W, so the matrix units read the same panels (a panel's depth is
//     padded to whole tiles with zero pairs).
#ifndef SKETCH_RNN_TF_LAYERS_KERNELS_PANELS_H_
#define SKETCH_RNN_TF_LAYERS_KERNELS_PANELS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#if defined(__AVX512BF16__) || (defined(__AMX_TILE__) && defined(__AMX_BF16__))
#include <immintrin.h>
#endif
#if defined(__AMX_TILE__) && defined(__AMX_BF16__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "kernel_common.h"
#include "tensorflow/core/platform/blocking_counter.h"
#include "tensorflow/core/platform/threadpool.h"

namespace sketch_rnn {

typedef float V16 __attribute__((vector_size(64), aligned(4)));
typedef uint32_t U16 __attribute__((vector_size(64), aligned(4)));
constexpr int kBlockCols = 64;   // 4 vectors of 16 floats
constexpr int kBlockRows = 6;    // 6 x 4 accumulators, 4 weight vectors, a broadcast: 29 of 32 registers
#if defined(__AVX512BF16__)
constexpr bool kBf16Dot = true;
#else
constexpr bool kBf16Dot = false;
#endif
constexpr int kTilePairs = 16;   // an AMX tile: 16 rows of 64 bytes (16 pairs, or 16 floats)
constexpr int kAmxRows = 32;     // the rows of A one AMX block multiplies (two tiles)
constexpr int kAmxMinRows = 16;  // fewer rows: the dot-product kernel (a tile would be mostly padding)

#if defined(__AMX_TILE__) && defined(__AMX_BF16__)
// Whether this process may use the tiles: Linux hands out their 8 KB of state only
// on request (arch_prctl ARCH_REQ_XCOMP_PERM for XTILEDATA, kernel 5.16+).
inline bool AmxUsable() {
  static const bool usable = [] {
    constexpr long kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return kBf16Dot && syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return usable;
}

// The tiles of one thread for as long as it runs a loop or serves one: 0-3 a
// 32 x 32 block of C, 4-5 two tiles of A's rows, 6-7 two of W's columns.
class AmxTiles {
 public:
  explicit AmxTiles(bool use) : use_(use) {
    if (!use_) return;
    struct alignas(64) {
      uint8_t palette = 1, start_row = 0, reserved[14] = {};
      uint16_t colsb[16] = {};
      uint8_t rows[16] = {};
    } config;
    for (int t = 0; t < 8; ++t) config.colsb[t] = 64, config.rows[t] = kTilePairs;
    _tile_loadconfig(&config);
  }
  ~AmxTiles() {
    if (use_) _tile_release();
  }

 private:
  const bool use_;
};

// out [32, 32] = A[32 rows, all pairs] W[:, 32 columns at w]: A's rows lda pairs
// apart, w the first of the columns in a panel (its rows 64 pairs apart), depth a
// whole number of tiles.
inline void KernelAmx(const uint32_t* a, int lda, const uint32_t* w, int depth, float* out) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int p = 0; p < depth; p += kTilePairs) {
    _tile_loadd(4, a + p, lda * 4);
    _tile_loadd(5, a + kTilePairs * lda + p, lda * 4);
    _tile_loadd(6, w + p * kBlockCols, kBlockCols * 4);
    _tile_loadd(7, w + p * kBlockCols + 16, kBlockCols * 4);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, out, 32 * 4);
  _tile_stored(1, out + 16, 32 * 4);
  _tile_stored(2, out + 16 * 32, 32 * 4);
  _tile_stored(3, out + 16 * 32 + 16, 32 * 4);
}
#else
inline bool AmxUsable() { return false; }
struct AmxTiles {
  explicit AmxTiles(bool) {}
};
inline void KernelAmx(const uint32_t*, int, const uint32_t*, int, float*) {}
#endif

inline V16 Splat(float x) { return V16{} + x; }
inline V16 Widen(U16 bits) { return (V16)bits; }   // the same 64 bytes, read as floats

inline int RoundUp(int n, int m) { return (n + m - 1) / m * m; }

// A matmul's right operand W [K, N] in the layout the loop's products read:
// panels of 64 columns, each K rows (or K / 2 row pairs) of 64 values stored
// one after the other, so that a product streams each panel front to back.
struct Operand {
  int k = 0, n = 0, cols = 0;      // cols: n rounded up to whole panels
  bool bf16 = false;
  std::vector<float> f32;          // [cols / 64][k][64]
  std::vector<uint32_t> pairs;     // [cols / 64][ceil(k / 2)][64]: rows 2p (low half), 2p + 1

  int Depth() const { return bf16 ? (k + 1) / 2 : k; }   // rows of a panel
  // The rows a panel is stored with: bfloat16 pairs padded with zeros to whole AMX tiles.
  int PanelDepth() const { return bf16 ? RoundUp(Depth(), kTilePairs) : k; }

  // Sizes the storage (kept between calls: no new pages to fault in) and says
  // how many panels there are; FillPanel writes them.
  int Shape(int rows, int columns, bool as_bf16) {
    k = rows, n = columns, cols = RoundUp(columns, kBlockCols), bf16 = as_bf16;
    const size_t size = static_cast<size_t>(cols) * PanelDepth();
    if (bf16) {
      pairs.resize(size);
    } else {
      f32.resize(size);
    }
    return cols / kBlockCols;
  }

  // Panel `panel` from W [k, n] (row-major), every value written once.
  void FillPanel(const float* w, int panel) {
    const int c0 = panel * kBlockCols, width = std::min(kBlockCols, n - c0);
    if (!bf16) {
      float* out = f32.data() + static_cast<size_t>(c0) * k;
      for (int r = 0; r < k; ++r, out += kBlockCols) {
        std::copy_n(w + static_cast<size_t>(r) * n + c0, width, out);
        std::fill(out + width, out + kBlockCols, 0.0f);
      }
      return;
    }
    uint32_t* out = pairs.data() + static_cast<size_t>(c0) * PanelDepth();
    std::fill_n(out + static_cast<size_t>(Depth()) * kBlockCols,
                static_cast<size_t>(PanelDepth() - Depth()) * kBlockCols, 0u);
    for (int p = 0; p < Depth(); ++p, out += kBlockCols) {
      const float* lo = w + static_cast<size_t>(2 * p) * n + c0;
      if (2 * p + 1 < k) {
        const float* hi = lo + n;
        for (int c = 0; c < width; ++c)
          out[c] = ToBfloat16Bits(lo[c]) | static_cast<uint32_t>(ToBfloat16Bits(hi[c])) << 16;
      } else {
        for (int c = 0; c < width; ++c) out[c] = ToBfloat16Bits(lo[c]);
      }
      std::fill(out + width, out + kBlockCols, 0u);
    }
  }
};

// The left operand of one product, as the kernels read it: float32 rows with
// an even number of columns (bfloat16 pairs widened), or bfloat16 pairs.
struct LeftRows {
  std::vector<float> f32;
  std::vector<uint32_t> pairs;
};

// The R x 64 accumulators of one block of C (rows ldc apart), from C or zero.
template <int R>
struct Block {
  V16 acc[R][4];
  Block(const float* c, int ldc, bool accumulate) {
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < 4; ++j)
        acc[r][j] = accumulate ? *reinterpret_cast<const V16*>(c + r * ldc + 16 * j) : V16{};
  }
  void Store(float* c, int ldc) const {
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < 4; ++j) *reinterpret_cast<V16*>(c + r * ldc + 16 * j) = acc[r][j];
  }
};

// C[rows, 64-column block at col] (+)= A W over all of K, R <= kBlockRows rows.
template <int R>
void KernelF32(const float* a, int lda, const Operand& w, int col, float* c, int ldc,
               bool accumulate) {
  Block<R> block(c + col, ldc, accumulate);
  auto& acc = block.acc;
  const float* wp = w.f32.data() + static_cast<size_t>(col) * w.k;
  for (int kk = 0; kk < w.k; ++kk, wp += kBlockCols) {
    const V16 b0 = *reinterpret_cast<const V16*>(wp), b1 = *reinterpret_cast<const V16*>(wp + 16),
              b2 = *reinterpret_cast<const V16*>(wp + 32), b3 = *reinterpret_cast<const V16*>(wp + 48);
    for (int r = 0; r < R; ++r) {
      const V16 x = Splat(a[r * lda + kk]);
      acc[r][0] += x * b0, acc[r][1] += x * b1, acc[r][2] += x * b2, acc[r][3] += x * b3;
    }
  }
  block.Store(c + col, ldc);
}

// The two bfloat16 kernels: a loop over the pairs of rows of W, loading 64
// columns of pairs and handing them, with each row of A, to `fma`.
template <int R, typename A, typename Fma>
void KernelPairs(const A* a, int lda, const Operand& w, int col, float* c, int ldc,
                 bool accumulate, Fma fma) {
  Block<R> block(c + col, ldc, accumulate);
  const uint32_t* wp = w.pairs.data() + static_cast<size_t>(col) * w.PanelDepth();
  for (int p = 0; p < w.Depth(); ++p, wp += kBlockCols) {
    U16 b[4];
    for (int j = 0; j < 4; ++j) b[j] = *reinterpret_cast<const U16*>(wp + 16 * j);
    for (int r = 0; r < R; ++r) fma(block.acc[r], b, a + r * lda, p);
  }
  block.Store(c + col, ldc);
}

// Without the dot instruction: each pair widened to two float32 rows (a shift, a mask).
template <int R>
void KernelWiden(const float* a, int lda, const Operand& w, int col, float* c, int ldc,
                 bool accumulate) {
  KernelPairs<R>(a, lda, w, col, c, ldc, accumulate,
                 [](V16* acc, const U16* b, const float* row, int p) {
                   const U16 high = U16{} + 0xffff0000u;
                   const V16 x0 = Splat(row[2 * p]), x1 = Splat(row[2 * p + 1]);
                   for (int j = 0; j < 4; ++j) acc[j] += x0 * Widen(b[j] << 16) + x1 * Widen(b[j] & high);
                 });
}

#if defined(__AVX512BF16__)
// acc += the dot products of A's bfloat16 pair p (broadcast) with each column's pair.
template <int R>
void KernelDot(const uint32_t* a, int lda, const Operand& w, int col, float* c, int ldc,
               bool accumulate) {
  KernelPairs<R>(a, lda, w, col, c, ldc, accumulate,
                 [](V16* acc, const U16* b, const uint32_t* row, int p) {
                   const __m512bh x = (__m512bh)_mm512_set1_epi32(static_cast<int>(row[p]));
                   for (int j = 0; j < 4; ++j)
                     acc[j] = (V16)_mm512_dpbf16_ps((__m512)acc[j], x, (__m512bh)b[j]);
                 });
}
#else
template <int R>
void KernelDot(const uint32_t*, int, const Operand&, int, float*, int, bool) {}
#endif

// One product C[rows, :] (+)= A[rows, :K] W, run a 64-column panel at a time:
// `Prepare` lays out A for the kernel once (bfloat16 pairs for the dot
// product or the tiles, or zero-padded to an even K for the widening kernel),
// then any thread may run any panel.
struct Product {
  const Operand* w = nullptr;
  const float* a = nullptr;        // A as the float kernels read it
  int lda = 0, rows = 0, ldc = 0;
  int ldp = 0;                     // the pairs' row length (padded to whole tiles for AMX)
  float* c = nullptr;
  bool accumulate = false, dot = false, amx = false;
  bool tiles = false;              // the running threads may use the AMX tiles
  LeftRows left;

  // A's rows are `lda` apart; C's `ldc` apart, at least w.cols wide.
  void Prepare(const float* a_in, int lda_in, int rows_in, const Operand& w_in, float* c_in,
               int ldc_in, bool accumulate_in) {
    w = &w_in, a = a_in, lda = lda_in, rows = rows_in, c = c_in, ldc = ldc_in;
    accumulate = accumulate_in, dot = w->bf16 && kBf16Dot;
    amx = dot && tiles && rows >= kAmxMinRows;
    const int k = w->k, kp = (k + 1) / 2;
    if (dot) {
      // For the tiles, rows and pairs padded with zeros to whole blocks (only the
      // padding is cleared: a loop prepares its products every step).
      ldp = amx ? w->PanelDepth() : kp;
      const int padded_rows = amx ? RoundUp(rows, kAmxRows) : rows;
      if (left.pairs.size() < static_cast<size_t>(padded_rows) * ldp)
        left.pairs.resize(static_cast<size_t>(padded_rows) * ldp);
      for (int r = 0; r < rows; ++r) {
        uint32_t* out = &left.pairs[static_cast<size_t>(r) * ldp];
        const float* in = a + static_cast<size_t>(r) * lda;
        for (int p = 0; p < kp; ++p) {
          const uint32_t hi = 2 * p + 1 < k ? ToBfloat16Bits(in[2 * p + 1]) : 0u;
          out[p] = ToBfloat16Bits(in[2 * p]) | (hi << 16);
        }
        std::fill(out + kp, out + ldp, 0u);
      }
      std::fill_n(left.pairs.data() + static_cast<size_t>(rows) * ldp,
                  static_cast<size_t>(padded_rows - rows) * ldp, 0u);
    } else if (w->bf16 && (k & 1)) {  // the widening kernel reads a[k] of the zero pad row
      left.f32.assign(static_cast<size_t>(rows) * (k + 1), 0.0f);
      for (int r = 0; r < rows; ++r)
        std::copy_n(a + static_cast<size_t>(r) * lda, k, &left.f32[static_cast<size_t>(r) * (k + 1)]);
      a = left.f32.data();
      lda = k + 1;
    }
  }

  int Panels() const { return w->cols / kBlockCols; }

  // Every panel, on this thread (a loop that has its rows to itself).
  void Run() const {
    for (int panel = 0; panel < Panels(); ++panel) RunPanel(panel);
  }

  void RunPanel(int panel) const {
    const int col = panel * kBlockCols;
    if (amx) return RunPanelAmx(panel);
    for (int r0 = 0; r0 < rows; r0 += kBlockRows) {
      const int r = std::min(kBlockRows, rows - r0);
      float* cp = c + static_cast<size_t>(r0) * ldc;
#define SKETCH_RNN_CASE(R)                                                                       \
  case R:                                                                                        \
    if (dot) {                                                                                   \
      KernelDot<R>(left.pairs.data() + static_cast<size_t>(r0) * ldp, ldp, *w, col, cp, ldc,      \
                   accumulate);                                                                  \
    } else if (w->bf16) {                                                                        \
      KernelWiden<R>(a + static_cast<size_t>(r0) * lda, lda, *w, col, cp, ldc, accumulate);      \
    } else {                                                                                     \
      KernelF32<R>(a + static_cast<size_t>(r0) * lda, lda, *w, col, cp, ldc, accumulate);        \
    }                                                                                            \
    break;
      switch (r) {
        SKETCH_RNN_CASE(1)
        SKETCH_RNN_CASE(2)
        SKETCH_RNN_CASE(3)
        SKETCH_RNN_CASE(4)
        SKETCH_RNN_CASE(5)
        SKETCH_RNN_CASE(6)
      }
#undef SKETCH_RNN_CASE
    }
  }

  // The panel in 32 x 32 blocks on the tiles, each added to (or written into) C's real rows.
  void RunPanelAmx(int panel) const {
    alignas(64) float out[kAmxRows * 32];
    const uint32_t* wp = w->pairs.data() + static_cast<size_t>(panel) * kBlockCols * w->PanelDepth();
    for (int r0 = 0; r0 < rows; r0 += kAmxRows) {
      const int n = std::min(kAmxRows, rows - r0);
      for (int half = 0; half < kBlockCols; half += 32) {
        KernelAmx(left.pairs.data() + static_cast<size_t>(r0) * ldp, ldp, wp + half,
                  w->PanelDepth(), out);
        for (int r = 0; r < n; ++r) {
          ArrayMap row(c + static_cast<size_t>(r0 + r) * ldc + panel * kBlockCols + half, 32);
          if (accumulate) {
            row += ConstArrayMap(out + r * 32, 32);
          } else {
            row = ConstArrayMap(out + r * 32, 32);
          }
        }
      }
    }
  }
};

// The threads that share one loop's products (a sketch, or fewer sketches than
// threads). The loop's own thread publishes each phase's panels as tasks and
// runs them too; helpers claim tasks as they come. Claiming, not a fixed
// split: a helper that is late (its core taken by another process) only
// means the loop's thread runs more of the panels, where a barrier would stall
// it for a scheduler time slice. A task is a few panels, a few microseconds.
class Team {
 public:
  explicit Team(int size) : size_(size) {}

  // task(0), ..., task(n - 1), shared with the helpers; returns when all are done.
  template <typename Fn>
  void Run(int n, const Fn& fn) {
    if (size_ == 1 || n == 1) {
      for (int i = 0; i < n; ++i) fn(i);
      return;
    }
    std::function<void(int)> task(fn);
    task_ = &task;
    done_.store(0, std::memory_order_relaxed);
    ++generation_;
    // The claim word: generation (32 bits), next task (16), task count (16), so that
    // a claim can never take a task of another phase than the one it read.
    claim_.store(static_cast<uint64_t>(generation_) << 32 | static_cast<uint64_t>(n),
                 std::memory_order_release);
    Work(generation_);
    while (done_.load(std::memory_order_acquire) < n) Pause();
  }

  // A helper's life: claim the tasks of each new phase until Stop().
  void Serve() {
    uint32_t seen = 0;
    for (int idle = 0; !stop_.load(std::memory_order_acquire);) {
      const uint32_t g = static_cast<uint32_t>(claim_.load(std::memory_order_acquire) >> 32);
      if (g != seen) {
        seen = g;
        Work(g);
        idle = 0;
      } else if (++idle < 20000) {
        Pause();
      } else {
        std::this_thread::yield();
      }
    }
  }

  void Stop() { stop_.store(true, std::memory_order_release); }

 private:
  static void Pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  void Work(uint32_t generation) {
    for (;;) {
      uint64_t v = claim_.load(std::memory_order_acquire);
      const uint32_t next = (v >> 16) & 0xffff, count = v & 0xffff;
      if (static_cast<uint32_t>(v >> 32) != generation || next >= count) return;
      if (claim_.compare_exchange_weak(v, v + (1u << 16), std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        (*task_)(next);
        done_.fetch_add(1, std::memory_order_release);
      }
    }
  }

  const int size_;
  uint32_t generation_ = 0;                      // the loop's thread's own count
  std::atomic<uint64_t> claim_{0};
  std::atomic<int> done_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int)>* task_ = nullptr;
};


// fn(0), ..., fn(n - 1) side by side: this thread runs fn(0), TensorFlow's
// intra-op pool (started, and its threads spread over the cores) the others;
// threads of their own if this thread is one of the pool's (waiting on its own
// pool could wait for itself).
template <typename Fn>
void RunOnThreads(tensorflow::thread::ThreadPool* pool, int n, const Fn& fn) {
  if (pool == nullptr || pool->CurrentThreadId() >= 0) {
    std::vector<std::thread> helpers;
    for (int id = 1; id < n; ++id) helpers.emplace_back([&fn, id] { fn(id); });
    fn(0);
    for (auto& helper : helpers) helper.join();
    return;
  }
  tensorflow::BlockingCounter done(n - 1);
  for (int id = 1; id < n; ++id) pool->Schedule([&fn, &done, id] { fn(id); done.DecrementCount(); });
  fn(0);
  done.Wait();
}


}  // namespace sketch_rnn

#endif  // SKETCH_RNN_TF_LAYERS_KERNELS_PANELS_H_
