#include "core/model/ops/cuda/rms_norm_kernels.h"

#include <cuda_runtime.h>

#include "core/model/ops/cuda/element_access.cuh"

namespace liger::cuda {
namespace {

// A block per row: a decode step normalizes a handful of rows, so each row's elements must be
// spread over many threads, with the loads in flight together (kept in registers for the second
// pass).
template <typename T, int kThreads>
__global__ void __launch_bounds__(kThreads) RmsNormKernel(const RmsNormArgs a) {
  constexpr int kCached = 16;  // elements per thread kept in registers; wider rows are read twice
  const int64_t row = blockIdx.x;
  const T* x = static_cast<const T*>(a.x) + row * a.row_stride;
  const T* w = static_cast<const T*>(a.weight);
  T* y = static_cast<T*>(a.y) + row * a.width;
  float cached[kCached];
  float sum = 0.f;
#pragma unroll
  for (int c = 0; c < kCached; ++c) {
    const int64_t i = threadIdx.x + static_cast<int64_t>(c) * kThreads;
    cached[c] = i < a.width ? Widen(x[i]) : 0.f;
    sum += cached[c] * cached[c];
  }
  for (int64_t i = threadIdx.x + int64_t{kCached} * kThreads; i < a.width; i += kThreads) {
    const float v = Widen(x[i]);
    sum += v * v;
  }
  __shared__ float warp_sums[kThreads / 32];
  for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = sum;
  __syncthreads();
  float total = 0.f;
#pragma unroll
  for (int i = 0; i < kThreads / 32; ++i) total += warp_sums[i];
  const float scale = rsqrtf(total / static_cast<float>(a.width) + a.eps);
#pragma unroll
  for (int c = 0; c < kCached; ++c) {
    const int64_t i = threadIdx.x + static_cast<int64_t>(c) * kThreads;
    if (i < a.width) y[i] = Narrow<T>(Widen(w[i]) * Widen(Narrow<T>(cached[c] * scale)));
  }
  for (int64_t i = threadIdx.x + int64_t{kCached} * kThreads; i < a.width; i += kThreads) {
    y[i] = Narrow<T>(Widen(w[i]) * Widen(Narrow<T>(Widen(x[i]) * scale)));
  }
}

template <typename T>
cudaError_t Launch(const RmsNormArgs& a, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(a.rows));
  // Enough threads that each holds at most a few elements (a head's 64-128 needs one warp).
  if (a.width > 1024) {
    RmsNormKernel<T, 256><<<grid, 256, 0, stream>>>(a);
  } else if (a.width > 256) {
    RmsNormKernel<T, 128><<<grid, 128, 0, stream>>>(a);
  } else {
    RmsNormKernel<T, 32><<<grid, 32, 0, stream>>>(a);
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t LaunchRmsNorm(const RmsNormArgs& args, cudaStream_t stream) {
  if (args.rows <= 0 || args.width <= 0) return cudaSuccess;
  switch (args.element_type) {
    case ElementType::kFloat32:
      return Launch<float>(args, stream);
    case ElementType::kFloat16:
      return Launch<__half>(args, stream);
    case ElementType::kBFloat16:
      return Launch<__nv_bfloat16>(args, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace liger::cuda
