#include "service/generate_call.h"

#include <chrono>
#include <string>
#include <utility>

#include "absl/time/clock.h"
#include "core/serving/generation_scheduler.h"
#include "core/util/status_macros.h"
#include "service/generation_translation.h"

namespace liger::service {
namespace {

// gRPC reports "no deadline" as the largest time point, which absl cannot represent.
absl::Time GenerateCallDeadline(const grpc::CallbackServerContext& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

}  // namespace

GenerateCall::GenerateCall(std::unique_ptr<RpcScope> scope, SessionStore* sessions,
                           SerialExecutor* writer)
    : QueuedWriteReactor(std::move(scope), writer), sessions_(sessions) {}

GenerateCall* GenerateCall::Start(grpc::CallbackServerContext* context,
                                  const v1::GenerateRequest& request,
                                  std::unique_ptr<RpcScope> scope, ModelRegistry* models,
                                  SessionStore* sessions, SerialExecutor* writer) {
  auto* call = new GenerateCall(std::move(scope), sessions, writer);
  const absl::Status submitted = call->Submit(context, request, *models);
  // Nothing was submitted on error, so no callback can race this End.
  if (!submitted.ok()) call->End(submitted);
  return call;
}

absl::Status GenerateCall::Submit(grpc::CallbackServerContext* context,
                                  const v1::GenerateRequest& request, ModelRegistry& models) {
  GenerationRequest work;
  std::string model_name = request.model();
  if (!request.session_id().empty()) {
    scope().AddLogField("session_id", request.session_id());
    LIGER_ASSIGN_OR_RETURN(SessionLease lease,
                           sessions_->AcquireFor(request.session_id(), model_name, scope().tenant()));
    model_name = lease.model();
    context_tokens_ = lease.state().tokens();
    work.session = std::move(lease);
  }
  LIGER_ASSIGN_OR_RETURN(model_, models.Find(model_name, scope().tenant()));
  scope().AddLogField("model", model_->name);
  LIGER_ASSIGN_OR_RETURN(work.prompt,
                         PromptIdsFromProto(request, *model_->tokenizer, context_tokens_ > 0));
  work.options = GenerationOptionsFromProto(request);
  with_logprobs_ = work.options.logprobs;
  work.cancellation = cancellation_;
  work.deadline = GenerateCallDeadline(*context);
  work.on_token = [this](const TokenEvent& event) { OnTokenEvent(event); };
  work.on_end = [this](const GenerationEnd& end) { OnGenerationEnd(end); };
  return model_->scheduler->Submit(std::move(work));
}

void GenerateCall::OnTokenEvent(const TokenEvent& event) {
  if (held_.has_value()) Send(*std::move(held_));
  held_.emplace();
  TokenEventToProto(event, with_logprobs_, held_->mutable_token());
}

void GenerateCall::OnGenerationEnd(const GenerationEnd& end) {
  scope().AddLogField("prompt_tokens", end.usage.prompt_tokens);
  scope().AddLogField("generated_tokens", end.usage.generated_tokens);
  v1::GenerateResponse last = held_.has_value() ? *std::move(held_) : v1::GenerateResponse();
  held_.reset();
  // A server shutting down past its grace period is the one early end the API reports in the
  // stream (FINISH_REASON_CANCELLED); any other ends the call with its status after the tokens.
  const bool reported_end = end.status.ok() || absl::IsUnavailable(end.status);
  if (reported_end) {
    last.set_finish_reason(end.status.ok() ? FinishReasonToProto(end.finish_reason)
                                           : v1::FINISH_REASON_CANCELLED);
    v1::Usage* usage = last.mutable_usage();
    usage->set_prompt_tokens(end.usage.prompt_tokens);
    usage->set_generated_tokens(end.usage.generated_tokens);
    usage->set_context_tokens(context_tokens_);
  }
  if (reported_end || last.has_token()) Send(std::move(last));
  End(reported_end ? absl::OkStatus() : end.status);
}

}  // namespace liger::service
