#include "core/auth/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace liger {

absl::StatusOr<std::unique_ptr<RateLimiter>> RateLimiter::Create(
    double rate, double burst, std::function<absl::Time()> clock) {
  if (!(rate > 0) || !std::isfinite(rate) || !(burst >= 1) || !std::isfinite(burst)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a rate limit needs rate > 0 and burst >= 1, got rate ", rate, " and burst ", burst));
  }
  if (!clock) clock = [] { return absl::Now(); };
  return std::unique_ptr<RateLimiter>(new RateLimiter(rate, burst, std::move(clock)));
}

RateLimiter::RateLimiter(double rate, double burst, std::function<absl::Time()> clock)
    : rate_(rate), burst_(burst), clock_(std::move(clock)) {}

absl::Status RateLimiter::Admit(absl::string_view caller) {
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  auto [it, fresh] = buckets_.try_emplace(caller);
  Bucket& bucket = it->second;
  if (fresh) {
    bucket.tokens = burst_;
  } else {
    const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - bucket.updated));
    bucket.tokens = std::min(burst_, bucket.tokens + elapsed * rate_);
  }
  bucket.updated = now;
  if (bucket.tokens < 1) {
    const double wait = (1 - bucket.tokens) / rate_;
    return absl::ResourceExhaustedError(absl::StrFormat(
        "over the limit of %g requests per second for this API key; retry in %.3f s", rate_, wait));
  }
  bucket.tokens -= 1;
  return absl::OkStatus();
}

}  // namespace liger
