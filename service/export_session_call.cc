#include "service/export_session_call.h"

#include <algorithm>
#include <utility>

namespace liger::service {
namespace {

// Well under gRPC's default 4 MiB receive limit.
constexpr size_t kExportChunkBytes = size_t{1} << 20;

}  // namespace

ExportSessionCall* ExportSessionCall::Start(std::unique_ptr<RpcScope> scope,
                                            const std::string& exported) {
  auto* call = new ExportSessionCall(std::move(scope));
  for (size_t offset = 0; offset < exported.size(); offset += kExportChunkBytes) {
    v1::ExportSessionResponse response;
    const size_t length = std::min(kExportChunkBytes, exported.size() - offset);
    response.set_chunk(exported.substr(offset, length));
    call->Send(std::move(response));
  }
  call->End(absl::OkStatus());
  return call;
}

}  // namespace liger::service
