#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace liger::metrics {

// Counts observations (latencies, sizes) into fixed buckets and keeps their sum. Bucket i counts
// values v with bounds[i-1] < v <= bounds[i]: a value equal to a bound lands in that bound's
// bucket, as Prometheus' `le` ("less or equal") means; a last, implicit bucket takes the rest up to
// +Inf. Observe is lock-free.
class Histogram {
 public:
  // OK when `bounds` are finite and strictly increasing (the +Inf bucket is implicit, so it may not
  // be listed); INVALID_ARGUMENT otherwise. An empty list is allowed: only the +Inf bucket.
  static absl::Status ValidateBounds(const std::vector<double>& bounds);

  // `bounds` must pass ValidateBounds; Family<Histogram> ensures that.
  explicit Histogram(std::vector<double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // NaN goes to the +Inf bucket and makes the sum NaN, as in the Prometheus client libraries.
  void Observe(double value);

  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts, one per bound and a last one for +Inf (which equals count()).
  std::vector<uint64_t> CumulativeCounts() const;
  uint64_t count() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

  // Appends `name_bucket{labels,le="..."}` for every bound and +Inf, then `name_sum` and
  // `name_count`. _count is taken from the same bucket snapshot as the +Inf bucket so the two
  // always agree, even while observations arrive.
  void AppendSamples(absl::string_view name, absl::string_view labels, std::string* out) const;

 private:
  const std::vector<double> bounds_;
  // Per-bucket (not cumulative) counts so that Observe touches one counter; index bounds_.size()
  // is the +Inf bucket.
  std::vector<std::atomic<uint64_t>> bucket_counts_;
  std::atomic<double> sum_{0.0};
};

}  // namespace liger::metrics
