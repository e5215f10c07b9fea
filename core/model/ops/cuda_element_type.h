#pragma once

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "core/model/ops/cuda/element_type.h"

// Built only with CUDA (LIGER_WITH_CUDA).
namespace liger {

// The fused kernels' name for a LibTorch dtype; INVALID_ARGUMENT unless float32, float16 or
// bfloat16.
absl::StatusOr<cuda::ElementType> CudaElementType(torch::ScalarType dtype);

}  // namespace liger
