#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/engine/sampler.h"
#include "core/engine/sampling_params.h"

namespace liger {

struct GenerationOptions {
  SamplingParams sampling;
  int max_new_tokens = 128;        // >= 0
  int min_new_tokens = 0;          // EOS is masked until this many tokens are out (<= max)
  std::vector<std::string> stop;   // stop strings on the text; non-empty
  bool ignore_eos = false;
  std::vector<int32_t> stop_token_ids;  // in addition to the EOS ids
  bool logprobs = false;           // fill TokenEvent::logprob
  int top_logprobs = 0;            // 0..kMaxTopLogprobs alternatives per token; needs logprobs
};

inline constexpr int kMaxTopLogprobs = 20;

struct TokenEvent {
  int32_t token_id = 0;
  // Text released by this token; "" while held back (incomplete UTF-8, possible stop string start)
  // and always "" for an EOS or stop token, whose own text is never emitted.
  std::string text_delta;
  float logprob = 0.0f;  // only with GenerationOptions::logprobs (see SampledToken)
  std::vector<TokenLogprob> top_logprobs;
};

enum class FinishReason { kLength, kStop, kEos, kCancelled };

// INVALID_ARGUMENT naming the first option out of range; token ids must lie in [0, vocab).
// options.sampling is left to Sampler::Create, which validates it.
absl::Status ValidateGenerationOptions(const GenerationOptions& options, int64_t vocab);

}  // namespace liger
