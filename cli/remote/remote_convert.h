#pragma once

#include <string>

#include "absl/status/status.h"
#include "liger/v1/liger.pb.h"

namespace liger::cli {

// `liger convert --server`: the server at `server` (HOST:PORT) converts (the directories are the
// server's); prints the progress and summary lines the local command prints, and "loaded as NAME"
// when the request set load_as.
absl::Status RunRemoteConvert(const std::string& server, const v1::ConvertRequest& request);

}  // namespace liger::cli
