#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "core/jobs/job_snapshot.h"
#include "nlohmann/json.hpp"

namespace liger {

// A job file's JSON: the id, state, options, progress, timestamps (RFC 3339)
// and error of one job.
nlohmann::ordered_json JobSnapshotToJson(const JobSnapshot& job);

// The inverse of JobSnapshotToJson. DATA_LOSS, starting with `context` (e.g.
// the file name), for a missing or mistyped field or an unknown state.
absl::StatusOr<JobSnapshot> JobSnapshotFromJson(const nlohmann::json& json,
                                                const std::string& context);

}  // namespace liger
