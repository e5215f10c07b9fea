#include "core/engine/sampling_params.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace liger {
namespace {

absl::Status OutOfRange(const char* field, double value, const char* range) {
  return absl::InvalidArgumentError(
      absl::StrCat("sampling parameter ", field, " = ", value, " must be ", range));
}

}  // namespace

absl::Status ValidateSamplingParams(const SamplingParams& params) {
  if (!std::isfinite(params.temperature) || params.temperature < 0.0f) {
    return OutOfRange("temperature", params.temperature, "finite and >= 0");
  }
  if (params.top_k < 0) return OutOfRange("top_k", params.top_k, ">= 0");
  if (!(params.top_p > 0.0f && params.top_p <= 1.0f)) {
    return OutOfRange("top_p", params.top_p, "in (0, 1]");
  }
  if (!(params.min_p >= 0.0f && params.min_p < 1.0f)) {
    return OutOfRange("min_p", params.min_p, "in [0, 1)");
  }
  if (!std::isfinite(params.repetition_penalty) || params.repetition_penalty <= 0.0f) {
    return OutOfRange("repetition_penalty", params.repetition_penalty, "finite and > 0");
  }
  // The OpenAI API's range; larger magnitudes only make the output degenerate.
  if (!(params.presence_penalty >= -2.0f && params.presence_penalty <= 2.0f)) {
    return OutOfRange("presence_penalty", params.presence_penalty, "in [-2, 2]");
  }
  if (!(params.frequency_penalty >= -2.0f && params.frequency_penalty <= 2.0f)) {
    return OutOfRange("frequency_penalty", params.frequency_penalty, "in [-2, 2]");
  }
  return absl::OkStatus();
}

}  // namespace liger
