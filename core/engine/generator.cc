#include "core/engine/generator.h"

#include <limits>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/engine/stop_matcher.h"
#include "core/tokenizer/stream_decoder.h"

namespace liger {
namespace {

absl::Status WithContext(const absl::Status& status, absl::string_view context) {
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

absl::Status ValidateOptions(const GenerationOptions& options, int64_t vocab) {
  if (absl::Status s = ValidateSamplingParams(options.sampling); !s.ok()) return s;
  if (options.min_new_tokens < 0 || options.min_new_tokens > options.max_new_tokens) {
    return absl::InvalidArgumentError(absl::StrCat("min_new_tokens = ", options.min_new_tokens,
                                                   " must be in [0, max_new_tokens]"));
  }
  if (options.max_new_tokens < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_new_tokens = ", options.max_new_tokens, " must be >= 0"));
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

absl::StatusOr<torch::Tensor> TokenTensor(absl::Span<const int32_t> ids, torch::Device device) {
  try {
    return torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kInt64).to(device);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("moving tokens to ", device.str(), ": ",
                                            e.what_without_backtrace()));
  }
}

// The last row of the model's [N, V] logits, cut to the ids the tokenizer can decode.
absl::StatusOr<torch::Tensor> LastRow(const absl::StatusOr<torch::Tensor>& logits, int64_t vocab,
                                      absl::string_view step) {
  if (!logits.ok()) return WithContext(logits.status(), step);
  const torch::Tensor& t = *logits;
  if (!t.defined() || t.dim() != 2 || t.size(0) < 1 || t.size(1) < 1) {
    return absl::InternalError(absl::StrCat(step, " returned logits of shape [",
                                            t.defined() ? absl::StrJoin(t.sizes(), ", ") : "",
                                            "], expected [N, V]"));
  }
  try {
    return t[t.size(0) - 1].narrow(0, 0, std::min(vocab, t.size(1)));
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(step, ": ", e.what_without_backtrace()));
  }
}

// Samples the next token, with its log-probabilities when the options ask for them.
absl::StatusOr<TokenEvent> SampleEvent(Sampler& sampler, const torch::Tensor& logits,
                                       absl::Span<const int32_t> history,
                                       absl::Span<const int32_t> output,
                                       const GenerationOptions& options) {
  TokenEvent event;
  if (!options.logprobs) {
    absl::StatusOr<int32_t> token = sampler.Sample(logits, history, output);
    if (!token.ok()) return token.status();
    event.token_id = *token;
    return event;
  }
  absl::StatusOr<SampledToken> sampled =
      sampler.SampleWithLogprobs(logits, history, output, options.top_logprobs);
  if (!sampled.ok()) return sampled.status();
  event.token_id = sampled->token_id;
  event.logprob = sampled->logprob;
  event.top_logprobs = std::move(sampled->top_logprobs);
  return event;
}

// The text a token releases. EOS and stop tokens (!is_text) add no text of their own; the last
// token (ends) also flushes what the decoder and the matcher held back.
absl::StatusOr<std::string> TextDelta(StreamDecoder& decoder, StopMatcher& matcher, int32_t token,
                                      bool is_text, bool ends) {
  std::string delta;
  if (is_text) {
    absl::StatusOr<std::string> piece = decoder.Push(token);
    if (!piece.ok()) return piece.status();
    delta = matcher.Push(*piece);
  }
  if (ends && !matcher.stopped()) {
    absl::StatusOr<std::string> tail = decoder.Finish();
    if (!tail.ok()) return tail.status();
    delta += matcher.Push(*tail);
    delta += matcher.Finish();
  }
  return delta;
}

}  // namespace

absl::StatusOr<GenerationResult> Generate(const CausalLM& model, const Tokenizer& tokenizer,
                                          ModelState& state, absl::Span<const int32_t> prompt,
                                          const GenerationOptions& options,
                                          const std::function<bool(const TokenEvent&)>& on_token) {
  // Ids past either vocabulary can be neither fed to the model nor decoded.
  const int64_t model_vocab = model.config().vocab_size;
  const int64_t vocab = model_vocab > 0 ? std::min<int64_t>(model_vocab, tokenizer.vocab_size())
                                        : tokenizer.vocab_size();
  if (absl::Status s = ValidateOptions(options, vocab); !s.ok()) return s;
  if (prompt.empty()) {
    return absl::InvalidArgumentError(
        state.tokens() == 0 ? "prompt is empty and the state holds no tokens"
                            : "prompt is empty: each turn must feed at least one new token");
  }
  for (size_t i = 0; i < prompt.size(); ++i) {
    if (prompt[i] < 0 || prompt[i] >= vocab) {
      return absl::InvalidArgumentError(absl::StrCat("prompt[", i, "] = ", prompt[i],
                                                     " is outside the vocabulary [0, ", vocab, ")"));
    }
  }
  absl::StatusOr<Sampler> sampler = Sampler::Create(options.sampling);
  if (!sampler.ok()) return sampler.status();

  std::vector<int32_t> eos_ids = model.config().eos_token_ids;
  if (tokenizer.eos_id().has_value()) eos_ids.push_back(*tokenizer.eos_id());
  const auto contains = [](const std::vector<int32_t>& ids, int32_t id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  };

  GenerationResult result;
  result.prompt_tokens = static_cast<int64_t>(prompt.size());
  absl::StatusOr<torch::Tensor> prompt_tensor = TokenTensor(prompt, model.device());
  if (!prompt_tensor.ok()) return prompt_tensor.status();
  absl::StatusOr<torch::Tensor> logits =
      LastRow(model.Prefill(*prompt_tensor, state, /*all_logits=*/false), vocab, "prefill");
  if (!logits.ok()) return logits.status();

  // Penalties see this call's prompt followed by its output.
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  StreamDecoder decoder(tokenizer, prompt);
  StopMatcher matcher(options.stop);
  ModelState* const states[] = {&state};
  while (static_cast<int>(result.tokens.size()) < options.max_new_tokens) {
    const absl::Span<const int32_t> output = absl::MakeConstSpan(history).subspan(prompt.size());
    torch::Tensor step_logits = *logits;
    // Until min_new_tokens are out, EOS cannot be chosen (Hugging Face's min_new_tokens).
    if (static_cast<int>(result.tokens.size()) < options.min_new_tokens) {
      step_logits = step_logits.clone();
      for (int32_t id : eos_ids) {
        if (id < step_logits.size(0)) step_logits[id] = -std::numeric_limits<float>::infinity();
      }
    }
    absl::StatusOr<TokenEvent> sampled = SampleEvent(*sampler, step_logits, history, output, options);
    if (!sampled.ok()) return WithContext(sampled.status(), "sampling");
    TokenEvent& event = *sampled;
    const int32_t token = event.token_id;
    history.push_back(token);
    result.tokens.push_back(token);

    const bool is_eos = !options.ignore_eos && contains(eos_ids, token);
    const bool is_stop_token = contains(options.stop_token_ids, token);
    const bool ends = is_eos || is_stop_token ||
                      static_cast<int>(result.tokens.size()) == options.max_new_tokens;
    absl::StatusOr<std::string> delta =
        TextDelta(decoder, matcher, token, /*is_text=*/!is_eos && !is_stop_token, ends);
    if (!delta.ok()) return WithContext(delta.status(), "decoding generated text");
    event.text_delta = *std::move(delta);
    std::optional<FinishReason> finish;
    if (matcher.stopped()) {
      finish = FinishReason::kStop;
    } else if (ends) {
      finish = is_eos ? FinishReason::kEos : is_stop_token ? FinishReason::kStop : FinishReason::kLength;
    }
    result.text += event.text_delta;
    const bool keep_going = !on_token || on_token(event);

    // Feed every returned token, the last one included, so the state matches result.tokens.
    absl::StatusOr<torch::Tensor> token_tensor = TokenTensor({token}, model.device());
    if (!token_tensor.ok()) return token_tensor.status();
    logits = LastRow(model.DecodeStep(states, *token_tensor), vocab, "decode step");
    if (!logits.ok()) return logits.status();

    if (finish.has_value()) {
      result.finish_reason = *finish;
      break;
    }
    if (!keep_going) {
      result.finish_reason = FinishReason::kCancelled;
      break;
    }
  }
  result.generated_tokens = static_cast<int64_t>(result.tokens.size());
  return result;
}

}  // namespace liger
