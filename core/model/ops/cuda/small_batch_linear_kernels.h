#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "core/model/ops/cuda/element_type.h"

// y = x W^T (+ bias) (+ residual) for a few rows of x: the matrix-vector products of a decode step at small
// batch, where the weights' bytes are all the work. Each warp streams whole weight rows with
// 16-byte loads and keeps every x row's products in registers, accumulating in float32.
namespace liger::cuda {

inline constexpr int64_t kSmallBatchLinearMaxRows = 8;

struct SmallBatchLinearArgs {
  const void* x;       // [rows, in_features], rows `x_row_stride` elements apart
  const void* weight;  // [out_features, in_features] contiguous
  const void* bias;    // [out_features], or null
  // [rows, out_features] contiguous, or null: added after the product is rounded to the element
  // type, as `residual + linear(x)` rounds, so a layer's residual add needs no kernel of its own.
  const void* residual;
  void* y;             // [rows, out_features] contiguous
  int64_t rows, in_features, out_features, x_row_stride;
  ElementType element_type;  // float16 or bfloat16, for all five
};

// cudaErrorInvalidValue unless 1 <= rows <= kSmallBatchLinearMaxRows, in_features and
// x_row_stride are multiples of 8 and x and weight are 16-byte aligned.
cudaError_t LaunchSmallBatchLinear(const SmallBatchLinearArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
