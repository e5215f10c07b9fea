#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <grpcpp/support/server_callback.h>

#include "core/serving/session_store.h"
#include "liger/v1/liger.pb.h"
#include "service/rpc_scope.h"

namespace liger::service {

// The reactor of one ImportSession call: gathers the streamed chunks of an export (refusing more
// bytes than the whole session budget, which no state could fit anyway), imports them into the
// store once the client has sent them all, and answers with the new session. Deletes itself when
// gRPC is done with the call.
class ImportSessionCall final : public grpc::ServerReadReactor<v1::ImportSessionRequest> {
 public:
  // `sessions` must outlive the call.
  ImportSessionCall(std::unique_ptr<RpcScope> scope, SessionStore* sessions,
                    v1::ImportSessionResponse* response);

 private:
  void OnReadDone(bool ok) override;
  void OnDone() override { delete this; }
  void FinishWith(const absl::Status& status);

  const std::unique_ptr<RpcScope> scope_;
  SessionStore* const sessions_;
  v1::ImportSessionResponse* const response_;
  const int64_t max_bytes_;
  v1::ImportSessionRequest chunk_;
  std::string bytes_;
};

}  // namespace liger::service
