#pragma once

#include "absl/status/status.h"
#include "core/train/fine_tune.h"

namespace liger {

// Checks every option that needs no file (the LoRA options through ValidateLoraOptions):
// INVALID_ARGUMENT naming the first bad option. Checks that depend on the model (sequence_length
// against max_position_embeddings) come when it is loaded.
absl::Status ValidateFineTuneOptions(const FineTuneOptions& options);

}  // namespace liger
