#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/hosting/hosted_model.h"
#include "core/serving/generation_request.h"
#include "core/serving/session_store.h"

namespace liger::service::http {

// One generation submitted to a model's scheduler whose events an HTTP handler thread pulls: the
// scheduler's callbacks only queue (they run on its worker thread and must be quick), Next blocks
// for the next event. Cancel (the client went away) stops the generation at its next step.
class StreamedGeneration {
 public:
  struct Event {
    std::optional<TokenEvent> token;
    std::optional<GenerationEnd> end;  // the last event
  };

  // Tokenizes `prompt` (with the tokenizer's special tokens unless it continues a session that
  // holds tokens) and submits it. With a non-empty `session_id` the generation continues that
  // session of `tenant` (NOT_FOUND if unknown to it, FAILED_PRECONDITION while busy,
  // INVALID_ARGUMENT if it belongs to another model than `model`). Errors of Submit as they are.
  static absl::StatusOr<std::shared_ptr<StreamedGeneration>> Start(
      const HostedModel& model, SessionStore& sessions, const std::string& session_id,
      const std::string& tenant, const std::string& prompt, const GenerationOptions& options);

  // The next event; after the end event, nullopt at once.
  std::optional<Event> Next();
  void Cancel() { cancellation_->Cancel(); }

  // The tokens the session held before this request (0 without one).
  int64_t context_tokens() const { return context_tokens_; }

 private:
  StreamedGeneration();

  void Push(Event event);

  std::shared_ptr<CancellationToken> cancellation_;
  int64_t context_tokens_ = 0;
  absl::Mutex mu_;
  std::deque<Event> events_ ABSL_GUARDED_BY(mu_);
  bool returned_end_ = false;  // the consumer has taken the end event (consumer thread only)
};

}  // namespace liger::service::http
