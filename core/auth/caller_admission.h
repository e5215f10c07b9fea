#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/auth/api_key_ring.h"
#include "core/auth/rate_limiter.h"

namespace liger {

// What every call passes before it does anything, on the gRPC and HTTP fronts alike: its API key
// (from the `Authorization` header or metadata) when the server has keys, then the per-key
// request rate when it has a limit.
class CallerAdmission {
 public:
  // Either may be null: no authentication (every caller the empty tenant, one shared key for the
  // rate limit), no rate limit.
  CallerAdmission(std::shared_ptr<ApiKeyRing> keys, std::shared_ptr<RateLimiter> limiter)
      : keys_(std::move(keys)), limiter_(std::move(limiter)) {}

  // The caller's tenant, or UNAUTHENTICATED for a missing or unknown key, or RESOURCE_EXHAUSTED
  // over the key's request rate.
  absl::StatusOr<std::string> Admit(absl::string_view authorization) const;

  bool authenticates() const { return keys_ != nullptr; }

 private:
  const std::shared_ptr<ApiKeyRing> keys_;
  const std::shared_ptr<RateLimiter> limiter_;
};

}  // namespace liger
