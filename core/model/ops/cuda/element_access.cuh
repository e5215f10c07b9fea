#pragma once

// Reading and writing the fused kernels' element types as float32 (device code only).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace liger::cuda {

__device__ __forceinline__ float Widen(float x) { return x; }
__device__ __forceinline__ float Widen(__half x) { return __half2float(x); }
__device__ __forceinline__ float Widen(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T>
__device__ __forceinline__ T Narrow(float x);
template <>
__device__ __forceinline__ float Narrow<float>(float x) { return x; }
template <>
__device__ __forceinline__ __half Narrow<__half>(float x) { return __float2half(x); }
template <>
__device__ __forceinline__ __nv_bfloat16 Narrow<__nv_bfloat16>(float x) {
  return __float2bfloat16(x);
}

// x rounded to T's precision, as a float: where an ATen composition stores an intermediate in T.
template <typename T>
__device__ __forceinline__ float RoundTrip(float x) { return Widen(Narrow<T>(x)); }

}  // namespace liger::cuda
