#pragma once

#include "absl/status/status.h"
#include "core/model/model_config.h"
#include "core/train/fine_tune.h"

namespace liger {

// Checks every option that needs no file (the LoRA options through ValidateLoraOptions):
// INVALID_ARGUMENT naming the first bad option. Checks that depend on the model come from
// ValidateFineTuneModel once its config is read.
absl::Status ValidateFineTuneOptions(const FineTuneOptions& options);

// The options that depend on the model to train: INVALID_ARGUMENT when sequence_length exceeds its
// max_position_embeddings, FAILED_PRECONDITION when distill_weight > 0 but it is not a Liger
// conversion (its softmax teacher would be the model itself).
absl::Status ValidateFineTuneModel(const FineTuneOptions& options, const ModelConfig& config);

}  // namespace liger
