#pragma once

#include <memory>
#include <utility>

#include <grpcpp/support/server_callback.h>

#include "absl/status/status.h"
#include "service/rpc_scope.h"

namespace liger::service {

// The reactor of one unary RPC. It owns the call's RpcScope until gRPC reports the call done, so
// the drain gate counts the call until its response has gone out; then it deletes itself.
class UnaryCall final : public grpc::ServerUnaryReactor {
 public:
  explicit UnaryCall(std::unique_ptr<RpcScope> scope) : scope_(std::move(scope)) {}

  RpcScope& scope() { return *scope_; }

  // Records the outcome and sends it; call once, from any thread.
  void FinishWith(const absl::Status& status) { Finish(scope_->Finish(status)); }

 private:
  void OnDone() override { delete this; }

  std::unique_ptr<RpcScope> scope_;
};

}  // namespace liger::service
