#pragma once

#include <cstdint>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace liger {

// Token ids as the int64 [N] tensor on `device` that CausalLM::Prefill and DecodeStep take.
// INTERNAL if the copy to the device fails.
absl::StatusOr<torch::Tensor> TokenTensor(absl::Span<const int32_t> ids, torch::Device device);

}  // namespace liger
