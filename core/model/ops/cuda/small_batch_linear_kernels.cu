#include "core/model/ops/cuda/small_batch_linear_kernels.h"

#include <cuda_runtime.h>

#include "core/model/ops/cuda/element_access.cuh"

namespace liger::cuda {
namespace {

constexpr int kWarps = 4;        // per block
constexpr int kRowsPerWarp = 2;  // output features per warp: each x chunk loaded serves both
constexpr int kVector = 8;       // elements per 16-byte load

__device__ __forceinline__ void Unpack(const uint4& v, __nv_bfloat16, float (&out)[kVector]) {
  const auto* pairs = reinterpret_cast<const __nv_bfloat162*>(&v);
#pragma unroll
  for (int i = 0; i < kVector / 2; ++i) {
    const float2 f = __bfloat1622float2(pairs[i]);
    out[2 * i] = f.x;
    out[2 * i + 1] = f.y;
  }
}

__device__ __forceinline__ void Unpack(const uint4& v, __half, float (&out)[kVector]) {
  const auto* pairs = reinterpret_cast<const __half2*>(&v);
#pragma unroll
  for (int i = 0; i < kVector / 2; ++i) {
    const float2 f = __half22float2(pairs[i]);
    out[2 * i] = f.x;
    out[2 * i + 1] = f.y;
  }
}

template <typename T, int M>
__global__ void __launch_bounds__(kWarps * 32) SmallBatchLinearKernel(const SmallBatchLinearArgs a) {
  const int lane = threadIdx.x % 32;
  const int64_t first = (static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32) * kRowsPerWarp;
  if (first >= a.out_features) return;
  const int rows_here = a.out_features - first < kRowsPerWarp ? static_cast<int>(a.out_features - first)
                                                               : kRowsPerWarp;
  const int64_t chunks = a.in_features / kVector;
  const uint4* x = static_cast<const uint4*>(a.x);
  const int64_t x_stride = a.x_row_stride / kVector;  // in chunks
  const uint4* w = static_cast<const uint4*>(a.weight) + first * chunks;
  float acc[kRowsPerWarp][M] = {};
#pragma unroll 4
  for (int64_t c = lane; c < chunks; c += 32) {
    uint4 wv[kRowsPerWarp];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      // Weights are read once per step: stream them past the caches.
      wv[r] = r < rows_here ? __ldcs(w + r * chunks + c) : make_uint4(0, 0, 0, 0);
    }
    float wf[kRowsPerWarp][kVector];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) Unpack(wv[r], T(), wf[r]);
#pragma unroll
    for (int m = 0; m < M; ++m) {
      float xf[kVector];
      Unpack(__ldg(x + m * x_stride + c), T(), xf);
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
#pragma unroll
        for (int e = 0; e < kVector; ++e) acc[r][m] = fmaf(wf[r][e], xf[e], acc[r][m]);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
#pragma unroll
    for (int m = 0; m < M; ++m) {
      float sum = acc[r][m];
      for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
      acc[r][m] = sum;
    }
  }
  if (lane != 0) return;
  const T* bias = static_cast<const T*>(a.bias);
  const T* residual = static_cast<const T*>(a.residual);
  T* y = static_cast<T*>(a.y);
  for (int r = 0; r < rows_here; ++r) {
    const float b = bias != nullptr ? Widen(bias[first + r]) : 0.f;
#pragma unroll
    for (int m = 0; m < M; ++m) {
      const int64_t i = m * a.out_features + first + r;
      const T product = Narrow<T>(acc[r][m] + b);
      y[i] = residual != nullptr ? Narrow<T>(Widen(residual[i]) + Widen(product)) : product;
    }
  }
}

template <typename T, int M>
cudaError_t LaunchRows(const SmallBatchLinearArgs& a, cudaStream_t stream) {
  if constexpr (M > 1) {
    if (a.rows < M) return LaunchRows<T, M - 1>(a, stream);
  }
  constexpr int64_t kPerBlock = kWarps * kRowsPerWarp;
  const auto blocks = static_cast<unsigned>((a.out_features + kPerBlock - 1) / kPerBlock);
  SmallBatchLinearKernel<T, M><<<blocks, kWarps * 32, 0, stream>>>(a);
  return cudaGetLastError();
}

bool Aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

cudaError_t LaunchSmallBatchLinear(const SmallBatchLinearArgs& a, cudaStream_t stream) {
  if (a.rows < 1 || a.rows > kSmallBatchLinearMaxRows || a.in_features % kVector != 0 ||
      a.x_row_stride % kVector != 0 || a.out_features < 1 || !Aligned16(a.x) ||
      !Aligned16(a.weight)) {
    return cudaErrorInvalidValue;
  }
  switch (a.element_type) {
    case ElementType::kBFloat16:
      return LaunchRows<__nv_bfloat16, kSmallBatchLinearMaxRows>(a, stream);
    case ElementType::kFloat16:
      return LaunchRows<__half, kSmallBatchLinearMaxRows>(a, stream);
    case ElementType::kFloat32:
      break;
  }
  return cudaErrorInvalidValue;
}

}  // namespace liger::cuda
