#pragma once

#include <cstdint>
#include <exception>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace liger {

// Argument validation shared by the tensor ops, so that a bad shape becomes INVALID_ARGUMENT naming
// the argument instead of a c10::Error thrown from deep inside LibTorch.

// `t` must be defined, have exactly the sizes in `shape` (-1 matches any size) and live on the same
// device as `like` (when `like` is defined).
absl::Status CheckShape(const torch::Tensor& t, absl::string_view name,
                        absl::Span<const int64_t> shape, const torch::Tensor& like);

// CheckShape, and `t` must be floating point.
absl::Status CheckTensor(const torch::Tensor& t, absl::string_view name,
                         absl::Span<const int64_t> shape, const torch::Tensor& like);

// `t` must have dtype `dtype`.
absl::Status CheckDtype(const torch::Tensor& t, absl::string_view name, torch::ScalarType dtype);

// Grouped-query heads: k's head count (dim 1) must divide q's.
absl::Status CheckGroupedHeads(const torch::Tensor& q, const torch::Tensor& k);

// Prefixes a failed status's message with the op that produced it.
absl::Status Annotate(absl::string_view op, const absl::Status& s);

// Maps an exception thrown by LibTorch inside `op` to a Status: RESOURCE_EXHAUSTED for allocation
// failures, INTERNAL otherwise.
absl::Status StatusFromException(absl::string_view op, const std::exception& e);

}  // namespace liger
