#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace liger::service {

// absl::Status and grpc::Status share the canonical codes (google.rpc.Code); these map each code
// to its namesake and keep the message. A code outside the canonical set becomes UNKNOWN.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status ToAbslStatus(const grpc::Status& status);

}  // namespace liger::service
