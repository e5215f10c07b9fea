#pragma once

#include <memory>
#include <string>

#include "liger/v1/liger.pb.h"
#include "service/queued_write_reactor.h"
#include "service/rpc_scope.h"

namespace liger::service {

// The reactor of one ExportSession call: streams an exported session in chunks small enough for
// any client's default message limit, then ends OK.
class ExportSessionCall final : public QueuedWriteReactor<v1::ExportSessionResponse> {
 public:
  // Queues every chunk of `exported` and the end of the call.
  static ExportSessionCall* Start(std::unique_ptr<RpcScope> scope, const std::string& exported);

 private:
  explicit ExportSessionCall(std::unique_ptr<RpcScope> scope)
      : QueuedWriteReactor(std::move(scope)) {}
};

}  // namespace liger::service
