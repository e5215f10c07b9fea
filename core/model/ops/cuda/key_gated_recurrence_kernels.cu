#include "core/model/ops/cuda/key_gated_recurrence_kernels.h"

#include <algorithm>
#include <utility>

#include <cuda_runtime.h>

namespace liger::cuda {
namespace {

constexpr int kThreads = 256;

// Chunks are short enough that a block's tiles (and for D = 128 its two D x D states) fit in
// shared memory.
template <int D>
constexpr int ChunkOf() {
  return D <= 64 ? 32 : 16;
}

// Copies rows [t0, t0 + R) of src [T, width], columns [c0, c0 + COLS), into dst (row pitch
// `pitch`), with zeros past the end of the sequence: a zero key, value, query and log gate change
// nothing.
template <int R, int COLS, typename Dst>
__device__ void LoadRows(Dst* dst, int pitch, const float* __restrict__ src, int64_t t0, int64_t t,
                         int64_t width, int c0) {
  for (int e = threadIdx.x; e < R * COLS; e += kThreads) {
    const int r = e / COLS, c = e % COLS;
    dst[r * pitch + c] = t0 + r < t ? static_cast<Dst>(src[(t0 + r) * width + c0 + c]) : Dst(0);
  }
}

// In-place cumulative sum down the R rows of b (COLS channels, row pitch `pitch`): each thread sums
// a segment of one channel, then adds the totals of the segments before it.
template <int R, int COLS>
__device__ void CumsumRows(double* b, int pitch, double* segment_totals) {
  constexpr int kSegments = kThreads / COLS < R ? kThreads / COLS : R;
  constexpr int kLength = R / kSegments;
  static_assert(R % kSegments == 0, "segments must tile the chunk");
  const int c = threadIdx.x % COLS, s = threadIdx.x / COLS;
  if (s < kSegments) {
    double run = 0;
    for (int r = s * kLength; r < (s + 1) * kLength; ++r) {
      run += b[r * pitch + c];
      b[r * pitch + c] = run;
    }
    segment_totals[s * COLS + c] = run;
  }
  __syncthreads();
  if (s > 0 && s < kSegments) {
    double offset = 0;
    for (int p = 0; p < s; ++p) offset += segment_totals[p * COLS + c];
    for (int r = s * kLength; r < (s + 1) * kLength; ++r) b[r * pitch + c] += offset;
  }
  __syncthreads();
}

// exp of a difference of cumulative log gates, formed in float64 and evaluated in float32.
__device__ __forceinline__ float Decay(double log_decay) {
  return expf(static_cast<float>(log_decay));
}

// Chunks whose cumulative log gates all stay within this bound take the factored form:
// exp(b_i - b_j) = exp(b_i) * exp(-b_j), so every product in the chunk is a plain matrix product.
// exp(30) keeps the key side far inside float32's range. Harsher gates (which wipe the state
// within a few tokens) take the exact per-channel decay.
constexpr double kMaxFactoredDecay = 30;

// The outputs of an M x N product are split over the block: each thread owns kRows consecutive
// rows and kCols columns strided by the number of column threads, so that a warp reads consecutive
// columns of a row-major operand.
template <int M, int N>
struct Tiling {
  static constexpr int kPerThread = M * N / kThreads;
  static constexpr int kCols = kPerThread < 4 ? kPerThread : 4;
  static constexpr int kRows = kPerThread / kCols;
  static constexpr int kColThreads = N / kCols;
  static_assert(kPerThread >= 1 && (M / kRows) * kColThreads == kThreads, "tiling must fit");
  __device__ static int Row(int i) { return (threadIdx.x / kColThreads) * kRows + i; }
  __device__ static int Col(int j) { return threadIdx.x % kColThreads + j * kColThreads; }
};

template <int M, int N>
struct Tile {
  float v[Tiling<M, N>::kRows][Tiling<M, N>::kCols] = {};
};

// tile += sum_x a(row, x) * b(x, col) over x < K, the operands read from shared memory.
template <int M, int N, int K, typename A, typename B>
__device__ __forceinline__ void Accumulate(Tile<M, N>& tile, A a, B b) {
  using T = Tiling<M, N>;
#pragma unroll 4
  for (int x = 0; x < K; ++x) {
    float av[T::kRows], bv[T::kCols];
#pragma unroll
    for (int i = 0; i < T::kRows; ++i) av[i] = a(T::Row(i), x);
#pragma unroll
    for (int j = 0; j < T::kCols; ++j) bv[j] = b(x, T::Col(j));
#pragma unroll
    for (int i = 0; i < T::kRows; ++i) {
#pragma unroll
      for (int j = 0; j < T::kCols; ++j) tile.v[i][j] += av[i] * bv[j];
    }
  }
}

// Calls f(row, col, value) for each entry of the thread's tile.
template <int M, int N, typename F>
__device__ __forceinline__ void ForEach(const Tile<M, N>& tile, F f) {
  using T = Tiling<M, N>;
#pragma unroll
  for (int i = 0; i < T::kRows; ++i) {
#pragma unroll
    for (int j = 0; j < T::kCols; ++j) f(T::Row(i), T::Col(j), tile.v[i][j]);
  }
}

// What each chunk adds to the carried state, for all chunks and KV heads at once (grid (N, BKV)):
//   forward (kBackward false): W_n = sum_j (k_j exp(b_last - b_j))^T v_j, with x = k, y = v (one
//     row set per KV head);
//   backward: W_n = sum_{heads, i} (q_i exp(b_i))^T dO_i, with x = q, y = dO (`rows_per_head` row
//     sets per KV head: its query heads);
// into `writes` [BKV, N, D, D], and exp(b_last) per key channel into `decays` [BKV, N, D]. Only
// ScanStates is then sequential, and it is elementwise.
template <int D, int C, bool kBackward>
__global__ void __launch_bounds__(kThreads)
    ChunkWrites(const float* __restrict__ x, const float* __restrict__ y,
                const float* __restrict__ g, float* __restrict__ writes,
                float* __restrict__ decays, int64_t t, int64_t chunks, int64_t rows_per_head) {
  __shared__ float xs[C][D + 1];  // then scaled by their decays
  __shared__ float ys[C][D + 1];
  __shared__ double b[C][D + 1];
  __shared__ double segment_totals[kThreads];
  const int64_t n = blockIdx.x, kv_head = blockIdx.y, t0 = n * C;
  LoadRows<C, D>(&b[0][0], D + 1, g + kv_head * t * D, t0, t, D, 0);
  __syncthreads();
  CumsumRows<C, D>(&b[0][0], D + 1, segment_totals);
  for (int c = threadIdx.x; c < D; c += kThreads) {
    decays[(kv_head * chunks + n) * D + c] = Decay(b[C - 1][c]);
  }
  Tile<D, D> w;
  for (int64_t head = kv_head * rows_per_head; head < (kv_head + 1) * rows_per_head; ++head) {
    LoadRows<C, D>(&xs[0][0], D + 1, x + head * t * D, t0, t, D, 0);
    LoadRows<C, D>(&ys[0][0], D + 1, y + head * t * D, t0, t, D, 0);
    __syncthreads();
    for (int e = threadIdx.x; e < C * D; e += kThreads) {
      const int j = e / D, c = e % D;
      xs[j][c] *= Decay(kBackward ? b[j][c] : b[C - 1][c] - b[j][c]);
    }
    __syncthreads();
    Accumulate<D, D, C>(w, [&](int c, int j) { return xs[j][c]; },
                        [&](int j, int col) { return ys[j][col]; });
    __syncthreads();
  }
  float* out = writes + (kv_head * chunks + n) * D * D;
  ForEach(w, [&](int row, int col, float value) { out[row * D + col] = value; });
}

// The sequential pass over chunks, one thread per state entry, grid (D * D / kThreads, BKV): in
// chunk order (last chunk first for kBackward), S <- diag(decay_n) S + W_n, where `per_chunk`
// holds W_n on entry and the carried S before chunk n's update on return. `start` (null for zeros)
// is the first S, `end` (may be null) receives the last.
template <int D, bool kBackward>
__global__ void __launch_bounds__(kThreads)
    ScanStates(const float* __restrict__ decays, const float* __restrict__ start,
               float* __restrict__ per_chunk, float* __restrict__ end, int64_t chunks) {
  const int64_t kv_head = blockIdx.y;
  const int e = blockIdx.x * kThreads + threadIdx.x, row = e / D;
  float s = start ? start[kv_head * D * D + e] : 0.f;
  for (int64_t step = 0; step < chunks; ++step) {
    const int64_t n = kBackward ? chunks - 1 - step : step;
    float* entry = per_chunk + (kv_head * chunks + n) * D * D + e;
    const float written = *entry;
    *entry = s;
    s = decays[(kv_head * chunks + n) * D + row] * s + written;
  }
  if (end) end[kv_head * D * D + e] = s;
}

// A_ij = sum_c q_ic k_jc exp(b_ic - b_jc) with the exact per-channel decay, for j <= i.
template <int D>
__device__ float ExactScore(const float (*q)[D + 1], const float (*k)[D + 1],
                            const double (*b)[D + 1], int i, int j) {
  float acc = 0;
  for (int c = 0; c < D; ++c) acc += q[i][c] * k[j][c] * Decay(b[i][c] - b[j][c]);
  return acc;
}

// Whether every cumulative log gate of the chunk lies within kMaxFactoredDecay of zero (block-wide).
template <int C, int D>
__device__ bool ChunkFactors(const double (*b)[D + 1]) {
  bool ok = true;
  for (int e = threadIdx.x; e < C * D; e += kThreads) ok = ok && fabs(b[e / D][e % D]) <= kMaxFactoredDecay;
  return __syncthreads_and(ok);
}

// Rows are padded by one word so that threads reading one column of consecutive rows hit distinct
// banks.
template <int D, int C>
struct OutputTiles {
  float q[C][D + 1];  // then q * exp(b)
  float k[C][D + 1];  // then k * exp(-b) when the chunk factors
  float v[C][D + 1];
  float scores[C][C + 1];
  float state[D][D + 1];
  double b[C][D + 1];
  double segment_totals[kThreads];
};

// One block per chunk and query head: o_i = (q_i * exp(b_i)) S_n + sum_{j<=i} A_ij v_j with
// A_ij = sum_c q_ic k_jc exp(b_ic - b_jc). Grid (N, BKV * G).
template <int D, int C>
__global__ void __launch_bounds__(kThreads)
    OutputForward(const float* __restrict__ q, const float* __restrict__ k,
                  const float* __restrict__ v, const float* __restrict__ g,
                  const float* __restrict__ states, float* __restrict__ out, int64_t t,
                  int64_t chunks, int64_t groups) {
  extern __shared__ __align__(16) unsigned char shared[];
  auto& m = *reinterpret_cast<OutputTiles<D, C>*>(shared);
  const int64_t n = blockIdx.x, head = blockIdx.y, kv_head = head / groups, t0 = n * C;
  const int64_t row0 = head * t * D, kv_row0 = kv_head * t * D;
  LoadRows<C, D>(&m.q[0][0], D + 1, q + row0, t0, t, D, 0);
  LoadRows<C, D>(&m.k[0][0], D + 1, k + kv_row0, t0, t, D, 0);
  LoadRows<C, D>(&m.v[0][0], D + 1, v + kv_row0, t0, t, D, 0);
  LoadRows<C, D>(&m.b[0][0], D + 1, g + kv_row0, t0, t, D, 0);
  LoadRows<D, D>(&m.state[0][0], D + 1, states + (kv_head * chunks + n) * D * D, 0, D, D, 0);
  __syncthreads();
  CumsumRows<C, D>(&m.b[0][0], D + 1, m.segment_totals);
  const bool factored = ChunkFactors<C, D>(m.b);
  if (!factored) {
    for (int e = threadIdx.x; e < C * C; e += kThreads) {
      const int i = e / C, j = e % C;
      m.scores[i][j] = j <= i ? ExactScore<D>(m.q, m.k, m.b, i, j) : 0.f;
    }
    __syncthreads();
  }
  for (int e = threadIdx.x; e < C * D; e += kThreads) {
    const int i = e / D, c = e % D;
    m.q[i][c] *= static_cast<float>(exp(m.b[i][c]));
    if (factored) m.k[i][c] *= static_cast<float>(exp(-m.b[i][c]));
  }
  __syncthreads();
  if (factored) {
    Tile<C, C> scores;
    Accumulate<C, C, D>(scores, [&](int i, int x) { return m.q[i][x]; },
                        [&](int x, int j) { return m.k[j][x]; });
    ForEach(scores, [&](int i, int j, float a) { m.scores[i][j] = j <= i ? a : 0.f; });
    __syncthreads();
  }
  Tile<C, D> o;
  Accumulate<C, D, D>(o, [&](int i, int x) { return m.q[i][x]; },
                      [&](int x, int c) { return m.state[x][c]; });
  Accumulate<C, D, C>(o, [&](int i, int j) { return m.scores[i][j]; },
                      [&](int j, int c) { return m.v[j][c]; });
  ForEach(o, [&](int i, int c, float value) {
    if (t0 + i < t) out[row0 + (t0 + i) * D + c] = value;
  });
}

template <int D, int C>
struct GradientTiles {
  float q[C][D + 1];       // factored: q * exp(b)
  float k[C][D + 1];       // factored: k * exp(-b)
  float v[C][D + 1];
  float d_out[C][D + 1];
  float to_end[C][D + 1];  // exact: exp(b_last - b_j), a key's decay to the chunk end; factored: exp(b)
  float scores[C][C + 1];
  float d_scores[C][C + 1];
  float state[D][D + 1];    // S entering the chunk
  float d_state[D][D + 1];  // G, the gradient of the state leaving it; factored: exp(b_last) G
  double b[C][D + 1];
  double segment_totals[kThreads];
};

// Where one query head's gradients go: d_q at its own rows; its shares of d_k, d_v and the gate
// terms at `row0` of the per-query-head buffers. The state gradient G already sums every query head
// of the group, so only the group's first head adds the terms that come through G.
struct GradientOutputs {
  int64_t row0;
  bool with_state_terms;
  float* __restrict__ d_q;
  float* __restrict__ d_k;
  float* __restrict__ d_v;
  float* __restrict__ gate_terms;
};

// The exact form of Gradients, for chunks whose gates do not factor.
template <int D, int C>
__device__ void ExactGradients(GradientTiles<D, C>& m, int64_t t0, int64_t t,
                               const GradientOutputs& o) {
  for (int e = threadIdx.x; e < C * D; e += kThreads) {
    const int j = e / D, c = e % D;
    m.to_end[j][c] = Decay(m.b[C - 1][c] - m.b[j][c]);
  }
  for (int e = threadIdx.x; e < C * C; e += kThreads) {
    const int i = e / C, j = e % C;
    float da = 0;
    if (j <= i) {
      for (int c = 0; c < D; ++c) da += m.d_out[i][c] * m.v[j][c];
    }
    m.scores[i][j] = j <= i ? ExactScore<D>(m.q, m.k, m.b, i, j) : 0.f;
    m.d_scores[i][j] = da;
  }
  __syncthreads();
  for (int e = threadIdx.x; e < C * D; e += kThreads) {
    const int r = e / D, c = e % D;  // token r of the chunk, key channel c
    if (t0 + r >= t) continue;
    float from_state = 0, to_state = 0;
    for (int x = 0; x < D; ++x) {
      from_state += m.state[c][x] * m.d_out[r][x];
      to_state += m.d_state[c][x] * m.v[r][x];
    }
    float dq = Decay(m.b[r][c]) * from_state;
    for (int j = 0; j <= r; ++j) dq += m.d_scores[r][j] * m.k[j][c] * Decay(m.b[r][c] - m.b[j][c]);
    float dk = o.with_state_terms ? m.to_end[r][c] * to_state : 0.f;
    for (int i = r; i < C; ++i) dk += m.d_scores[i][r] * m.q[i][c] * Decay(m.b[i][c] - m.b[r][c]);
    const int64_t at = o.row0 + (t0 + r) * D + c;
    o.d_q[at] = dq;
    o.d_k[at] = dk;
    o.gate_terms[at] = m.q[r][c] * dq - m.k[r][c] * dk;
  }
  for (int e = threadIdx.x; e < C * D; e += kThreads) {
    const int j = e / D, c = e % D;  // token j of the chunk, value channel c
    if (t0 + j >= t) continue;
    float dv = 0;
    for (int i = j; i < C; ++i) dv += m.scores[i][j] * m.d_out[i][c];
    if (o.with_state_terms) {
      for (int x = 0; x < D; ++x) dv += m.k[j][x] * m.to_end[j][x] * m.d_state[x][c];
    }
    o.d_v[o.row0 + (t0 + j) * D + c] = dv;
  }
}

// The factored form: with qf = q exp(b), kf = k exp(-b) and Ge = diag(exp(b_last)) G,
//   A = tril(qf kf^T), dA = tril(dO v^T)
//   dq = exp(b) (dO S^T + dA kf),   q dq = qf (dO S^T + dA kf)
//   dk = exp(-b) (v Ge^T + dA^T qf), k dk = kf (v Ge^T + dA^T qf)
//   dv = A^T dO + kf Ge
template <int D, int C>
__device__ void FactoredGradients(GradientTiles<D, C>& m, int64_t t0, int64_t t,
                                  const GradientOutputs& o) {
  for (int e = threadIdx.x; e < C * D; e += kThreads) {
    const int i = e / D, c = e % D;
    const double from_start = exp(m.b[i][c]);
    m.to_end[i][c] = static_cast<float>(from_start);  // reused here for exp(b)
    m.q[i][c] *= static_cast<float>(from_start);
    m.k[i][c] *= static_cast<float>(1 / from_start);
  }
  for (int e = threadIdx.x; e < D * D; e += kThreads) {
    const int c = e / D, x = e % D;
    m.d_state[c][x] *= static_cast<float>(exp(m.b[C - 1][c]));
  }
  __syncthreads();
  Tile<C, C> a, da;
  Accumulate<C, C, D>(a, [&](int i, int x) { return m.q[i][x]; },
                      [&](int x, int j) { return m.k[j][x]; });
  Accumulate<C, C, D>(da, [&](int i, int x) { return m.d_out[i][x]; },
                      [&](int x, int j) { return m.v[j][x]; });
  ForEach(a, [&](int i, int j, float value) { m.scores[i][j] = j <= i ? value : 0.f; });
  ForEach(da, [&](int i, int j, float value) { m.d_scores[i][j] = j <= i ? value : 0.f; });
  __syncthreads();
  Tile<C, D> q_side, k_side, dv;
  Accumulate<C, D, D>(q_side, [&](int r, int x) { return m.d_out[r][x]; },
                      [&](int x, int c) { return m.state[c][x]; });
  Accumulate<C, D, C>(q_side, [&](int r, int j) { return m.d_scores[r][j]; },
                      [&](int j, int c) { return m.k[j][c]; });
  if (o.with_state_terms) {
    Accumulate<C, D, D>(k_side, [&](int r, int x) { return m.v[r][x]; },
                        [&](int x, int c) { return m.d_state[c][x]; });
    Accumulate<C, D, D>(dv, [&](int j, int x) { return m.k[j][x]; },
                        [&](int x, int c) { return m.d_state[x][c]; });
  }
  Accumulate<C, D, C>(k_side, [&](int r, int i) { return m.d_scores[i][r]; },
                      [&](int i, int c) { return m.q[i][c]; });
  Accumulate<C, D, C>(dv, [&](int j, int i) { return m.scores[i][j]; },
                      [&](int i, int c) { return m.d_out[i][c]; });
  using T = Tiling<C, D>;
#pragma unroll
  for (int i = 0; i < T::kRows; ++i) {
#pragma unroll
    for (int j = 0; j < T::kCols; ++j) {
      const int r = T::Row(i), c = T::Col(j);
      if (t0 + r >= t) continue;
      const int64_t at = o.row0 + (t0 + r) * D + c;
      const float qs = q_side.v[i][j], ks = k_side.v[i][j];
      o.d_q[at] = m.to_end[r][c] * qs;
      o.d_k[at] = ks / m.to_end[r][c];
      o.d_v[at] = dv.v[i][j];
      o.gate_terms[at] = m.q[r][c] * qs - m.k[r][c] * ks;
    }
  }
}

// One block per chunk, from S_n and G_n:
//   dA_ij = dO_i . v_j (j <= i)
//   dq_ic = exp(b_ic) (S dO_i)_c + sum_{j<=i} dA_ij k_jc exp(b_ic - b_jc)
//   dk_jc = sum_{i>=j} dA_ij q_ic exp(b_ic - b_jc) + exp(b_last,c - b_jc) (G v_j)_c
//   dv_jv = sum_{i>=j} A_ij dO_iv + sum_c k_jc exp(b_last,c - b_jc) G_cv
// and the gate terms q*dq - k*dk, each query head's share (see GradientOutputs). Grid (N, BKV * G).
template <int D, int C>
__global__ void __launch_bounds__(kThreads)
    Gradients(const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v,
              const float* __restrict__ g, const float* __restrict__ states,
              const float* __restrict__ d_out, const float* __restrict__ d_states,
              float* __restrict__ d_q, float* __restrict__ d_k_shares,
              float* __restrict__ d_v_shares, float* __restrict__ gate_term_shares, int64_t t,
              int64_t chunks, int64_t groups) {
  extern __shared__ __align__(16) unsigned char shared[];
  auto& m = *reinterpret_cast<GradientTiles<D, C>*>(shared);
  const int64_t n = blockIdx.x, head = blockIdx.y, kv_head = head / groups, t0 = n * C;
  const int64_t row0 = head * t * D, kv_row0 = kv_head * t * D;
  const int64_t state0 = (kv_head * chunks + n) * D * D;
  LoadRows<C, D>(&m.q[0][0], D + 1, q + row0, t0, t, D, 0);
  LoadRows<C, D>(&m.k[0][0], D + 1, k + kv_row0, t0, t, D, 0);
  LoadRows<C, D>(&m.v[0][0], D + 1, v + kv_row0, t0, t, D, 0);
  LoadRows<C, D>(&m.d_out[0][0], D + 1, d_out + row0, t0, t, D, 0);
  LoadRows<C, D>(&m.b[0][0], D + 1, g + kv_row0, t0, t, D, 0);
  LoadRows<D, D>(&m.state[0][0], D + 1, states + state0, 0, D, D, 0);
  LoadRows<D, D>(&m.d_state[0][0], D + 1, d_states + state0, 0, D, D, 0);
  __syncthreads();
  CumsumRows<C, D>(&m.b[0][0], D + 1, m.segment_totals);
  const GradientOutputs out{row0, head % groups == 0, d_q, d_k_shares, d_v_shares,
                            gate_term_shares};
  if (ChunkFactors<C, D>(m.b)) {
    FactoredGradients(m, t0, t, out);
  } else {
    ExactGradients(m, t0, t, out);
  }
}

// out[i] = sum_g shares[i * G + g] over rows of `row_size` floats: each KV head's gradient from its
// query heads' shares.
__global__ void __launch_bounds__(kThreads)
    SumGroups(const float* __restrict__ shares, float* __restrict__ out, int64_t rows,
              int64_t row_size, int64_t groups) {
  const int64_t total = rows * row_size;
  for (int64_t e = blockIdx.x * int64_t{kThreads} + threadIdx.x; e < total;
       e += int64_t{gridDim.x} * kThreads) {
    const int64_t row = e / row_size, offset = e % row_size;
    float sum = 0;
    for (int64_t g = 0; g < groups; ++g) sum += shares[(row * groups + g) * row_size + offset];
    out[e] = sum;
  }
}

// A token's log gate enters the cumulative sums of itself and every later token: in place,
// x_t <- sum_{s >= t} x_s along each sequence. Grid (BH, D / 32); each thread sums one channel over
// a segment of the sequence, then adds the totals of the segments after it.
template <int D>
__global__ void __launch_bounds__(kThreads) SuffixSums(float* __restrict__ x, int64_t t) {
  constexpr int kSegments = kThreads / 32;
  __shared__ float totals[kSegments][32];
  const int c = blockIdx.y * 32 + threadIdx.x % 32, s = threadIdx.x / 32;
  const int64_t length = (t + kSegments - 1) / kSegments;
  const int64_t begin = s * length, end = begin + length < t ? begin + length : t;
  float* row = x + blockIdx.x * t * D + c;
  float run = 0;
  for (int64_t i = end - 1; i >= begin; --i) {
    run += row[i * D];
    row[i * D] = run;
  }
  totals[s][threadIdx.x % 32] = run;
  __syncthreads();
  float offset = 0;
  for (int p = s + 1; p < kSegments; ++p) offset += totals[p][threadIdx.x % 32];
  for (int64_t i = begin; i < end; ++i) row[i * D] += offset;
}

// Kernels needing more than the default 48 KB of shared memory must ask for it first.
template <typename Kernel>
cudaError_t AllowSharedBytes(Kernel kernel, size_t bytes) {
  return cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(bytes));
}

template <int D>
cudaError_t Forward(const KeyGatedForwardArgs& a, cudaStream_t stream) {
  constexpr int C = ChunkOf<D>();
  const int64_t chunks = (a.tokens + C - 1) / C;
  ChunkWrites<D, C, false><<<dim3(chunks, a.batch_kv_heads), kThreads, 0, stream>>>(
      a.k, a.v, a.log_gate, a.chunk_states, a.chunk_decays, a.tokens, chunks, 1);
  ScanStates<D, false><<<dim3(D * D / kThreads, a.batch_kv_heads), kThreads, 0, stream>>>(
      a.chunk_decays, a.initial_state, a.chunk_states, a.final_state, chunks);
  const size_t shared = sizeof(OutputTiles<D, C>);
  if (cudaError_t e = AllowSharedBytes(OutputForward<D, C>, shared); e != cudaSuccess) {
    return e;
  }
  OutputForward<D, C><<<dim3(chunks, a.batch_kv_heads * a.groups), kThreads, shared, stream>>>(
      a.q, a.k, a.v, a.log_gate, a.chunk_states, a.output, a.tokens, chunks, a.groups);
  return cudaGetLastError();
}

template <int D>
cudaError_t Backward(const KeyGatedBackwardArgs& a, cudaStream_t stream) {
  constexpr int C = ChunkOf<D>();
  const int64_t chunks = (a.tokens + C - 1) / C;
  if (a.groups > 1 && a.group_terms == nullptr) return cudaErrorInvalidValue;
  ChunkWrites<D, C, true><<<dim3(chunks, a.batch_kv_heads), kThreads, 0, stream>>>(
      a.q, a.d_output, a.log_gate, a.d_chunk_states, a.chunk_decays, a.tokens, chunks, a.groups);
  ScanStates<D, true><<<dim3(D * D / kThreads, a.batch_kv_heads), kThreads, 0, stream>>>(
      a.chunk_decays, a.d_final_state, a.d_chunk_states, a.d_initial_state, chunks);
  const size_t shared = sizeof(GradientTiles<D, C>);
  if (cudaError_t e = AllowSharedBytes(Gradients<D, C>, shared); e != cudaSuccess) {
    return e;
  }
  // With one query head per KV head its shares are the gradients themselves.
  const int64_t share_size = a.batch_kv_heads * a.groups * a.tokens * D;
  float* d_k = a.groups > 1 ? a.group_terms : a.d_k;
  float* d_v = a.groups > 1 ? a.group_terms + share_size : a.d_v;
  float* gate_terms = a.groups > 1 ? a.group_terms + 2 * share_size : a.d_log_gate;
  Gradients<D, C><<<dim3(chunks, a.batch_kv_heads * a.groups), kThreads, shared, stream>>>(
      a.q, a.k, a.v, a.log_gate, a.chunk_states, a.d_output, a.d_chunk_states, a.d_q, d_k, d_v,
      gate_terms, a.tokens, chunks, a.groups);
  if (a.groups > 1) {
    const int64_t row_size = a.tokens * D;
    const int blocks =
        static_cast<int>(std::min<int64_t>((a.batch_kv_heads * row_size + kThreads - 1) / kThreads, 4096));
    for (const auto& [shares, out] : {std::pair{d_k, a.d_k}, std::pair{d_v, a.d_v},
                                      std::pair{gate_terms, a.d_log_gate}}) {
      SumGroups<<<blocks, kThreads, 0, stream>>>(shares, out, a.batch_kv_heads, row_size, a.groups);
    }
  }
  SuffixSums<D><<<dim3(a.batch_kv_heads, D / 32), kThreads, 0, stream>>>(a.d_log_gate, a.tokens);
  return cudaGetLastError();
}

}  // namespace

int KeyGatedChunkTokens(int64_t head_dim) {
  switch (head_dim) {
    case 32:
      return ChunkOf<32>();
    case 64:
      return ChunkOf<64>();
    case 128:
      return ChunkOf<128>();
    default:
      return 0;
  }
}

cudaError_t KeyGatedForward(const KeyGatedForwardArgs& args, cudaStream_t stream) {
  switch (args.head_dim) {
    case 32:
      return Forward<32>(args, stream);
    case 64:
      return Forward<64>(args, stream);
    case 128:
      return Forward<128>(args, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

cudaError_t KeyGatedBackward(const KeyGatedBackwardArgs& args, cudaStream_t stream) {
  switch (args.head_dim) {
    case 32:
      return Backward<32>(args, stream);
    case 64:
      return Backward<64>(args, stream);
    case 128:
      return Backward<128>(args, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

}  // namespace liger::cuda
