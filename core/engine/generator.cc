#include "core/engine/generator.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/engine/generation_stream.h"
#include "core/engine/token_tensor.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

// The last row of the model's [N, V] logits.
absl::StatusOr<torch::Tensor> LastRow(const absl::StatusOr<torch::Tensor>& logits,
                                      absl::string_view step) {
  if (!logits.ok()) {
    return absl::Status(logits.status().code(),
                        absl::StrCat(step, ": ", logits.status().message()));
  }
  const torch::Tensor& t = *logits;
  if (!t.defined() || t.dim() != 2 || t.size(0) < 1 || t.size(1) < 1) {
    return absl::InternalError(absl::StrCat(step, " returned logits of shape [",
                                            t.defined() ? absl::StrJoin(t.sizes(), ", ") : "",
                                            "], expected [N, V]"));
  }
  try {
    return t[t.size(0) - 1];
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(step, ": ", e.what_without_backtrace()));
  }
}

}  // namespace

absl::StatusOr<GenerationResult> Generate(const CausalLM& model, const Tokenizer& tokenizer,
                                          ModelState& state, absl::Span<const int32_t> prompt,
                                          const GenerationOptions& options,
                                          const std::function<bool(const TokenEvent&)>& on_token) {
  absl::StatusOr<GenerationStream> stream =
      GenerationStream::Create(model, tokenizer, prompt, options, state.tokens());
  if (!stream.ok()) return stream.status();
  LIGER_ASSIGN_OR_RETURN(torch::Tensor prompt_tensor, TokenTensor(prompt, model.device()));
  LIGER_ASSIGN_OR_RETURN(torch::Tensor logits,
                         LastRow(model.Prefill(prompt_tensor, state, /*all_logits=*/false),
                                 "prefill"));
  GenerationResult result;
  result.prompt_tokens = static_cast<int64_t>(prompt.size());
  ModelState* const states[] = {&state};
  bool cancelled = false;
  while (!stream->finished()) {
    LIGER_ASSIGN_OR_RETURN(TokenEvent event, stream->Next(logits));
    result.text += event.text_delta;
    const bool keep_going = !on_token || on_token(event);

    // Feed every returned token, the last one included, so the state matches result.tokens.
    LIGER_ASSIGN_OR_RETURN(torch::Tensor token_tensor, TokenTensor({event.token_id}, model.device()));
    LIGER_ASSIGN_OR_RETURN(logits, LastRow(model.DecodeStep(states, token_tensor), "decode step"));
    if (!keep_going && !stream->finished()) {
      cancelled = true;
      break;
    }
  }
  const absl::Span<const int32_t> output = stream->output();
  result.tokens.assign(output.begin(), output.end());
  result.finish_reason = cancelled ? FinishReason::kCancelled : *stream->finish_reason();
  result.generated_tokens = static_cast<int64_t>(result.tokens.size());
  return result;
}

}  // namespace liger
