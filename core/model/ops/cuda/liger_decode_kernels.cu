#include "core/model/ops/cuda/liger_decode_kernels.h"

#include <cuda_runtime.h>

#include "core/model/ops/cuda/element_access.cuh"

namespace liger::cuda {
namespace {

constexpr int kDecodeThreads = 256;
constexpr int kDecodeWarps = kDecodeThreads / 32;
constexpr int kMaxGroups = 8;
constexpr size_t kMaxSharedBytes = 48 * 1024;

__device__ __forceinline__ float WarpSum(float x) {
  for (int offset = 16; offset > 0; offset >>= 1) x += __shfl_xor_sync(0xffffffffu, x, offset);
  return x;
}

__device__ __forceinline__ float WarpMax(float x) {
  for (int offset = 16; offset > 0; offset >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset));
  return x;
}

__device__ __forceinline__ float LogSigmoid(float x) { return fminf(x, 0.f) - log1pf(expf(-fabsf(x))); }

// Offsets (in floats) of a block's shared arrays.
struct Layout {
  int q_raw, q_rot, q_feat, k_raw, k_rot, k_feat, value, decay, scores, window_out, partial, total;
};

__host__ __device__ inline Layout MakeLayout(int d, int g, int w) {
  Layout l{};
  int o = 0;
  l.q_raw = o, o += g * d;
  l.q_rot = o, o += g * d;
  l.q_feat = o, o += g * d;
  l.k_raw = o, o += d;
  l.k_rot = o, o += d;
  l.k_feat = o, o += d;
  l.value = o, o += d;
  l.decay = o, o += d;
  l.scores = o, o += g * (w + 1);
  l.window_out = o, o += g * d;
  l.partial = o, o += (kDecodeThreads / d) * g * d;
  l.total = o;
  return l;
}

// Block (b, j): sequence b, KV head j, with its G query heads.
template <typename T, int D>
__global__ void __launch_bounds__(kDecodeThreads) LigerDecodeKernel(const LigerDecodeArgs a) {
  extern __shared__ float smem[];
  const int groups = static_cast<int>(a.groups), window = static_cast<int>(a.window);
  const int64_t kv = a.kv_heads;
  const Layout l = MakeLayout(D, groups, window);
  float* q_raw = smem + l.q_raw;
  float* q_rot = smem + l.q_rot;
  float* q_feat = smem + l.q_feat;
  float* k_raw = smem + l.k_raw;
  float* k_rot = smem + l.k_rot;
  float* k_feat = smem + l.k_feat;
  float* value = smem + l.value;
  float* decay = smem + l.decay;
  float* scores = smem + l.scores;
  float* window_out = smem + l.window_out;
  float* partial = smem + l.partial;

  const int64_t b = blockIdx.x / kv, j = blockIdx.x % kv;
  const int64_t row = a.rows[b], position = a.positions[b];
  const int valid = position < window ? static_cast<int>(position) : window;
  const T* q = static_cast<const T*>(a.q) + b * a.q_batch_stride + j * groups * a.q_head_stride;
  const T* k = static_cast<const T*>(a.k) + b * a.k_batch_stride + j * a.k_head_stride;
  const T* v = static_cast<const T*>(a.v) + b * a.v_batch_stride + j * a.v_head_stride;
  const float* cos = a.cos + b * D;
  const float* sin = a.sin + b * D;
  T* ring_k = static_cast<T*>(a.ring_k) + (row * kv + j) * window * D;
  T* ring_v = static_cast<T*>(a.ring_v) + (row * kv + j) * window * D;
  float* state = a.memory + (row * kv + j) * D * D;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;

  for (int i = tid; i < groups * D; i += kDecodeThreads) {
    q_raw[i] = Widen(q[(i / D) * a.q_head_stride + i % D]);
  }
  for (int d = tid; d < D; d += kDecodeThreads) {
    k_raw[d] = Widen(k[d]);
    value[d] = Widen(v[d]);
  }
  __syncthreads();

  // Rotary embedding (rotate-half form) of the G query rows and the key row.
  constexpr int kHalf = D / 2;
  for (int i = tid; i < (groups + 1) * D; i += kDecodeThreads) {
    const int r = i / D, d = i % D;
    const float* x = r < groups ? q_raw + r * D : k_raw;
    const float partner = d < kHalf ? -x[d + kHalf] : x[d - kHalf];
    (r < groups ? q_rot + r * D : k_rot)[d] = RoundTrip<T>(x[d] * cos[d] + partner * sin[d]);
  }
  // Feature maps of the un-rotated q and k, one warp per row; the key row also gives the gate.
  for (int r = warp; r < groups + 1; r += kDecodeWarps) {
    const float* x = r < groups ? q_raw + r * D : k_raw;
    float* f = r < groups ? q_feat + r * D : k_feat;
    if (r < groups || a.feature_map == DecodeFeatureMap::kGla) {
      float m = -INFINITY;
      for (int d = lane; d < D; d += 32) m = fmaxf(m, x[d]);
      m = WarpMax(m);
      float sum = 0.f;
      for (int d = lane; d < D; d += 32) sum += expf(x[d] - m);
      sum = WarpSum(sum);
      for (int d = lane; d < D; d += 32) f[d] = expf(x[d] - m) / sum;
    } else {
      for (int d = lane; d < D; d += 32) f[d] = 1.f / (1.f + expf(x[d]));  // 1 - sigmoid(k)
    }
    if (r == groups) {
      for (int d = lane; d < D; d += 32) decay[d] = expf(LogSigmoid(x[d]) / a.gate_normalizer);
    }
  }
  __syncthreads();

  // Window scores, a warp per key (each key read once for the group's G query heads); key
  // `window` is the current token, always seen.
  const float scale = rsqrtf(static_cast<float>(D));
  for (int s = warp; s <= window; s += kDecodeWarps) {
    if (s != window && s >= valid) {
      if (lane < groups) scores[lane * (window + 1) + s] = -INFINITY;
      continue;
    }
    float key[D / 32];
#pragma unroll
    for (int e = 0; e < D / 32; ++e) {
      const int d = lane + 32 * e;
      key[e] = s == window ? k_rot[d] : Widen(ring_k[s * D + d]);
    }
    for (int g = 0; g < groups; ++g) {
      float dot = 0.f;
#pragma unroll
      for (int e = 0; e < D / 32; ++e) dot += q_rot[g * D + lane + 32 * e] * key[e];
      dot = WarpSum(dot);
      if (lane == 0) scores[g * (window + 1) + s] = dot * scale;
    }
  }
  __syncthreads();
  for (int g = warp; g < groups; g += kDecodeWarps) {
    float* row_scores = scores + g * (window + 1);
    float m = -INFINITY;
    for (int s = lane; s <= window; s += 32) m = fmaxf(m, row_scores[s]);
    m = WarpMax(m);
    float sum = 0.f;
    for (int s = lane; s <= window; s += 32) sum += expf(row_scores[s] - m);
    sum = WarpSum(sum);
    for (int s = lane; s <= window; s += 32) row_scores[s] = expf(row_scores[s] - m) / sum;
  }
  __syncthreads();
  for (int i = tid; i < groups * D; i += kDecodeThreads) {
    const int d = i % D;
    const float* p = scores + (i / D) * (window + 1);
    float acc = p[window] * value[d];
    // Unrolled so that several ring loads are in flight at once: the loop is latency-bound.
#pragma unroll 8
    for (int s = 0; s < valid; ++s) acc += p[s] * Widen(ring_v[s * D + d]);
    window_out[i] = acc;
  }

  // S = diag(exp(g)) S + k^T v, then o = q S: thread (slice, c) owns column c of a band of rows,
  // so the state is read and written once, coalesced.
  constexpr int kSlices = kDecodeThreads / D, kBand = D / kSlices;
  const int c = tid % D, slice = tid / D;
  float acc[kMaxGroups] = {};
  const float vc = value[c];
  for (int r = slice * kBand; r < (slice + 1) * kBand; ++r) {
    const float s = state[r * D + c] * decay[r] + k_feat[r] * vc;
    state[r * D + c] = s;
#pragma unroll
    for (int g = 0; g < kMaxGroups; ++g) {
      if (g < groups) acc[g] += q_feat[g * D + r] * s;
    }
  }
#pragma unroll
  for (int g = 0; g < kMaxGroups; ++g) {
    if (g < groups) partial[(slice * groups + g) * D + c] = acc[g];
  }
  __syncthreads();  // also orders every ring read before the ring write below

  T* out = static_cast<T*>(a.output) + (b * kv + j) * groups * D;
  for (int i = tid; i < groups * D; i += kDecodeThreads) {
    const int g = i / D, d = i % D;
    float linear = 0.f;
    for (int sl = 0; sl < kSlices; ++sl) linear += partial[(sl * groups + g) * D + d];
    out[i] = Narrow<T>((1.f - a.window_weight) * linear + a.window_weight * window_out[i]);
  }
  const int64_t slot = position % window;
  for (int d = tid; d < D; d += kDecodeThreads) {
    ring_k[slot * D + d] = Narrow<T>(k_rot[d]);
    ring_v[slot * D + d] = Narrow<T>(value[d]);
  }
}

size_t SharedBytes(int64_t head_dim, int64_t groups, int64_t window) {
  return static_cast<size_t>(MakeLayout(static_cast<int>(head_dim), static_cast<int>(groups),
                                        static_cast<int>(window))
                                 .total) *
         sizeof(float);
}

template <typename T>
cudaError_t LaunchTyped(const LigerDecodeArgs& a, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(a.batch * a.kv_heads));
  const size_t shared = SharedBytes(a.head_dim, a.groups, a.window);
  switch (a.head_dim) {
    case 32:
      LigerDecodeKernel<T, 32><<<grid, kDecodeThreads, shared, stream>>>(a);
      break;
    case 64:
      LigerDecodeKernel<T, 64><<<grid, kDecodeThreads, shared, stream>>>(a);
      break;
    case 128:
      LigerDecodeKernel<T, 128><<<grid, kDecodeThreads, shared, stream>>>(a);
      break;
    default:
      return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace

bool LigerDecodeSupports(int64_t head_dim, int64_t groups, int64_t window) {
  return (head_dim == 32 || head_dim == 64 || head_dim == 128) && groups >= 1 &&
         groups <= kMaxGroups && window >= 1 && window <= 4096 &&
         SharedBytes(head_dim, groups, window) <= kMaxSharedBytes;
}

cudaError_t LaunchLigerDecode(const LigerDecodeArgs& args, cudaStream_t stream) {
  if (!LigerDecodeSupports(args.head_dim, args.groups, args.window) || args.batch <= 0) {
    return cudaErrorInvalidValue;
  }
  switch (args.element_type) {
    case ElementType::kFloat32:
      return LaunchTyped<float>(args, stream);
    case ElementType::kFloat16:
      return LaunchTyped<__half>(args, stream);
    case ElementType::kBFloat16:
      return LaunchTyped<__nv_bfloat16>(args, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace liger::cuda
