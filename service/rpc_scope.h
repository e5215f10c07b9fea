#pragma once

#include <string>

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/auth/caller_admission.h"
#include "service/drain_gate.h"
#include "service/service_metrics.h"
#include "service/structured_logger.h"

namespace liger::service {

// The bookkeeping of one RPC: its admission through the drain gate, its request id, its start
// time, and, when it ends, the metrics and the one log line that record it. The call's reactor
// owns the scope until gRPC is done with the call, so a draining server waits until responses
// are sent, not merely produced. The request id is the client's `x-request-id` metadata when
// that is a sane token (1 to 128 printable ASCII characters), else a fresh random one; either way
// it is sent back as `x-request-id` initial metadata, so construct the scope before the handler
// sends anything. The scope also admits the call (CallerAdmission: its `authorization` metadata,
// `Bearer <key>`, and the key's request rate) and names its tenant.
class RpcScope {
 public:
  // `admission` may be null: every call admitted, as the empty tenant.
  RpcScope(absl::string_view method, grpc::CallbackServerContext* context, DrainGate* gate,
           const CallerAdmission* admission, ServiceMetrics* metrics, StructuredLogger* logger);
  // Counts an admitted call out of the gate.
  ~RpcScope();
  RpcScope(const RpcScope&) = delete;
  RpcScope& operator=(const RpcScope&) = delete;

  // False when the server is draining (UNAVAILABLE), the call did not authenticate
  // (UNAUTHENTICATED) or its key is over its rate (RESOURCE_EXHAUSTED): it must then finish at
  // once with rejection().
  bool admitted() const { return rejection_.ok(); }
  const absl::Status& rejection() const { return rejection_; }
  // The tenant the call's key belongs to; empty without authentication.
  const std::string& tenant() const { return tenant_; }

  const std::string& request_id() const { return request_id_; }
  const std::string& method() const { return method_; }

  // Adds a field to the final log line (e.g. the model the request used).
  void AddLogField(std::string key, nlohmann::ordered_json value);

  // Records the outcome (request counter, latency, one log line) and returns the status to finish
  // the RPC with. Call once.
  grpc::Status Finish(const absl::Status& status);

 private:
  const std::string method_;
  const std::string peer_;
  const absl::Time start_;
  std::string request_id_;
  LogFields extra_fields_;
  DrainGate* const gate_;
  const bool entered_gate_;
  absl::Status rejection_;
  std::string tenant_;
  ServiceMetrics* const metrics_;
  StructuredLogger* const logger_;
};

}  // namespace liger::service
