// CPU kernels for XLA via the XLA FFI: depthwise 2-D convolution (NHWC, float32, depth multiplier 1, no dilation),
// dense 2-D convolution over few input channels (forward and kernel gradient)
// and training-mode batch normalisation over the last axis (float32), optionally followed by a ReLU / clipped ReLU /
// hard-swish, forward and backward.
#include <algorithm>
#include <cmath>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <type_traits>
#include <numeric>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

struct Geometry {
  int64_t n, h, w, c, kh, kw, ho, wo, sh, sw, pt, pl;
};

// Runs work(participant, item) for every item in [0, items) on the caller and on up to participants - 1 pool
// threads. The caller claims items itself until none is left, so it never waits for a task that has not started
// (no deadlock when every pool thread is busy): it waits only for items other threads are running. A task that
// starts after all items were claimed does nothing; the state it reads is shared-owned.
template <typename Work>
void ParallelFor(ffi::ThreadPool& pool, int64_t items, int64_t participants, const Work& work) {
  struct State {
    std::atomic<int64_t> next{0}, done{0}, slot{1};
    std::mutex mu;
    std::condition_variable cv;
  };
  auto state = std::make_shared<State>();
  const Work* body = &work;
  auto run = [state, items, body](int64_t participant) {
    int64_t finished = 0;
    for (int64_t item; (item = state->next.fetch_add(1)) < items; ++finished) (*body)(participant, item);
    if (finished && state->done.fetch_add(finished) + finished == items) {
      std::lock_guard<std::mutex> lock(state->mu);
      state->cv.notify_all();
    }
  };
  for (int64_t t = 1; t < participants; ++t) {
    pool.Schedule([state, run]() {
      run(state->slot.fetch_add(1));
    });
  }
  run(0);
  std::unique_lock<std::mutex> lock(state->mu);
  state->cv.wait(lock, [&] { return state->done.load() == items; });
}

int64_t Participants(ffi::ThreadPool& pool, int64_t items) {
  return std::max<int64_t>(1, std::min<int64_t>(pool.num_threads(), items));
}

// Rows per work item for `rows` rows of `row_floats` outputs each: about 16K floats (64 KB) per item, but at least 8
// items per thread when there are that many rows. One row per item (a 2-4 KB row of a 32x32 map) made the shared
// item counter and the threads' interleaved rows cost more than the sums: a depthwise forward of a 500x32x32x32 map
// took 12.6 ms one row per item and 7.8 ms in 8K-float items (2 threads).
int64_t RowsPerItem(ffi::ThreadPool& pool, int64_t rows, int64_t row_floats) {
  const int64_t per = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, row_floats));
  return std::max<int64_t>(1, std::min(per, rows / (8 * std::max<int64_t>(1, pool.num_threads()))));
}

constexpr int64_t kBlock = 16;  // channels per register block (two AVX2 / one AVX-512 vector)

// GCC / Clang vector types, as wide as the target's registers (a wider type is lowered through memory: 5-7x
// slower): the block sums below compile to whole-register loads and FMAs on any target, whatever the compiler's
// cost model thinks of a 16-float loop. The `U` forms are unaligned and may alias, to load / store at any float.
typedef float F4 __attribute__((vector_size(16)));
typedef float F8 __attribute__((vector_size(32)));
typedef float F16 __attribute__((vector_size(64)));
typedef float F4u __attribute__((vector_size(16), aligned(4), may_alias));
typedef float F8u __attribute__((vector_size(32), aligned(4), may_alias));
typedef float F16u __attribute__((vector_size(64), aligned(4), may_alias));
#if defined(__AVX512F__)
constexpr int64_t kLanes = 16;
#elif defined(__AVX__)
constexpr int64_t kLanes = 8;
#else
constexpr int64_t kLanes = 4;
#endif

template <int64_t L> struct Vec;
template <> struct Vec<4> { using T = F4; using U = F4u; };
template <> struct Vec<8> { using T = F8; using U = F8u; };
template <> struct Vec<16> { using T = F16; using U = F16u; };

// Valid taps [lo, hi) of a kernel axis for output position o: 0 <= o*s + t - p < n.
inline void TapRange(int64_t o, int64_t s, int64_t p, int64_t k, int64_t n, int64_t& lo, int64_t& hi) {
  const int64_t first = o * s - p;
  lo = std::max<int64_t>(0, -first);
  hi = std::min<int64_t>(k, n - first);
}

// out[c] = sum over `count` taps of a[t][c] * b[t][c] for c in [c0, c0 + W), summed in registers.
template <int64_t W>
inline void DotBlock(const float* const* a, const float* const* b, int64_t count, int64_t c0, float* out) {
  constexpr int64_t L = W < kLanes ? W : kLanes, R = W / L;
  using T = typename Vec<L>::T;
  using U = typename Vec<L>::U;
  T acc[R] = {};
  for (int64_t t = 0; t < count; ++t) {
    const float* ap = a[t] + c0;
    const float* bp = b[t] + c0;
    for (int64_t r = 0; r < R; ++r)
      acc[r] += *reinterpret_cast<const U*>(ap + r * L) * *reinterpret_cast<const U*>(bp + r * L);
  }
  for (int64_t r = 0; r < R; ++r) *reinterpret_cast<U*>(out + c0 + r * L) = acc[r];
}

inline void DotTail(const float* const* a, const float* const* b, int64_t count, int64_t c0, int64_t c1,
                    float* out) {
  for (int64_t c = c0; c < c1; ++c) {
    float acc = 0.f;
    for (int64_t t = 0; t < count; ++t) acc += a[t][c] * b[t][c];
    out[c] = acc;
  }
}

// out[0:C] = sum_t a[t][0:C] * b[t][0:C]
inline void Dot(const float* const* a, const float* const* b, int64_t count, int64_t C, float* out) {
  int64_t c0 = 0;
  for (; c0 + kBlock <= C; c0 += kBlock) DotBlock<kBlock>(a, b, count, c0, out);
  if (c0 + 8 <= C) DotBlock<8>(a, b, count, c0, out), c0 += 8;
  DotTail(a, b, count, c0, C, out);
}

// The same sums along a run of outputs whose taps all lie inside the input ("interior" pixels, the same tap set
// for each): out[o * ostep + c] = sum_t xb[o * xstep + off[t] + c] * kt[t][c] for o in [0, n_out). Constant offsets
// instead of a pointer pair per tap and pixel: for 16-64 channels, building those pointers cost more than the sums.
template <int64_t W>
inline void RunBlock(const float* xo, const int64_t* off, const float* const* kt, int64_t count, float* out,
                     int64_t c0) {
  constexpr int64_t L = W < kLanes ? W : kLanes, R = W / L;
  using T = typename Vec<L>::T;
  using U = typename Vec<L>::U;
  T acc[R] = {};
  for (int64_t t = 0; t < count; ++t) {
    const float* ap = xo + off[t] + c0;
    const float* bp = kt[t] + c0;
    for (int64_t r = 0; r < R; ++r)
      acc[r] += *reinterpret_cast<const U*>(ap + r * L) * *reinterpret_cast<const U*>(bp + r * L);
  }
  for (int64_t r = 0; r < R; ++r) *reinterpret_cast<U*>(out + c0 + r * L) = acc[r];
}

inline void Run(const float* xb, int64_t xstep, const int64_t* off, const float* const* kt, int64_t count,
                    int64_t n_out, float* out, int64_t ostep, int64_t C) {
  for (int64_t o = 0; o < n_out; ++o) {
    const float* xo = xb + o * xstep;
    float* oo = out + o * ostep;
    int64_t c0 = 0;
    for (; c0 + 4 * kBlock <= C; c0 += 4 * kBlock) RunBlock<4 * kBlock>(xo, off, kt, count, oo, c0);
    if (c0 + 2 * kBlock <= C) RunBlock<2 * kBlock>(xo, off, kt, count, oo, c0), c0 += 2 * kBlock;
    for (; c0 + kBlock <= C; c0 += kBlock) RunBlock<kBlock>(xo, off, kt, count, oo, c0);
    if (c0 + 8 <= C) RunBlock<8>(xo, off, kt, count, oo, c0), c0 += 8;
    for (int64_t c = c0; c < C; ++c) {
      float acc = 0.f;
      for (int64_t t = 0; t < count; ++t) acc += xo[off[t] + c] * kt[t][c];
      oo[c] = acc;
    }
  }
}

// acc[c] = sum_o a[o * astep + c] * b[o * bstep + c] for o in [0, count): a long sum, so with fewer than four
// vectors per block the outputs go round-robin into S = 4 / R partial sums (S * R chains of multiply-adds in flight).
template <int64_t W>
inline void StridedDotBlock(const float* a, int64_t astep, const float* b, int64_t bstep, int64_t count, int64_t c0,
                            float* out) {
  constexpr int64_t L = W < kLanes ? W : kLanes, R = W / L, S = R >= 4 ? 1 : 4 / R;
  using T = typename Vec<L>::T;
  using U = typename Vec<L>::U;
  T acc[S][R] = {};
  int64_t o = 0;
  for (; o + S <= count; o += S)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t r = 0; r < R; ++r)
        acc[s][r] += *reinterpret_cast<const U*>(a + (o + s) * astep + c0 + r * L) *
                     *reinterpret_cast<const U*>(b + (o + s) * bstep + c0 + r * L);
  for (int64_t s = 0; o < count; ++o, ++s)
    for (int64_t r = 0; r < R; ++r)
      acc[s][r] += *reinterpret_cast<const U*>(a + o * astep + c0 + r * L) *
                   *reinterpret_cast<const U*>(b + o * bstep + c0 + r * L);
  for (int64_t s = 1; s < S; ++s)
    for (int64_t r = 0; r < R; ++r) acc[0][r] += acc[s][r];
  for (int64_t r = 0; r < R; ++r) *reinterpret_cast<U*>(out + c0 + r * L) = acc[0][r];
}

inline void StridedDot(const float* a, int64_t astep, const float* b, int64_t bstep, int64_t count, int64_t C,
                       float* out) {
  int64_t c0 = 0;
  for (; c0 + 4 * kBlock <= C; c0 += 4 * kBlock) StridedDotBlock<4 * kBlock>(a, astep, b, bstep, count, c0, out);
  for (; c0 + kBlock <= C; c0 += kBlock) StridedDotBlock<kBlock>(a, astep, b, bstep, count, c0, out);
  if (c0 + 8 <= C) StridedDotBlock<8>(a, astep, b, bstep, count, c0, out), c0 += 8;
  for (int64_t c = c0; c < C; ++c) {
    float acc = 0.f;
    for (int64_t o = 0; o < count; ++o) acc += a[o * astep + c] * b[o * bstep + c];
    out[c] = acc;
  }
}

// out[i] = sum over participants p of acc[p * size + i] (the per-participant double accumulators of a kernel gradient).
inline void SumParticipants(const std::vector<double>& acc, int64_t participants, int64_t size, float* out) {
  for (int64_t i = 0; i < size; ++i) {
    double v = 0.0;
    for (int64_t p = 0; p < participants; ++p) v += acc[p * size + i];
    out[i] = static_cast<float>(v);
  }
}

// Per-participant scratch: a tap pointer pair per tap (edge pixels), offsets and kernel pointers (interior runs).
struct Scratch {
  std::vector<const float*> a, b, kt;
  std::vector<int64_t> off;
  explicit Scratch(int64_t n) : a(n), b(n), kt(n), off(n) {}
};

inline int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
inline int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// y[n, oh, ow, :] = sum_ij x[n, oh*sh + i - pt, ow*sw + j - pl, :] * k[i, j, :]  (zeros outside x): the interior
// columns (0 <= ow*sw - pl and ow*sw - pl + kw <= w) as one run, the edge columns pixel by pixel.
void ForwardRow(const Geometry& g, const float* x, const float* k, float* y, int64_t n, int64_t oh, Scratch& s) {
  const int64_t C = g.c;
  int64_t ilo, ihi, jlo, jhi;
  TapRange(oh, g.sh, g.pt, g.kh, g.h, ilo, ihi);
  const int64_t olo = std::min(g.wo, CeilDiv(g.pl, g.sw));
  const int64_t ohi = std::max(olo, std::min(g.wo, FloorDiv(g.w - g.kw + g.pl, g.sw) + 1));
  float* yrow = y + (n * g.ho + oh) * g.wo * C;
  for (int64_t ow = 0; ow < g.wo; ++ow) {
    if (ow == olo) ow = ohi;
    if (ow >= g.wo) break;
    TapRange(ow, g.sw, g.pl, g.kw, g.w, jlo, jhi);
    int64_t count = 0;
    for (int64_t i = ilo; i < ihi; ++i)
      for (int64_t j = jlo; j < jhi; ++j, ++count) {
        s.a[count] = x + ((n * g.h + oh * g.sh + i - g.pt) * g.w + ow * g.sw + j - g.pl) * C;
        s.b[count] = k + (i * g.kw + j) * C;
      }
    Dot(s.a.data(), s.b.data(), count, C, yrow + ow * C);
  }
  int64_t count = 0;
  for (int64_t i = ilo; i < ihi; ++i)
    for (int64_t j = 0; j < g.kw; ++j, ++count) {
      s.off[count] = ((i - g.pt) * g.w + j - g.pl) * C;
      s.kt[count] = k + (i * g.kw + j) * C;
    }
  Run(x + ((n * g.h + oh * g.sh) * g.w + olo * g.sw) * C, g.sw * C, s.off.data(), s.kt.data(), count, ohi - olo,
      yrow + olo * C, C, C);
}

// dx[n, h, w, :] = sum over taps (i, j) with h = oh*sh + i - pt, w = ow*sw + j - pl of dy[n, oh, ow, :] * k[i, j, :].
// Columns w = q + sw*m of one residue q mod sw share their taps j (j = q + pl mod sw); the interior ones (every such
// tap inside dy) are one run per residue, the rest pixel by pixel.
void InputGradRow(const Geometry& g, const float* dy, const float* k, float* dx, int64_t n, int64_t h, Scratch& s) {
  const int64_t C = g.c;
  float* dxrow = dx + (n * g.h + h) * g.w * C;
  const float* dyn = dy + n * g.ho * g.wo * C;
  // interior column range [wlo[q], whi[q]) per residue q (at most 8 residues take the run path)
  constexpr int64_t kMaxResidues = 8;
  int64_t wlo[kMaxResidues], whi[kMaxResidues];
  const int64_t residues = std::min(g.sw, kMaxResidues);
  for (int64_t q = 0; q < residues; ++q) {
    int64_t jmin = g.kw, jmax = -1;
    for (int64_t j = 0; j < g.kw; ++j)
      if (((q + g.pl - j) % g.sw + g.sw) % g.sw == 0) jmin = std::min(jmin, j), jmax = std::max(jmax, j);
    int64_t mlo = 0, mhi = 0;
    if (jmax >= 0) {  // q + sw*m >= jmax - pl  and  q + sw*m <= (wo - 1)*sw + jmin - pl  and  q + sw*m < w
      mlo = std::max<int64_t>(0, CeilDiv(jmax - g.pl - q, g.sw));
      mhi = std::min(FloorDiv((g.wo - 1) * g.sw + jmin - g.pl - q, g.sw), FloorDiv(g.w - 1 - q, g.sw)) + 1;
    } else {  // no tap reaches these columns: all of them are "interior" with zero taps
      mlo = 0, mhi = FloorDiv(g.w - 1 - q, g.sw) + 1;
    }
    wlo[q] = q + g.sw * mlo;
    whi[q] = mhi > mlo ? q + g.sw * mhi : wlo[q];
  }
  for (int64_t w = 0; w < g.w; ++w) {
    const int64_t q = w % g.sw;
    if (q < residues && w >= wlo[q] && w < whi[q]) continue;
    int64_t count = 0;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t t = h + g.pt - i;
      if (t < 0 || t % g.sh || t / g.sh >= g.ho) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t u = w + g.pl - j;
        if (u < 0 || u % g.sw || u / g.sw >= g.wo) continue;
        s.a[count] = dyn + ((t / g.sh) * g.wo + u / g.sw) * C;
        s.b[count++] = k + (i * g.kw + j) * C;
      }
    }
    Dot(s.a.data(), s.b.data(), count, C, dxrow + w * C);
  }
  for (int64_t q = 0; q < residues; ++q) {
    if (whi[q] <= wlo[q]) continue;
    const int64_t m0 = (wlo[q] - q) / g.sw;
    int64_t count = 0;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t t = h + g.pt - i;
      if (t < 0 || t % g.sh || t / g.sh >= g.ho) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        if (((q + g.pl - j) % g.sw + g.sw) % g.sw) continue;
        s.off[count] = ((t / g.sh) * g.wo + (q + g.pl - j) / g.sw) * C;
        s.kt[count++] = k + (i * g.kw + j) * C;
      }
    }
    Run(dyn + m0 * C, C, s.off.data(), s.kt.data(), count, (whi[q] - wlo[q]) / g.sw, dxrow + wlo[q] * C,
        g.sw * C, C);
  }
}

// acc[i, j, :] += sum_ow x[n, oh*sh + i - pt, ow*sw + j - pl, :] * dy[n, oh, ow, :] for one output row: each tap's
// sum over the row's columns inside x in float registers, then added to the participant's double accumulator.
void KernelGradRow(const Geometry& g, const float* x, const float* dy, float* row, double* acc, int64_t n,
                   int64_t oh) {
  const int64_t C = g.c;
  const float* grow = dy + (n * g.ho + oh) * g.wo * C;
  int64_t ilo, ihi;
  TapRange(oh, g.sh, g.pt, g.kh, g.h, ilo, ihi);
  for (int64_t i = ilo; i < ihi; ++i) {
    const float* xrow = x + (n * g.h + oh * g.sh + i - g.pt) * g.w * C;
    for (int64_t j = 0; j < g.kw; ++j) {  // columns ow with 0 <= ow*sw + j - pl < w
      const int64_t olo = std::max<int64_t>(0, CeilDiv(g.pl - j, g.sw));
      const int64_t ohi = std::min(g.wo, FloorDiv(g.w - 1 - j + g.pl, g.sw) + 1);
      if (ohi <= olo) continue;
      StridedDot(xrow + (olo * g.sw + j - g.pl) * C, g.sw * C, grow + olo * C, C, ohi - olo, C, row);
      double* out = acc + (i * g.kw + j) * C;
      for (int64_t c = 0; c < C; ++c) out[c] += row[c];
    }
  }
}

Geometry MakeGeometry(ffi::Buffer<ffi::F32>& x, ffi::Buffer<ffi::F32>& k, int64_t ho, int64_t wo, int64_t sh,
                      int64_t sw, int64_t pt, int64_t pl) {
  auto xd = x.dimensions();
  auto kd = k.dimensions();
  return Geometry{xd[0], xd[1], xd[2], xd[3], kd[0], kd[1], ho, wo, sh, sw, pt, pl};
}

ffi::Error Forward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> k,
                   ffi::ResultBuffer<ffi::F32> y, int64_t sh, int64_t sw, int64_t pt, int64_t pl) {
  auto yd = y->dimensions();
  const Geometry g = MakeGeometry(x, k, yd[1], yd[2], sh, sw, pt, pl);
  const float* xp = x.typed_data();
  const float* kp = k.typed_data();
  float* yp = y->typed_data();
  const int64_t rows = g.n * g.ho, per = RowsPerItem(pool, rows, g.wo * g.c), items = (rows + per - 1) / per;
  const int64_t participants = Participants(pool, items);
  std::vector<Scratch> scratch(participants, Scratch(g.kh * g.kw));
  ParallelFor(pool, items, participants, [&](int64_t p, int64_t item) {
    for (int64_t r = item * per; r < std::min(rows, (item + 1) * per); ++r)
      ForwardRow(g, xp, kp, yp, r / g.ho, r % g.ho, scratch[p]);
  });
  return ffi::Error::Success();
}

// One pass: items [0, n*h) are input-gradient rows, items [n*h, n*h + n*ho) kernel-gradient rows.
ffi::Error Backward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> k,
                    ffi::Buffer<ffi::F32> dy, ffi::ResultBuffer<ffi::F32> dx, ffi::ResultBuffer<ffi::F32> dk,
                    int64_t sh, int64_t sw, int64_t pt, int64_t pl) {
  auto gd = dy.dimensions();
  const Geometry g = MakeGeometry(x, k, gd[1], gd[2], sh, sw, pt, pl);
  const float* xp = x.typed_data();
  const float* kp = k.typed_data();
  const float* gp = dy.typed_data();
  float* dxp = dx->typed_data();
  const int64_t tapc = g.kh * g.kw * g.c, input_rows = g.n * g.h, output_rows = g.n * g.ho;
  const int64_t input_per = RowsPerItem(pool, input_rows, g.w * g.c), output_per = RowsPerItem(pool, output_rows, g.wo * g.c);
  const int64_t input_items = (input_rows + input_per - 1) / input_per;
  const int64_t items = input_items + (output_rows + output_per - 1) / output_per;
  const int64_t participants = Participants(pool, items);
  std::vector<double> acc(participants * tapc, 0.0);
  std::vector<float> sums(participants * g.c);
  std::vector<Scratch> scratch(participants, Scratch(g.kh * g.kw));
  ParallelFor(pool, items, participants, [&](int64_t p, int64_t item) {
    if (item < input_items) {
      for (int64_t r = item * input_per; r < std::min(input_rows, (item + 1) * input_per); ++r)
        InputGradRow(g, gp, kp, dxp, r / g.h, r % g.h, scratch[p]);
    } else {
      item -= input_items;
      for (int64_t r = item * output_per; r < std::min(output_rows, (item + 1) * output_per); ++r)
        KernelGradRow(g, xp, gp, sums.data() + p * g.c, acc.data() + p * tapc, r / g.ho, r % g.ho);
    }
  });
  SumParticipants(acc, participants, tapc, dk->typed_data());
  return ffi::Error::Success();
}

// ------------------------------------------------------------------ dense convolution over few input channels
// The networks' stems (3x3 or 5x5 over RGB or grey images, groups 1). XLA:CPU runs these as a convolution whose
// kernel gradient transposes x and dy into a batch-as-feature convolution (V3-Small's 32x224x224x3 -> 16 stem: 42 ms
// of its 0.26 s training step, with the forward 21 ms; CustomMobileNet's 500x32x32x3 -> 32: 172 + 55 ms). Here each
// output row's patches are gathered into a (Wo, T = kh*kw*ci) matrix, zeros outside x, and multiplied with the
// (T, co) kernel: y row = P k, kernel gradient += P^T dy row, in registers over blocks of 4 pixels / 4 taps.

struct ConvGeometry {
  int64_t n, h, w, ci, kh, kw, co, ho, wo, sh, sw, pt, pl;
  int64_t taps() const { return kh * kw * ci; }
};

// P[ow, (i*kw + j)*ci + c] = x[n, oh*sh + i - pt, ow*sw + j - pl, c], 0 outside x.
void PatchRow(const ConvGeometry& g, const float* x, int64_t n, int64_t oh, float* P) {
  for (int64_t ow = 0; ow < g.wo; ++ow) {
    float* p = P + ow * g.taps();
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t ih = oh * g.sh + i - g.pt;
      for (int64_t j = 0; j < g.kw; ++j, p += g.ci) {
        const int64_t iw = ow * g.sw + j - g.pl;
        const bool inside = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
        const float* src = x + ((n * g.h + ih) * g.w + iw) * g.ci;
        for (int64_t c = 0; c < g.ci; ++c) p[c] = inside ? src[c] : 0.f;
      }
    }
  }
}

// out[i, c0 : c0 + R*L] = sum_j A[i*ai + j*aj] * B[j, c0 : c0 + R*L] for i < rows, j < inner (B and out rows of
// `co` floats), four rows i at a time in registers. The forward is out = P k (A = P: ai = T, aj = 1), the kernel
// gradient sums = P^T dy (A = P^T: ai = 1, aj = T).
template <int64_t L, int64_t R>
void ProductBlock(const float* A, int64_t ai, int64_t aj, int64_t rows, int64_t inner, const float* B, int64_t co,
                  int64_t c0, float* out) {
  using V = typename Vec<L>::T;
  using U = typename Vec<L>::U;
  int64_t i = 0;
  for (; i + 4 <= rows; i += 4) {
    V a[4][R] = {};
    for (int64_t j = 0; j < inner; ++j) {
      V b[R];
      for (int64_t r = 0; r < R; ++r) b[r] = *reinterpret_cast<const U*>(B + j * co + c0 + r * L);
      const float* p = A + i * ai + j * aj;
      for (int64_t q = 0; q < 4; ++q)
        for (int64_t r = 0; r < R; ++r) a[q][r] += p[q * ai] * b[r];
    }
    for (int64_t q = 0; q < 4; ++q)
      for (int64_t r = 0; r < R; ++r) *reinterpret_cast<U*>(out + (i + q) * co + c0 + r * L) = a[q][r];
  }
  for (; i < rows; ++i) {
    V a[R] = {};
    for (int64_t j = 0; j < inner; ++j)
      for (int64_t r = 0; r < R; ++r) a[r] += A[i * ai + j * aj] * *reinterpret_cast<const U*>(B + j * co + c0 + r * L);
    for (int64_t r = 0; r < R; ++r) *reinterpret_cast<U*>(out + i * co + c0 + r * L) = a[r];
  }
}

// Output channels in blocks of two registers, one register, then 8 and 4 floats (narrower than a register), then
// one at a time: block(L, R, c0) for each block, tail(c0, co) for the rest.
template <typename Block, typename Tail>
void ChannelBlocks(int64_t co, const Block& block, const Tail& tail) {
  int64_t c0 = 0;
  for (; c0 + 2 * kLanes <= co; c0 += 2 * kLanes) block(std::integral_constant<int64_t, kLanes>(), std::integral_constant<int64_t, 2>(), c0);
  for (; c0 + kLanes <= co; c0 += kLanes) block(std::integral_constant<int64_t, kLanes>(), std::integral_constant<int64_t, 1>(), c0);
  if constexpr (kLanes > 8) {
    if (c0 + 8 <= co) block(std::integral_constant<int64_t, 8>(), std::integral_constant<int64_t, 1>(), c0), c0 += 8;
  }
  if constexpr (kLanes > 4) {
    if (c0 + 4 <= co) block(std::integral_constant<int64_t, 4>(), std::integral_constant<int64_t, 1>(), c0), c0 += 4;
  }
  tail(c0, co);
}

// The same product for every output channel: ProductBlock over the channel blocks, the rest one at a time.
void Product(const float* A, int64_t ai, int64_t aj, int64_t rows, int64_t inner, const float* B, int64_t co,
             float* out) {
  ChannelBlocks(co, [&](auto L, auto R, int64_t c0) {
    ProductBlock<decltype(L)::value, decltype(R)::value>(A, ai, aj, rows, inner, B, co, c0, out);
  }, [&](int64_t c0, int64_t c1) {
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t c = c0; c < c1; ++c) {
        float v = 0.f;
        for (int64_t j = 0; j < inner; ++j) v += A[i * ai + j * aj] * B[j * co + c];
        out[i * co + c] = v;
      }
  });
}

ConvGeometry MakeConvGeometry(const ffi::Span<const int64_t>& xd, const ffi::Span<const int64_t>& kd, int64_t ho,
                              int64_t wo, int64_t sh, int64_t sw, int64_t pt, int64_t pl) {
  return ConvGeometry{xd[0], xd[1], xd[2], xd[3], kd[0], kd[1], kd[3], ho, wo, sh, sw, pt, pl};
}

ffi::Error ConvForward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> k,
                       ffi::ResultBuffer<ffi::F32> y, int64_t sh, int64_t sw, int64_t pt, int64_t pl) {
  auto yd = y->dimensions();
  const ConvGeometry g = MakeConvGeometry(x.dimensions(), k.dimensions(), yd[1], yd[2], sh, sw, pt, pl);
  const float* xp = x.typed_data();
  const float* kp = k.typed_data();
  float* yp = y->typed_data();
  const int64_t T = g.taps(), rows = g.n * g.ho, per = RowsPerItem(pool, rows, g.wo * g.co);
  const int64_t items = (rows + per - 1) / per, participants = Participants(pool, items);
  std::vector<float> patches(participants * g.wo * T);
  ParallelFor(pool, items, participants, [&](int64_t p, int64_t item) {
    float* P = patches.data() + p * g.wo * T;
    for (int64_t r = item * per; r < std::min(rows, (item + 1) * per); ++r) {
      PatchRow(g, xp, r / g.ho, r % g.ho, P);
      Product(P, T, 1, g.wo, T, kp, g.co, yp + r * g.wo * g.co);
    }
  });
  return ffi::Error::Success();
}

// dk[i, j, c, :] = sum over n, oh, ow of x[n, oh*sh + i - pt, ow*sw + j - pl, c] * dy[n, oh, ow, :]: per output row
// in float, added to the participant's double accumulator.
ffi::Error ConvKernelGrad(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> dy,
                          ffi::ResultBuffer<ffi::F32> dk, int64_t sh, int64_t sw, int64_t pt, int64_t pl) {
  auto gd = dy.dimensions();
  const ConvGeometry g = MakeConvGeometry(x.dimensions(), dk->dimensions(), gd[1], gd[2], sh, sw, pt, pl);
  const float* xp = x.typed_data();
  const float* gp = dy.typed_data();
  const int64_t T = g.taps(), size = T * g.co, rows = g.n * g.ho, per = RowsPerItem(pool, rows, g.wo * g.co);
  const int64_t items = (rows + per - 1) / per, participants = Participants(pool, items);
  std::vector<float> patches(participants * g.wo * T), sums(participants * size);
  std::vector<double> acc(participants * size, 0.0);
  ParallelFor(pool, items, participants, [&](int64_t p, int64_t item) {
    float* P = patches.data() + p * g.wo * T;
    float* s = sums.data() + p * size;
    double* a = acc.data() + p * size;
    for (int64_t r = item * per; r < std::min(rows, (item + 1) * per); ++r) {
      PatchRow(g, xp, r / g.ho, r % g.ho, P);
      Product(P, 1, T, T, g.wo, gp + r * g.wo * g.co, g.co, s);
      for (int64_t i = 0; i < size; ++i) a[i] += s[i];
    }
  });
  SumParticipants(acc, participants, size, dk->typed_data());
  return ffi::Error::Success();
}

// ------------------------------------------------------------------ training batch norm over (M, C) rows
// x is (..., C) row-major: M = size / C rows, seen as wide rows (WideRows below). Work items are blocks of
// RowsPerItem rows (at most 64 rows of >= 256 floats: the block sums are float); each participant sums into its
// own double accumulators, reduced after the pass.

template <typename RowBlock>
void ForRowBlocks(ffi::ThreadPool& pool, int64_t rows, int64_t per, int64_t participants, const RowBlock& block) {
  const int64_t items = (rows + per - 1) / per;
  ParallelFor(pool, items, participants, [&](int64_t p, int64_t item) {
    block(p, item * per, std::min(rows, (item + 1) * per));
  });
}

// Sums over rows of a[r, c] (and of a[r, c] * b[r, c] or a^2), per channel, in float per row block, then double.
void ReduceBlock(const float* a, const float* b, const float* centre, int64_t r0, int64_t r1, int64_t C,
                 double* sum_a, double* sum_ab, float* scratch) {
  float* sa = scratch;
  float* sab = scratch + C;
  std::fill(scratch, scratch + 2 * C, 0.f);
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict ap = a + r * C;
    const float* __restrict bp = b ? b + r * C : nullptr;
    if (bp) {
      for (int64_t c = 0; c < C; ++c) sa[c] += ap[c], sab[c] += ap[c] * (bp[c] - centre[c]);
    } else {
      for (int64_t c = 0; c < C; ++c) {
        const float d = ap[c] - centre[c];
        sa[c] += d, sab[c] += d * d;
      }
    }
  }
  for (int64_t c = 0; c < C; ++c) sum_a[c] += sa[c], sum_ab[c] += sab[c];
}

// y = x * scale + shift with scale = gamma / sqrt(var + eps), shift = beta - mean * scale, from the float mean and
// variance that forward returns, so that backward recomputes forward's pre-activation values bit for bit.
void ScaleShift(const float* gamma, const float* beta, const float* mean, const float* var, int64_t C, float epsilon,
                float* scale, float* shift) {
  for (int64_t c = 0; c < C; ++c) {
    const double inv = 1.0 / std::sqrt(static_cast<double>(var[c]) + epsilon);
    scale[c] = static_cast<float>(gamma[c] * inv);
    shift[c] = static_cast<float>(beta[c] - mean[c] * (gamma[c] * inv));
  }
}

// The activation after the batch norm (attribute `act`): none, a clipped ReLU min(max(pre, 0), act_max) (act_max =
// inf: ReLU), or hard-swish pre * (relu6(pre + 3) * (1/6)), written in the order Keras' HardSwish computes it.
enum Act : int32_t { kNone = 0, kClip = 1, kHardSwish = 2 };
inline float Clip(float pre, float act_max) { return std::min(std::max(pre, 0.f), act_max); }
inline float HardSwish(float pre) { return pre * (std::min(std::max(pre + 3.f, 0.f), 6.f) * (1.f / 6.f)); }
// The gradients, as JAX's autodiff of relu / relu6 (the cotangent passes where 0 < pre < act_max) and of the
// hard-swish formula (product rule: g * gate, plus g * pre / 6 where 0 < pre + 3 < 6).
inline float ClipGrad(float pre, float g, float act_max) { return (pre > 0.f && pre < act_max) ? g : 0.f; }
inline float HardSwishGrad(float pre, float g) {
  const float u = pre + 3.f;
  const float through = (u > 0.f && u < 6.f) ? (g * pre) * (1.f / 6.f) : 0.f;
  return g * (std::min(std::max(u, 0.f), 6.f) * (1.f / 6.f)) + through;
}

// The passes see x as `rows` rows of `width` floats -- the C channels repeated reps = width / C times, width the
// smallest multiple of lcm(C, 16) from kWideFloats on -- followed by `tail` (< reps) rows of C floats, so that the
// per-channel loops run in whole vectors for any C and long enough to pay for their set-up. With C-float rows, 3,
// 6 or 13 channels ran scalar and 16 paid the loop set-up every 16 floats (128x16x16 maps, forward + backward,
// benchmarks/native_ab.py: 0.91 ms for 3 channels, 1.17 ms for 6, 1.10 ms for 16; wide rows: 0.19, 0.25, 0.41).
// Per-channel vectors are tiled to `width`; sums over the wide rows are folded back onto the C channels.
constexpr int64_t kWideFloats = 256;
struct WideRows {
  int64_t C, reps, width, rows, tail;
  WideRows(int64_t total_rows, int64_t channels) : C(channels) {
    const int64_t base = C ? C / std::gcd<int64_t>(C, 16) * 16 : 16;
    reps = C ? base / C * std::max<int64_t>(1, (kWideFloats + base - 1) / base) : 1;
    width = reps * C, rows = total_rows / reps, tail = total_rows % reps;
  }
  std::vector<float> Tile(const float* v) const {
    std::vector<float> out(width);
    for (int64_t j = 0; j < width; ++j) out[j] = v[j % C];
    return out;
  }
  int64_t TailOffset() const { return rows * width; }
  // sums[p][2][width] of `participants` and tail sums tail[2][C] -> out[2][C]
  void Fold(const std::vector<double>& sums, int64_t participants, const std::vector<double>& tail_sums,
            double* out) const {
    for (int64_t half = 0; half < 2; ++half)
      for (int64_t c = 0; c < C; ++c) {
        double s = tail_sums[half * C + c];
        for (int64_t p = 0; p < participants; ++p)
          for (int64_t k = 0; k < reps; ++k) s += sums[(p * 2 + half) * width + k * C + c];
        out[half * C + c] = s;
      }
  }
};

// Tiled copies of per-channel vectors, and pointers to them.
struct TiledParams {
  std::vector<std::vector<float>> tiled;
  std::vector<const float*> wide;
  TiledParams(const WideRows& w, const std::vector<const float*>& params) {
    for (const float* v : params) tiled.push_back(w.Tile(v));
    for (const auto& v : tiled) wide.push_back(v.data());
  }
};

// For each row block: prepare(offset, r0, r1, W, params), then the sums of ReduceBlock(a, b, centre) over it;
// the wide rows on the pool (params and centre tiled), the tail rows on the caller (the row pointers offset by
// `offset` floats). Folded onto the channels: out[2][C].
template <typename Prepare>
void ReduceRows(ffi::ThreadPool& pool, const WideRows& w, const float* a, const float* b, const float* centre,
                const std::vector<const float*>& params, const Prepare& prepare, std::vector<double>& out) {
  const TiledParams tp(w, params);
  const auto centre_w = w.Tile(centre);
  const int64_t W = w.width, per = RowsPerItem(pool, w.rows, W);
  const int64_t participants = Participants(pool, (w.rows + per - 1) / per);
  std::vector<double> sums(participants * 2 * W, 0.0), tail(2 * w.C, 0.0);
  std::vector<float> scratch(participants * 2 * W + 2 * w.C);
  ForRowBlocks(pool, w.rows, per, participants, [&](int64_t p, int64_t r0, int64_t r1) {
    prepare(0, r0, r1, W, tp.wide.data());
    ReduceBlock(a, b, centre_w.data(), r0, r1, W, &sums[p * 2 * W], &sums[p * 2 * W + W], &scratch[p * 2 * W]);
  });
  if (w.tail) {
    const int64_t t = w.TailOffset();
    prepare(t, 0, w.tail, w.C, params.data());
    ReduceBlock(a + t, b ? b + t : nullptr, centre, 0, w.tail, w.C, &tail[0], &tail[w.C],
                &scratch[participants * 2 * W]);
  }
  out.assign(2 * w.C, 0.0);
  w.Fold(sums, participants, tail, out.data());
}

// rows(p, r0, r1, width, params) over the wide rows (params tiled, on the pool) and the tail rows (params as given,
// on the caller, the row pointers offset by the wide part); `params` is a list of per-channel vectors.
template <typename Rows>
void ForWideRows(ffi::ThreadPool& pool, const WideRows& w, const std::vector<const float*>& params, const Rows& rows) {
  const TiledParams tp(w, params);
  const int64_t per = RowsPerItem(pool, w.rows, w.width), participants = Participants(pool, (w.rows + per - 1) / per);
  ForRowBlocks(pool, w.rows, per, participants, [&](int64_t, int64_t r0, int64_t r1) {
    rows(0, r0, r1, w.width, tp.wide.data());
  });
  if (w.tail) rows(w.TailOffset(), 0, w.tail, w.C, params.data());
}

// y = act((x - mean) / sqrt(var + eps) * gamma + beta) with the batch's mean and biased variance (also returned).
// The sums are taken around the first row (a shift that keeps E[x^2] - E[x]^2 accurate when |mean| >> std).
ffi::Error BatchNormForward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> gamma,
                            ffi::Buffer<ffi::F32> beta, ffi::ResultBuffer<ffi::F32> y,
                            ffi::ResultBuffer<ffi::F32> mean_out, ffi::ResultBuffer<ffi::F32> var_out,
                            float epsilon, int32_t act, float act_max) {
  const int64_t C = gamma.element_count(), rows = C ? x.element_count() / C : 0;
  const float* xp = x.typed_data();
  std::vector<float> centre(C, 0.f);
  if (rows) std::copy(xp, xp + C, centre.begin());
  const WideRows w(rows, C);
  std::vector<double> sums;
  ReduceRows(pool, w, xp, nullptr, centre.data(), {}, [](int64_t, int64_t, int64_t, int64_t, const float* const*) {},
             sums);
  float* mp = mean_out->typed_data();
  float* vp = var_out->typed_data();
  for (int64_t c = 0; c < C; ++c) {
    const double m = rows ? sums[c] / rows : 0.0, v = rows ? std::max(0.0, sums[C + c] / rows - m * m) : 0.0;
    mp[c] = static_cast<float>(centre[c] + m);
    vp[c] = static_cast<float>(v);
  }
  std::vector<float> scale(C), shift(C);
  ScaleShift(gamma.typed_data(), beta.typed_data(), mp, vp, C, epsilon, scale.data(), shift.data());
  float* yp = y->typed_data();
  ForWideRows(pool, w, {scale.data(), shift.data()}, [&](int64_t offset, int64_t r0, int64_t r1, int64_t W,
                                                           const float* const* q) {
    const float* __restrict sc = q[0];
    const float* __restrict sh = q[1];
    for (int64_t r = r0; r < r1; ++r) {
      const float* __restrict a = xp + offset + r * W;
      float* __restrict o = yp + offset + r * W;
      if (act == kClip) {
        for (int64_t c = 0; c < W; ++c) o[c] = Clip(a[c] * sc[c] + sh[c], act_max);
      } else if (act == kHardSwish) {
        for (int64_t c = 0; c < W; ++c) o[c] = HardSwish(a[c] * sc[c] + sh[c]);
      } else {
        for (int64_t c = 0; c < W; ++c) o[c] = a[c] * sc[c] + sh[c];
      }
    }
  });
  return ffi::Error::Success();
}

// dy through the activation's gradient (act != kNone), rows [r0, r1) of W floats, into out.
void ActivationGradBlock(const float* x, const float* dy, const float* scale, const float* shift, int32_t act,
                         float act_max, int64_t r0, int64_t r1, int64_t W, float* out) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict xr = x + r * W;
    const float* __restrict gr = dy + r * W;
    float* __restrict o = out + r * W;
    if (act == kHardSwish) {
      for (int64_t c = 0; c < W; ++c) o[c] = HardSwishGrad(xr[c] * scale[c] + shift[c], gr[c]);
    } else {
      for (int64_t c = 0; c < W; ++c) o[c] = ClipGrad(xr[c] * scale[c] + shift[c], gr[c], act_max);
    }
  }
}

// With g = dy (or dy through the activation's gradient): dbeta = sum g, dgamma = sum g * xhat,
// dx = gamma * invstd * (g - dbeta / M - xhat * dgamma / M). The activation's cotangent is written into dx first and
// replaced there row block by row block (each block reads only its own rows).
ffi::Error BatchNormBackward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> gamma,
                             ffi::Buffer<ffi::F32> beta, ffi::Buffer<ffi::F32> mean, ffi::Buffer<ffi::F32> var,
                             ffi::Buffer<ffi::F32> dy, ffi::ResultBuffer<ffi::F32> dx,
                             ffi::ResultBuffer<ffi::F32> dgamma, ffi::ResultBuffer<ffi::F32> dbeta, float epsilon,
                             int32_t act, float act_max) {
  const int64_t C = gamma.element_count(), rows = C ? x.element_count() / C : 0;
  const float *xp = x.typed_data(), *mp = mean.typed_data(), *dyp = dy.typed_data();
  float* dxp = dx->typed_data();
  const bool activated = act != kNone;
  const WideRows w(rows, C);
  std::vector<float> scale(C), shift(C);
  if (activated) ScaleShift(gamma.typed_data(), beta.typed_data(), mp, var.typed_data(), C, epsilon, scale.data(),
                            shift.data());
  const float* gp = activated ? dxp : dyp;
  std::vector<double> sums;
  ReduceRows(pool, w, gp, xp, mp, {scale.data(), shift.data()}, [&](int64_t offset, int64_t r0, int64_t r1, int64_t W,
                                                                    const float* const* q) {
    if (activated) ActivationGradBlock(xp + offset, dyp + offset, q[0], q[1], act, act_max, r0, r1, W, dxp + offset);
  }, sums);
  std::vector<float> a(C), b(C), d(C);  // dx = a * g + b * x + d
  for (int64_t c = 0; c < C; ++c) {
    const double sdy = sums[c], sdyx = sums[C + c];
    const double inv = 1.0 / std::sqrt(static_cast<double>(var.typed_data()[c]) + epsilon);
    const double g = gamma.typed_data()[c];
    dbeta->typed_data()[c] = static_cast<float>(sdy);
    dgamma->typed_data()[c] = static_cast<float>(sdyx * inv);
    // xhat = (x - mean) * inv;  dx = g*inv*dy - g*inv*sdy/M - g*inv^3*sdyx/M*(x - mean)
    const double k = rows ? g * inv * inv * inv * sdyx / rows : 0.0;
    a[c] = static_cast<float>(g * inv);
    b[c] = static_cast<float>(-k);
    d[c] = static_cast<float>((rows ? -g * inv * sdy / rows : 0.0) + k * mp[c]);
  }
  ForWideRows(pool, w, {a.data(), b.data(), d.data()}, [&](int64_t offset, int64_t r0, int64_t r1, int64_t W,
                                                           const float* const* q) {
    const float* __restrict qa = q[0];
    const float* __restrict qb = q[1];
    const float* __restrict qd = q[2];
    for (int64_t r = r0; r < r1; ++r) {
      const float* __restrict xr = xp + offset + r * W;
      float* __restrict o = dxp + offset + r * W;
      if (activated) {  // the activation's cotangent is already in dx (g and dx are one buffer: no restrict pair)
        for (int64_t c = 0; c < W; ++c) o[c] = qa[c] * o[c] + qb[c] * xr[c] + qd[c];
      } else {
        const float* __restrict gr = gp + offset + r * W;
        for (int64_t c = 0; c < W; ++c) o[c] = qa[c] * gr[c] + qb[c] * xr[c] + qd[c];
      }
    }
  });
  return ffi::Error::Success();
}

// The binding of a handler (pool, two F32 operands) -> one F32 result, with the strides and top / left padding:
// depthwise forward (x, kernel), dense forward (x, kernel) and dense kernel gradient (x, dy).
inline auto TwoOperandGeometryBinding() {
  return ffi::Ffi::Bind()
      .Ctx<ffi::ThreadPool>()
      .Arg<ffi::Buffer<ffi::F32>>()
      .Arg<ffi::Buffer<ffi::F32>>()
      .Ret<ffi::Buffer<ffi::F32>>()
      .Attr<int64_t>("sh")
      .Attr<int64_t>("sw")
      .Attr<int64_t>("pt")
      .Attr<int64_t>("pl");
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(KmDepthwiseForward, Forward,
                              TwoOperandGeometryBinding());

XLA_FFI_DEFINE_HANDLER_SYMBOL(KmDepthwiseBackward, Backward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<int64_t>("sh")
                                  .Attr<int64_t>("sw")
                                  .Attr<int64_t>("pt")
                                  .Attr<int64_t>("pl"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(KmBatchNormForward, BatchNormForward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<float>("epsilon")
                                  .Attr<int32_t>("act")
                                  .Attr<float>("act_max"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(KmBatchNormBackward, BatchNormBackward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<float>("epsilon")
                                  .Attr<int32_t>("act")
                                  .Attr<float>("act_max"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(KmConvForward, ConvForward,
                              TwoOperandGeometryBinding());

XLA_FFI_DEFINE_HANDLER_SYMBOL(KmConvKernelGrad, ConvKernelGrad,
                              TwoOperandGeometryBinding());
