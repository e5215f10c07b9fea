#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "core/jobs/job_snapshot.h"
#include "core/jobs/job_state.h"
#include "core/train/fine_tune.h"
#include "liger/v1/liger.pb.h"

namespace liger::service {

// Protobuf <-> core translation of the fine-tuning job RPCs' types.

// Fills the defaults the proto documents for unset fields; an unset dtype or
// device takes the server's (`default_dtype`, `default_device`), and seed 0 a
// random one, recorded in the job so a resumed run uses it too.
// INVALID_ARGUMENT for a dtype outside the enum; the values themselves are
// checked when the job is submitted.
absl::StatusOr<FineTuneOptions> FineTuneOptionsFromProto(const v1::FineTuneRequest& request,
                                                         const std::string& default_dtype,
                                                         const std::string& default_device);
// Every field set, the defaults included.
void FineTuneOptionsToProto(const FineTuneOptions& options, v1::FineTuneRequest* request);

v1::JobState JobStateToProto(JobState state);
// std::nullopt (every state) for JOB_STATE_UNSPECIFIED; INVALID_ARGUMENT
// outside the enum.
absl::StatusOr<std::optional<JobState>> JobStateFilterFromProto(v1::JobState state);

void JobSnapshotToProto(const JobSnapshot& job, v1::Job* proto);

}  // namespace liger::service
