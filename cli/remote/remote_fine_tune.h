#pragma once

#include <string>

#include "absl/status/status.h"
#include "liger/v1/liger.pb.h"

namespace liger::cli {

// `liger finetune --server`: submits `request` to the server at `server` (HOST:PORT), prints the
// job's id, then follows it with WatchJob, printing one line per update. OK when the job succeeds;
// ABORTED with the job's error when it fails, CANCELLED when it is cancelled, UNAVAILABLE when
// the watch ends before the job does (the job keeps running on the server).
absl::Status RunRemoteFineTune(const std::string& server, const v1::FineTuneRequest& request);

}  // namespace liger::cli
