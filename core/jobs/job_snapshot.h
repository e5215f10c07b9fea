#pragma once

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "core/jobs/job_state.h"
#include "core/train/fine_tune.h"

namespace liger {

// A fine-tuning job as it stands at one moment: what JobManager hands out and
// what its job files record.
struct JobSnapshot {
  std::string id;
  std::string tenant;  // the tenant that submitted it (empty without authentication)
  JobState state = JobState::kQueued;
  FineTuneOptions options;
  FineTuneProgress progress;
  absl::Time created_at = absl::UnixEpoch();
  std::optional<absl::Time> started_at;   // set when it (last) started running
  std::optional<absl::Time> finished_at;  // set in the terminal states
  std::string error_message;              // why it failed or was cancelled
};

}  // namespace liger
