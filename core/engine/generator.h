#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/engine/generation_options.h"
#include "core/model/causal_lm.h"
#include "core/model/model_state.h"
#include "core/tokenizer/tokenizer.h"

namespace liger {

struct GenerationResult {
  std::vector<int32_t> tokens;  // every sampled token, the final EOS or stop token included
  std::string text;             // the concatenated text deltas
  FinishReason finish_reason = FinishReason::kLength;
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;  // tokens.size()
};

// Feeds `prompt` into `state` (which may already hold earlier turns of a session: only the new
// tokens are given), then samples up to max_new_tokens tokens, one model step per token, through a
// GenerationStream (which says how EOS ids, stop token ids and stop strings end it). on_token (may
// be empty) sees every sampled token in order, right after it is sampled; returning false cancels
// (kCancelled) unless that token already ended the generation.
//
// State contract: on success the state has consumed exactly prompt + result.tokens; the final token
// is fed too (one extra decode step), so the next turn passes only its new tokens. On error the
// state is unspecified and should be discarded.
//
// Text held back when the generation ends is released with the last token, except on cancel.
//
// INVALID_ARGUMENT for bad options, an empty prompt (the state keeps no logits to continue from,
// so every turn must feed at least one token), or prompt ids outside the vocabulary.
absl::StatusOr<GenerationResult> Generate(const CausalLM& model, const Tokenizer& tokenizer,
                                          ModelState& state, absl::Span<const int32_t> prompt,
                                          const GenerationOptions& options,
                                          const std::function<bool(const TokenEvent&)>& on_token);

}  // namespace liger
