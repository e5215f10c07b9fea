#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/train/fine_tune.h"

namespace liger {

// INVALID_ARGUMENT naming the option ("lora rank", "lora alpha", "lora dropout",
// "lora target_modules") unless rank >= 1, alpha > 0, 0 <= dropout < 1 and the targets are known
// projection names, non-empty and unique.
absl::Status ValidateLoraOptions(const LoraOptions& options);

// PEFT's adapter_config.json for `options`; `base_model` ("" for unknown, written as null) is the
// model the adapter was trained on.
std::string LoraConfigJson(const LoraOptions& options, const std::string& base_model);

// Parses an adapter_config.json; `source` names the file in messages. DATA_LOSS for text that is
// not such a config (bad JSON, missing or mistyped fields, invalid values); FAILED_PRECONDITION for
// a valid PEFT config this project cannot apply (another peft_type, biases, DoRA, rsLoRA, per-layer
// patterns, regex targets, target modules other than the Llama projections).
absl::StatusOr<LoraOptions> ParseLoraConfigJson(const std::string& text, const std::string& source);

}  // namespace liger
