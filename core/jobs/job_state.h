#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace liger {

// The life of a fine-tuning job: QUEUED -> RUNNING -> one of the terminal
// states. A running job that the server stops at shutdown goes back to QUEUED,
// to resume when the server restarts.
enum class JobState { kQueued, kRunning, kSucceeded, kFailed, kCancelled };

inline constexpr JobState kAllJobStates[] = {JobState::kQueued, JobState::kRunning,
                                             JobState::kSucceeded, JobState::kFailed,
                                             JobState::kCancelled};

bool IsTerminalJobState(JobState state);

// Lowercase names ("queued", "running", ...), as job files and metric labels
// spell them.
std::string JobStateName(JobState state);
// INVALID_ARGUMENT for a name JobStateName never returns.
absl::StatusOr<JobState> ParseJobState(absl::string_view name);

}  // namespace liger
