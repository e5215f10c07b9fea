#include "service/http/streamed_generation.h"

#include <utility>

#include "core/util/status_macros.h"

namespace liger::service::http {

StreamedGeneration::StreamedGeneration() : cancellation_(std::make_shared<CancellationToken>()) {}

absl::StatusOr<std::shared_ptr<StreamedGeneration>> StreamedGeneration::Start(
    const HostedModel& model, SessionStore& sessions, const std::string& session_id,
    const std::string& tenant, const std::string& prompt, const GenerationOptions& options) {
  std::shared_ptr<StreamedGeneration> generation(new StreamedGeneration());
  GenerationRequest work;
  if (!session_id.empty()) {
    LIGER_ASSIGN_OR_RETURN(SessionLease lease, sessions.AcquireFor(session_id, model.name, tenant));
    generation->context_tokens_ = lease.state().tokens();
    work.session = std::move(lease);
  }
  LIGER_ASSIGN_OR_RETURN(work.prompt,
                         model.tokenizer->Encode(prompt, generation->context_tokens_ == 0));
  work.options = options;
  work.cancellation = generation->cancellation_;
  // The callbacks keep the generation alive until the scheduler is done with it.
  work.on_token = [generation](const TokenEvent& token) { generation->Push({token, std::nullopt}); };
  work.on_end = [generation](const GenerationEnd& end) { generation->Push({std::nullopt, end}); };
  LIGER_RETURN_IF_ERROR(model.scheduler->Submit(std::move(work)));
  return generation;
}

void StreamedGeneration::Push(Event event) {
  absl::MutexLock lock(&mu_);
  events_.push_back(std::move(event));
}

std::optional<StreamedGeneration::Event> StreamedGeneration::Next() {
  if (returned_end_) return std::nullopt;
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](std::deque<Event>* events) { return !events->empty(); }, &events_));
  Event event = std::move(events_.front());
  events_.pop_front();
  if (event.end.has_value()) returned_end_ = true;
  return event;
}

}  // namespace liger::service::http
