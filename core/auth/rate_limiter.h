#pragma once

#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace liger {

// Requests per second per caller, as token buckets: each caller (an API key) may make `burst`
// requests at once and `rate` a second after that. A request over the limit is refused with
// RESOURCE_EXHAUSTED saying when to retry, and costs nothing. Thread-safe.
class RateLimiter {
 public:
  // INVALID_ARGUMENT unless rate > 0 and burst >= 1. `clock` is absl::Now when empty.
  static absl::StatusOr<std::unique_ptr<RateLimiter>> Create(
      double rate, double burst, std::function<absl::Time()> clock = nullptr);

  // Takes one request from `caller`'s bucket, or RESOURCE_EXHAUSTED when it is empty.
  absl::Status Admit(absl::string_view caller) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time updated;
  };
  RateLimiter(double rate, double burst, std::function<absl::Time()> clock);

  const double rate_;
  const double burst_;
  const std::function<absl::Time()> clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace liger
