#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "core/model/ops/cuda/element_type.h"

// Elementwise steps of a decoder layer that ATen runs as several kernels each, fused into one and
// rounding exactly where the ATen compositions round, so the results are the same.
namespace liger::cuda {

// Rotary embedding, rotate-half form: y = x * c + rotate_half(x) * s with c, s the float32 cos/sin
// rounded to x's type and each product and the sum rounded (RotaryEmbedding::Apply).
struct RotaryArgs {
  const void* x;  // [B, H, T, D], the last dim contiguous, these strides (elements)
  int64_t x_stride_b, x_stride_h, x_stride_t;
  const float* cos;  // [B or 1, T, D] contiguous: cos_stride_b is 0 when shared by the batch
  const float* sin;
  int64_t cos_stride_b;
  void* y;  // [B, H, T, D] contiguous
  int64_t batch, heads, tokens, head_dim;
  ElementType element_type;
};

cudaError_t LaunchRotary(const RotaryArgs& args, cudaStream_t stream);

// SwiGLU's product: y = silu(gate) * up, silu rounded to the type first (torch::silu, then *).
struct SiluMulArgs {
  const void* gate;  // [rows, width], rows `row_stride` elements apart, the width contiguous
  const void* up;    // the same layout
  int64_t row_stride;
  void* y;  // [rows, width] contiguous
  int64_t rows, width;
  ElementType element_type;
};

cudaError_t LaunchSiluMul(const SiluMulArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
