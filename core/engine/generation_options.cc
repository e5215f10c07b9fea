#include "core/engine/generation_options.h"

#include "absl/strings/str_cat.h"

namespace liger {

absl::Status ValidateGenerationOptions(const GenerationOptions& options, int64_t vocab) {
  if (options.max_new_tokens < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_new_tokens = ", options.max_new_tokens, " must be >= 0"));
  }
  if (options.min_new_tokens < 0 || options.min_new_tokens > options.max_new_tokens) {
    return absl::InvalidArgumentError(absl::StrCat("min_new_tokens = ", options.min_new_tokens,
                                                   " must be in [0, max_new_tokens]"));
  }
  for (size_t i = 0; i < options.stop.size(); ++i) {
    if (options.stop[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("stop[", i, "] is an empty string"));
    }
  }
  for (const int32_t id : options.stop_token_ids) {
    if (id < 0 || id >= vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat("stop_token_ids holds ", id, ", outside the vocabulary [0, ", vocab, ")"));
    }
  }
  if (options.top_logprobs < 0 || options.top_logprobs > kMaxTopLogprobs) {
    return absl::InvalidArgumentError(absl::StrCat("top_logprobs = ", options.top_logprobs,
                                                   " must be in [0, ", kMaxTopLogprobs, "]"));
  }
  if (options.top_logprobs > 0 && !options.logprobs) {
    return absl::InvalidArgumentError("top_logprobs > 0 needs logprobs");
  }
  return absl::OkStatus();
}

}  // namespace liger
