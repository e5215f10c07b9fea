#include "service/generation_translation.h"

namespace liger::service {
namespace {

// The documented values of GenerateRequest's unset optional fields.
constexpr int kDefaultMaxNewTokens = 128;
constexpr float kDefaultTopP = 1.0f;
constexpr float kDefaultRepetitionPenalty = 1.0f;

SamplingParams SamplingParamsFromProto(const v1::SamplingParams& proto) {
  SamplingParams params;
  params.temperature = proto.temperature();
  params.top_k = proto.top_k();
  params.top_p = proto.has_top_p() ? proto.top_p() : kDefaultTopP;
  params.min_p = proto.min_p();
  params.repetition_penalty =
      proto.has_repetition_penalty() ? proto.repetition_penalty() : kDefaultRepetitionPenalty;
  params.presence_penalty = proto.presence_penalty();
  params.frequency_penalty = proto.frequency_penalty();
  params.seed = proto.seed();
  return params;
}

}  // namespace

GenerationOptions GenerationOptionsFromProto(const v1::GenerateRequest& request) {
  GenerationOptions options;
  options.sampling = SamplingParamsFromProto(request.sampling());
  options.max_new_tokens =
      request.has_max_new_tokens() ? request.max_new_tokens() : kDefaultMaxNewTokens;
  options.min_new_tokens = request.min_new_tokens();
  options.stop.assign(request.stop().begin(), request.stop().end());
  options.ignore_eos = request.ignore_eos();
  options.stop_token_ids.assign(request.stop_token_ids().begin(), request.stop_token_ids().end());
  options.logprobs = request.logprobs();
  options.top_logprobs = request.top_logprobs();
  return options;
}

absl::StatusOr<std::vector<int32_t>> PromptIdsFromProto(const v1::GenerateRequest& request,
                                                        const Tokenizer& tokenizer,
                                                        bool continuing_session) {
  switch (request.prompt_case()) {
    case v1::GenerateRequest::kTokenIds:
      return std::vector<int32_t>(request.token_ids().ids().begin(),
                                  request.token_ids().ids().end());
    case v1::GenerateRequest::kText: {
      const bool add_special =
          request.has_add_special_tokens() ? request.add_special_tokens() : !continuing_session;
      return tokenizer.Encode(request.text(), add_special);
    }
    default:
      return absl::InvalidArgumentError("a prompt is required: set text or token_ids");
  }
}

void TokenEventToProto(const TokenEvent& event, bool with_logprobs, v1::GeneratedToken* token) {
  token->set_token_id(event.token_id);
  token->set_text_delta(event.text_delta);
  if (!with_logprobs) return;
  token->set_logprob(event.logprob);
  for (const TokenLogprob& alternative : event.top_logprobs) {
    v1::TokenLogprob* out = token->add_top_logprobs();
    out->set_token_id(alternative.token_id);
    out->set_logprob(alternative.logprob);
  }
}

v1::FinishReason FinishReasonToProto(FinishReason reason) {
  switch (reason) {
    case FinishReason::kLength:
      return v1::FINISH_REASON_LENGTH;
    case FinishReason::kStop:
      return v1::FINISH_REASON_STOP;
    case FinishReason::kEos:
      return v1::FINISH_REASON_EOS;
    case FinishReason::kCancelled:
      return v1::FINISH_REASON_CANCELLED;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

}  // namespace liger::service
