#pragma once

#include <cstdint>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace liger {

// Token ids as the int64 [N] CPU tensor that CausalLM::Prefill and DecodeStep take. The ids stay on
// the host: the model moves them itself, and host ids spare its range check a device sync.
// INTERNAL if the tensor cannot be allocated.
absl::StatusOr<torch::Tensor> TokenTensor(absl::Span<const int32_t> ids);

}  // namespace liger
