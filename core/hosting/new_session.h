#pragma once

#include "absl/status/statusor.h"
#include "core/hosting/hosted_model.h"
#include "core/serving/session_info.h"
#include "core/serving/session_store.h"

namespace liger {

// A new, empty session of `model` in `store`, belonging to `tenant`: RESOURCE_EXHAUSTED when its
// state cannot be allocated or does not fit the store's budget or the tenant's limit. The gRPC and
// HTTP fronts both create sessions this way.
absl::StatusOr<SessionInfo> NewSession(const HostedModel& model, SessionStore& store,
                                       const std::string& tenant);

}  // namespace liger
