#include "core/model/ops/cuda/elementwise_kernels.h"

#include <algorithm>

#include <cuda_runtime.h>

#include "core/model/ops/cuda/element_access.cuh"

namespace liger::cuda {
namespace {

constexpr int kElementwiseThreads = 256;

// Rotary: a warp per (sequence, head, token) row, each lane a pair of channels (c, c + D/2), so
// index arithmetic is per row, not per element.
template <typename T>
__global__ void __launch_bounds__(kElementwiseThreads) RotaryKernel(const RotaryArgs a) {
  constexpr int kRowsPerBlock = kElementwiseThreads / 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  if (row >= a.batch * a.heads * a.tokens) return;
  const int64_t t = row % a.tokens, bh = row / a.tokens, h = bh % a.heads, b = bh / a.heads;
  const int64_t d = a.head_dim, half = d / 2;
  const T* x = static_cast<const T*>(a.x) + b * a.x_stride_b + h * a.x_stride_h + t * a.x_stride_t;
  T* y = static_cast<T*>(a.y) + row * d;
  const float* cos = a.cos + b * a.cos_stride_b + t * d;
  const float* sin = a.sin + b * a.cos_stride_b + t * d;
  for (int64_t c = threadIdx.x % 32; c < half; c += 32) {
    const float lo = Widen(x[c]), hi = Widen(x[c + half]);
    const float cos_lo = RoundTrip<T>(cos[c]), cos_hi = RoundTrip<T>(cos[c + half]);
    const float sin_lo = RoundTrip<T>(sin[c]), sin_hi = RoundTrip<T>(sin[c + half]);
    y[c] = Narrow<T>(RoundTrip<T>(lo * cos_lo) + RoundTrip<T>(-hi * sin_lo));
    y[c + half] = Narrow<T>(RoundTrip<T>(hi * cos_hi) + RoundTrip<T>(lo * sin_hi));
  }
}

// SwiGLU: blocks of (row, slice of kSiluMulPerBlock columns). A decode step has one row of 8,192
// or so per sequence: a block striding over a whole row would run its loads one after another.
constexpr int kSiluMulPerThread = 4;
constexpr int64_t kSiluMulPerBlock = int64_t{kElementwiseThreads} * kSiluMulPerThread;

template <typename T>
__global__ void __launch_bounds__(kElementwiseThreads) SiluMulKernel(const SiluMulArgs a) {
  const int64_t row = blockIdx.x;
  const int64_t start = static_cast<int64_t>(blockIdx.y) * kSiluMulPerBlock + threadIdx.x;
  const T* gate = static_cast<const T*>(a.gate) + row * a.row_stride;
  const T* up = static_cast<const T*>(a.up) + row * a.row_stride;
  T* y = static_cast<T*>(a.y) + row * a.width;
  float g[kSiluMulPerThread], u[kSiluMulPerThread];
#pragma unroll
  for (int k = 0; k < kSiluMulPerThread; ++k) {  // every load in flight before any use
    const int64_t i = start + int64_t{k} * kElementwiseThreads;
    g[k] = i < a.width ? Widen(gate[i]) : 0.f;
    u[k] = i < a.width ? Widen(up[i]) : 0.f;
  }
#pragma unroll
  for (int k = 0; k < kSiluMulPerThread; ++k) {
    const int64_t i = start + int64_t{k} * kElementwiseThreads;
    if (i < a.width) y[i] = Narrow<T>(RoundTrip<T>(g[k] / (1.f + expf(-g[k]))) * u[k]);
  }
}

template <typename T>
struct Rotary {
  static void Launch(const RotaryArgs& a, dim3 grid, cudaStream_t stream) {
    RotaryKernel<T><<<grid, kElementwiseThreads, 0, stream>>>(a);
  }
};

template <typename T>
struct SiluMul {
  static void Launch(const SiluMulArgs& a, dim3 grid, cudaStream_t stream) {
    SiluMulKernel<T><<<grid, kElementwiseThreads, 0, stream>>>(a);
  }
};

template <template <typename> class Kernel, typename Args>
cudaError_t Dispatch(const Args& a, dim3 grid, cudaStream_t stream) {
  if (grid.x == 0 || grid.y == 0) return cudaSuccess;
  switch (a.element_type) {
    case ElementType::kFloat32:
      Kernel<float>::Launch(a, grid, stream);
      break;
    case ElementType::kFloat16:
      Kernel<__half>::Launch(a, grid, stream);
      break;
    case ElementType::kBFloat16:
      Kernel<__nv_bfloat16>::Launch(a, grid, stream);
      break;
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t LaunchRotary(const RotaryArgs& args, cudaStream_t stream) {
  constexpr int64_t kRowsPerBlock = kElementwiseThreads / 32;
  const int64_t blocks = (args.batch * args.heads * args.tokens + kRowsPerBlock - 1) / kRowsPerBlock;
  return Dispatch<Rotary>(args, dim3(static_cast<unsigned>(std::max<int64_t>(blocks, 0))), stream);
}

cudaError_t LaunchSiluMul(const SiluMulArgs& args, cudaStream_t stream) {
  if (args.rows <= 0 || args.width <= 0) return cudaSuccess;
  const int64_t slices = (args.width + kSiluMulPerBlock - 1) / kSiluMulPerBlock;
  if (args.rows > int64_t{0x7fffffff} || slices > 65535) return cudaErrorInvalidValue;
  return Dispatch<SiluMul>(
      args, dim3(static_cast<unsigned>(args.rows), static_cast<unsigned>(slices)), stream);
}

}  // namespace liger::cuda
