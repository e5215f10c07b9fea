#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "core/model/ops/cuda/element_type.h"

// RMSNorm as one kernel: y = weight * to_dtype(x * rsqrt(mean(x^2) + eps)), the statistics in
// float32, rounding where the ATen composition rounds (core/model/rms_norm.cc).
namespace liger::cuda {

struct RmsNormArgs {
  const void* x;       // [rows, width], rows `row_stride` elements apart, the width contiguous
  const void* weight;  // [width], the same element type
  void* y;             // [rows, width] contiguous
  int64_t rows, width, row_stride;
  float eps;
  ElementType element_type;
};

cudaError_t LaunchRmsNorm(const RmsNormArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
