#pragma once

#include <memory>
#include <optional>

#include <grpcpp/server_context.h>

#include "absl/status/status.h"
#include "core/hosting/hosted_model.h"
#include "core/hosting/model_registry.h"
#include "core/serving/cancellation_token.h"
#include "core/serving/generation_request.h"
#include "core/serving/session_store.h"
#include "liger/v1/liger.pb.h"
#include "service/queued_write_reactor.h"
#include "service/rpc_scope.h"

namespace liger::service {

// The reactor of one Generate call. It submits the request to its model's GenerationScheduler and
// streams the scheduler's token events. Each token is held back until the next one (or the end)
// arrives, so that the last message carries the last token with the finish reason and usage, as
// the API promises. A client that cancels, leaves or passes its deadline cancels the generation,
// which then ends within one decode step; the call ends only after the scheduler's on_end, so the
// reactor outlives every callback.
class GenerateCall final : public QueuedWriteReactor<v1::GenerateResponse> {
 public:
  // Starts the call (or ends it at once with the request's error) and returns the reactor to hand
  // to gRPC. Every pointer must outlive the call; `scope` must be admitted. The messages are
  // written from `writer`, not from the scheduler's thread (see QueuedWriteReactor).
  static GenerateCall* Start(grpc::CallbackServerContext* context,
                             const v1::GenerateRequest& request, std::unique_ptr<RpcScope> scope,
                             ModelRegistry* models, SessionStore* sessions,
                             SerialExecutor* writer);

 private:
  GenerateCall(std::unique_ptr<RpcScope> scope, SessionStore* sessions, SerialExecutor* writer);

  // Resolves model and session and submits; on error nothing was submitted.
  absl::Status Submit(grpc::CallbackServerContext* context, const v1::GenerateRequest& request,
                      ModelRegistry& models);
  // The scheduler's callbacks, on its worker thread one after the other.
  void OnTokenEvent(const TokenEvent& event);
  void OnGenerationEnd(const GenerationEnd& end);

  void OnClientGone() override { cancellation_->Cancel(); }

  SessionStore* const sessions_;
  const std::shared_ptr<CancellationToken> cancellation_ = std::make_shared<CancellationToken>();
  // Keeps the model (and its scheduler) alive until the call is done.
  std::shared_ptr<const HostedModel> model_;
  bool with_logprobs_ = false;
  int64_t context_tokens_ = 0;  // tokens the session held before this request
  // The latest token, not yet sent (see the class comment); the worker thread's own.
  std::optional<v1::GenerateResponse> held_;
};

}  // namespace liger::service
