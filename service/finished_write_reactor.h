#pragma once

#include <memory>
#include <utility>

#include <grpcpp/support/server_callback.h>

#include "absl/status/status.h"
#include "service/rpc_scope.h"

namespace liger::service {

// A server-streaming reactor that ends the stream at once with `status` and no messages: the
// answer to a streaming call refused before it starts (a bad request, the server draining, a
// feature not offered yet). Like UnaryCall, it owns the call's scope until gRPC is done.
template <typename Response>
class FinishedWriteReactor final : public grpc::ServerWriteReactor<Response> {
 public:
  FinishedWriteReactor(std::unique_ptr<RpcScope> scope, const absl::Status& status)
      : scope_(std::move(scope)) {
    this->Finish(scope_->Finish(status));
  }

 private:
  void OnDone() override { delete this; }

  std::unique_ptr<RpcScope> scope_;
};

}  // namespace liger::service
