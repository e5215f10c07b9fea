#pragma once

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "core/io/dtype.h"
#include "core/io/tensor_view.h"

namespace liger {

absl::StatusOr<torch::ScalarType> ToTorchDType(DType dtype);
absl::StatusOr<DType> FromTorchDType(torch::ScalarType dtype);

// Copies a (possibly unaligned, memory-mapped) view into an owned tensor on `device`.
absl::StatusOr<torch::Tensor> ToTensor(const TensorView& view, torch::Device device = torch::kCPU);

// A view of a contiguous CPU tensor, valid while the tensor lives.
absl::StatusOr<TensorView> ViewOf(const torch::Tensor& tensor);

}  // namespace liger
