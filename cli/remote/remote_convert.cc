#include "cli/remote/remote_convert.h"

#include <cstdio>
#include <memory>

#include "cli/remote/liger_client.h"
#include "core/util/status_macros.h"
#include "service/model_translation.h"

namespace liger::cli {
namespace {

double RemoteConvertMegabytes(uint64_t bytes) { return static_cast<double>(bytes) / 1e6; }

}  // namespace

absl::Status RunRemoteConvert(const std::string& server, const v1::ConvertRequest& request) {
  LIGER_ASSIGN_OR_RETURN(std::string variant, service::LigerVariantFromProto(request.variant()));
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<LigerClient> client, LigerClient::Connect(server));
  LIGER_ASSIGN_OR_RETURN(
      v1::ConvertResult result, client->Convert(request, [](const v1::ConvertProgress& p) {
        std::printf("[%d/%d] %s: %.1f of %.1f MB\n", p.file_index(), p.file_count(),
                    p.file_name().c_str(), RemoteConvertMegabytes(p.bytes_written()),
                    RemoteConvertMegabytes(p.total_bytes()));
        std::fflush(stdout);
      }));
  std::printf("converted %s to %s (liger_%s): %lld tensors, %d files, %.1f MB\n",
              request.model_dir().c_str(), result.output_dir().c_str(), variant.c_str(),
              static_cast<long long>(result.tensors_copied()), result.files_written(),
              RemoteConvertMegabytes(result.bytes_written()));
  if (result.has_model()) std::printf("loaded as %s\n", result.model().name().c_str());
  return absl::OkStatus();
}

}  // namespace liger::cli
