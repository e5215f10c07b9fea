#include "core/engine/generation_stream.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "core/engine/status_context.h"

namespace liger {
namespace {

bool ContainsTokenId(const std::vector<int32_t>& ids, int32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

absl::StatusOr<GenerationStream> GenerationStream::Create(const CausalLM& model,
                                                          const Tokenizer& tokenizer,
                                                          absl::Span<const int32_t> prompt,
                                                          const GenerationOptions& options,
                                                          int64_t state_tokens) {
  // Ids past either vocabulary can be neither fed to the model nor decoded.
  const int64_t model_vocab = model.config().vocab_size;
  const int64_t vocab = model_vocab > 0 ? std::min<int64_t>(model_vocab, tokenizer.vocab_size())
                                        : tokenizer.vocab_size();
  // Sampler::Create checks the sampling params, which ValidateGenerationOptions leaves to it.
  absl::StatusOr<Sampler> sampler = Sampler::Create(options.sampling);
  if (!sampler.ok()) return sampler.status();
  if (absl::Status s = ValidateGenerationOptions(options, vocab); !s.ok()) return s;
  if (prompt.empty()) {
    return absl::InvalidArgumentError(
        state_tokens == 0 ? "prompt is empty and the state holds no tokens"
                          : "prompt is empty: each turn must feed at least one new token");
  }
  for (size_t i = 0; i < prompt.size(); ++i) {
    if (prompt[i] < 0 || prompt[i] >= vocab) {
      return absl::InvalidArgumentError(absl::StrCat("prompt[", i, "] = ", prompt[i],
                                                     " is outside the vocabulary [0, ", vocab, ")"));
    }
  }
  std::vector<int32_t> eos_ids = model.config().eos_token_ids;
  if (tokenizer.eos_id().has_value()) eos_ids.push_back(*tokenizer.eos_id());
  return GenerationStream(tokenizer, prompt, options, vocab, *std::move(sampler),
                          std::move(eos_ids));
}

GenerationStream::GenerationStream(const Tokenizer& tokenizer, absl::Span<const int32_t> prompt,
                                   const GenerationOptions& options, int64_t vocab,
                                   Sampler sampler, std::vector<int32_t> eos_ids)
    : options_(options),
      vocab_(vocab),
      sampler_(std::move(sampler)),
      eos_ids_(std::move(eos_ids)),
      history_(prompt.begin(), prompt.end()),
      prompt_size_(prompt.size()),
      decoder_(tokenizer, prompt),
      matcher_(options.stop) {
  if (options_.max_new_tokens == 0) finish_ = FinishReason::kLength;
}

absl::StatusOr<TokenEvent> GenerationStream::Next(const torch::Tensor& logits) {
  if (finished()) return absl::FailedPreconditionError("the generation has already finished");
  if (!logits.defined() || logits.dim() != 1 || logits.size(0) < 1) {
    return absl::InvalidArgumentError("a generation step needs a non-empty [V] logits row");
  }
  const int64_t generated = this->generated();
  torch::Tensor row;
  try {
    row = logits.narrow(0, 0, std::min(vocab_, logits.size(0)));
    // Until min_new_tokens are out, EOS cannot be chosen (Hugging Face's min_new_tokens).
    if (generated < options_.min_new_tokens) {
      row = row.clone();
      for (const int32_t id : eos_ids_) {
        if (id < row.size(0)) row[id] = -std::numeric_limits<float>::infinity();
      }
    }
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(absl::StrCat("logits row: ", e.what_without_backtrace()));
  }
  absl::StatusOr<TokenEvent> sampled = Sample(row);
  if (!sampled.ok()) return StatusWithContext(sampled.status(), "sampling");
  return Accept(*std::move(sampled));
}

bool GenerationStream::NeedsLogits() const {
  return options_.logprobs || !sampler_.IsPlainArgmax();
}

absl::StatusOr<TokenEvent> GenerationStream::NextChosen(int32_t token) {
  if (finished()) return absl::FailedPreconditionError("the generation has already finished");
  if (NeedsLogits()) {
    return absl::FailedPreconditionError("this stream's next token needs the whole logits row");
  }
  if (token < 0 || token >= vocab_) {
    return absl::InvalidArgumentError(
        absl::StrCat("chosen token ", token, " is outside the vocabulary [0, ", vocab_, ")"));
  }
  if (MasksEos() && ContainsTokenId(eos_ids_, token)) {
    return absl::InvalidArgumentError(
        absl::StrCat("chosen token ", token, " is EOS before min_new_tokens are out"));
  }
  TokenEvent event;
  event.token_id = token;
  return Accept(std::move(event));
}

absl::StatusOr<TokenEvent> GenerationStream::Accept(TokenEvent event) {
  const int64_t generated = this->generated();
  const int32_t token = event.token_id;
  history_.push_back(token);

  const bool is_eos = !options_.ignore_eos && ContainsTokenId(eos_ids_, token);
  const bool is_stop_token = ContainsTokenId(options_.stop_token_ids, token);
  const bool ends = is_eos || is_stop_token || generated + 1 == options_.max_new_tokens;
  absl::StatusOr<std::string> delta = TextDelta(token, /*is_text=*/!is_eos && !is_stop_token, ends);
  if (!delta.ok()) return StatusWithContext(delta.status(), "decoding generated text");
  event.text_delta = *std::move(delta);
  if (matcher_.stopped()) {
    finish_ = FinishReason::kStop;
  } else if (ends) {
    finish_ = is_eos ? FinishReason::kEos : is_stop_token ? FinishReason::kStop : FinishReason::kLength;
  }
  return event;
}

// Samples the next token, with its log-probabilities when the options ask for them.
absl::StatusOr<TokenEvent> GenerationStream::Sample(const torch::Tensor& logits) {
  const absl::Span<const int32_t> output = this->output();
  TokenEvent event;
  if (!options_.logprobs) {
    absl::StatusOr<int32_t> token = sampler_.Sample(logits, history_, output);
    if (!token.ok()) return token.status();
    event.token_id = *token;
    return event;
  }
  absl::StatusOr<SampledToken> sampled =
      sampler_.SampleWithLogprobs(logits, history_, output, options_.top_logprobs);
  if (!sampled.ok()) return sampled.status();
  event.token_id = sampled->token_id;
  event.logprob = sampled->logprob;
  event.top_logprobs = std::move(sampled->top_logprobs);
  return event;
}

// The text a token releases. EOS and stop tokens (!is_text) add no text of their own; the last
// token (ends) also flushes what the decoder and the matcher held back.
absl::StatusOr<std::string> GenerationStream::TextDelta(int32_t token, bool is_text, bool ends) {
  std::string delta;
  if (is_text) {
    absl::StatusOr<std::string> piece = decoder_.Push(token);
    if (!piece.ok()) return piece.status();
    delta = matcher_.Push(*piece);
  }
  if (ends && !matcher_.stopped()) {
    absl::StatusOr<std::string> tail = decoder_.Finish();
    if (!tail.ok()) return tail.status();
    delta += matcher_.Push(*tail);
    delta += matcher_.Finish();
  }
  return delta;
}

}  // namespace liger
