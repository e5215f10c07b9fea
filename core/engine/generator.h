#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/engine/sampler.h"
#include "core/engine/sampling_params.h"
#include "core/model/causal_lm.h"
#include "core/model/model_state.h"
#include "core/tokenizer/tokenizer.h"

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

struct GenerationResult {
  std::vector<int32_t> tokens;  // every sampled token, the final EOS or stop token included
  std::string text;             // the concatenated text deltas
  FinishReason finish_reason = FinishReason::kLength;
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;  // tokens.size()
};

// Feeds `prompt` into `state` (which may already hold earlier turns of a session: only the new
// tokens are given), then samples up to max_new_tokens tokens, stopping early at an EOS id (the
// tokenizer's EOS and the model config's eos_token_ids, unless ignore_eos), a stop token id, or a
// stop string (kStop). on_token (may be empty) sees every sampled token in order, right after it is
// sampled; returning false cancels (kCancelled) unless that token already ended the generation.
//
// State contract: on success the state has consumed exactly prompt + result.tokens; the final token
// is fed too (one extra decode step), so the next turn passes only its new tokens. On error the
// state is unspecified and should be discarded.
//
// Text: deltas come from a StreamDecoder given the prompt as context, filtered by a StopMatcher.
// Text held back when the generation ends is released with the last token, except on cancel. The
// stop string and anything after it are never emitted. Penalties see this call's prompt and output.
//
// INVALID_ARGUMENT for bad options, an empty prompt (the state keeps no logits to continue from,
// so every turn must feed at least one token), or prompt ids outside the vocabulary.
absl::StatusOr<GenerationResult> Generate(const CausalLM& model, const Tokenizer& tokenizer,
                                          ModelState& state, absl::Span<const int32_t> prompt,
                                          const GenerationOptions& options,
                                          const std::function<bool(const TokenEvent&)>& on_token);

}  // namespace liger
