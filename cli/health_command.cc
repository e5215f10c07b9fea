#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/remote/liger_client.h"
#include "core/util/status_macros.h"

namespace liger {

// `liger health --server HOST:PORT`: exits 0 and prints SERVING when the server's grpc.health.v1
// says so, for container HEALTHCHECKs and scripts (Kubernetes probes use gRPC health directly).
absl::Status RunHealthCommand(const std::vector<std::string>& args) {
  LIGER_ASSIGN_OR_RETURN(CommandLine cl, CommandLine::Parse(args, {"server", "timeout-seconds"}));
  LIGER_ASSIGN_OR_RETURN(std::string server, cl.Required("server"));
  LIGER_ASSIGN_OR_RETURN(double timeout, cl.Double("timeout-seconds", 5));
  if (!(timeout > 0 && timeout <= 600)) {
    return absl::InvalidArgumentError(
        absl::StrCat("flag --timeout-seconds must be in (0, 600], got ", timeout));
  }
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<cli::LigerClient> client,
                         cli::LigerClient::Connect(server, absl::Seconds(timeout)));
  LIGER_RETURN_IF_ERROR(client->CheckHealth());
  std::puts("SERVING");
  return absl::OkStatus();
}

}  // namespace liger
