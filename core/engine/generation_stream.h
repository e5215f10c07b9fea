#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/engine/generation_options.h"
#include "core/engine/sampler.h"
#include "core/engine/stop_matcher.h"
#include "core/model/causal_lm.h"
#include "core/tokenizer/stream_decoder.h"
#include "core/tokenizer/tokenizer.h"

namespace liger {

// The per-request half of generation, without the model: given the logits that followed the last
// fed token, it samples the next token and decides whether it ends the generation. The caller runs
// the model (alone, as Generate does, or batched with other streams) and feeds each returned token.
//
// Ending: an EOS id (the tokenizer's and the model config's eos_token_ids, unless ignore_eos;
// masked until min_new_tokens are out) or a stop token id ends with kEos / kStop, a completed stop
// string with kStop, max_new_tokens with kLength. Cancelling is the caller's business.
//
// Text: deltas come from a StreamDecoder given the prompt as context, filtered by a StopMatcher.
// What is held back is released with the last token. The stop string and anything after it are
// never emitted. Penalties see this stream's prompt and output. Not thread-safe.
class GenerationStream {
 public:
  // INVALID_ARGUMENT for bad options, an empty prompt, or prompt ids outside the vocabulary (the
  // smaller of the model's and the tokenizer's). state_tokens: how many tokens the state already
  // holds, only to phrase the empty-prompt error. The tokenizer must outlive the stream.
  static absl::StatusOr<GenerationStream> Create(const CausalLM& model, const Tokenizer& tokenizer,
                                                 absl::Span<const int32_t> prompt,
                                                 const GenerationOptions& options,
                                                 int64_t state_tokens);

  GenerationStream(GenerationStream&&) = default;

  // logits: the model's float [V] row after the last fed token (the prompt's last, then each token
  // Next returned); columns past the vocabulary are ignored. INVALID_ARGUMENT for a bad row or
  // failed sampling, FAILED_PRECONDITION once finished().
  absl::StatusOr<TokenEvent> Next(const torch::Tensor& logits);

  // Whether the next token needs Next's whole logits row; when not, the choice is the argmax of
  // the row's first vocab() columns (ties to the lowest id), skipping eos_ids() while MasksEos(),
  // which the caller may compute where the logits are and hand to NextChosen.
  bool NeedsLogits() const;
  bool MasksEos() const { return generated() < options_.min_new_tokens; }
  absl::Span<const int32_t> eos_ids() const { return eos_ids_; }
  int64_t vocab() const { return vocab_; }
  // As Next, with that argmax already taken. FAILED_PRECONDITION when NeedsLogits() or finished(),
  // INVALID_ARGUMENT for a token outside [0, vocab()) or, while MasksEos(), an EOS id.
  absl::StatusOr<TokenEvent> NextChosen(int32_t token);

  bool finished() const { return finish_.has_value(); }
  // Why the stream finished; empty while it runs. max_new_tokens == 0 finishes at once (kLength).
  std::optional<FinishReason> finish_reason() const { return finish_; }
  // Every token Next returned, in order.
  absl::Span<const int32_t> output() const {
    return absl::MakeConstSpan(history_).subspan(prompt_size_);
  }
  int64_t prompt_tokens() const { return static_cast<int64_t>(prompt_size_); }

 private:
  GenerationStream(const Tokenizer& tokenizer, absl::Span<const int32_t> prompt,
                   const GenerationOptions& options, int64_t vocab, Sampler sampler,
                   std::vector<int32_t> eos_ids);

  absl::StatusOr<TokenEvent> Sample(const torch::Tensor& logits);
  // Records the chosen token of `event` and fills in its text and whether it ends the stream.
  absl::StatusOr<TokenEvent> Accept(TokenEvent event);
  int64_t generated() const { return static_cast<int64_t>(history_.size() - prompt_size_); }
  absl::StatusOr<std::string> TextDelta(int32_t token, bool is_text, bool ends);

  GenerationOptions options_;
  int64_t vocab_;
  Sampler sampler_;
  std::vector<int32_t> eos_ids_;
  std::vector<int32_t> history_;  // the prompt, then the output (penalties see both)
  size_t prompt_size_;
  StreamDecoder decoder_;
  StopMatcher matcher_;
  std::optional<FinishReason> finish_;
};

}  // namespace liger
