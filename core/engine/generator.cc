#include "core/engine/generator.h"

#include <utility>

#include "core/engine/generation_stream.h"
#include "core/engine/step_logits.h"
#include "core/engine/token_tensor.h"
#include "core/util/status_macros.h"

namespace liger {

absl::StatusOr<GenerationResult> Generate(const CausalLM& model, const Tokenizer& tokenizer,
                                          ModelState& state, absl::Span<const int32_t> prompt,
                                          const GenerationOptions& options,
                                          const std::function<bool(const TokenEvent&)>& on_token) {
  absl::StatusOr<GenerationStream> stream =
      GenerationStream::Create(model, tokenizer, prompt, options, state.tokens());
  if (!stream.ok()) return stream.status();
  LIGER_ASSIGN_OR_RETURN(torch::Tensor prompt_tensor, TokenTensor(prompt));
  LIGER_ASSIGN_OR_RETURN(
      torch::Tensor prefill_logits,
      HostLogits(model.Prefill(prompt_tensor, state, /*all_logits=*/false), "prefill"));
  LIGER_ASSIGN_OR_RETURN(torch::Tensor logits, LogitsRow(prefill_logits, -1, "prefill"));
  GenerationResult result;
  result.prompt_tokens = static_cast<int64_t>(prompt.size());
  ModelState* const states[] = {&state};
  bool cancelled = false;
  while (!stream->finished()) {
    LIGER_ASSIGN_OR_RETURN(TokenEvent event, stream->Next(logits));
    result.text += event.text_delta;
    const bool keep_going = !on_token || on_token(event);

    // Feed every returned token, the last one included, so the state matches result.tokens.
    LIGER_ASSIGN_OR_RETURN(torch::Tensor token_tensor, TokenTensor({event.token_id}));
    LIGER_ASSIGN_OR_RETURN(torch::Tensor step_logits,
                           HostLogits(model.DecodeStep(states, token_tensor), "decode step"));
    LIGER_ASSIGN_OR_RETURN(logits, LogitsRow(step_logits, -1, "decode step"));
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
