#include "service/metrics/histogram.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "service/metrics/atomic_double.h"
#include "service/metrics/text_format.h"

namespace liger::metrics {

absl::Status Histogram::ValidateBounds(const std::vector<double>& bounds) {
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "histogram bucket bound ", i, " is ", FormatValue(bounds[i]),
          "; bounds must be finite (the +Inf bucket is implicit)"));
    }
    if (i > 0 && bounds[i] <= bounds[i - 1]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "histogram bucket bounds must be strictly increasing, but bound ", i, " (",
          FormatValue(bounds[i]), ") follows ", FormatValue(bounds[i - 1])));
    }
  }
  return absl::OkStatus();
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), bucket_counts_(bounds_.size() + 1) {}

void Histogram::Observe(double value) {
  // The first bound >= value. NaN is compared explicitly: `bound < NaN` is false, so lower_bound
  // alone would put it into the first bucket.
  const size_t bucket =
      std::isnan(value) ? bounds_.size()
                        : std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  bucket_counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  AtomicAddDouble(sum_, value);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> cumulative(bucket_counts_.size());
  uint64_t running = 0;
  for (size_t i = 0; i < bucket_counts_.size(); ++i) {
    running += bucket_counts_[i].load(std::memory_order_relaxed);
    cumulative[i] = running;
  }
  return cumulative;
}

uint64_t Histogram::count() const { return CumulativeCounts().back(); }

void Histogram::AppendSamples(absl::string_view name, absl::string_view labels,
                              std::string* out) const {
  const std::vector<uint64_t> cumulative = CumulativeCounts();
  const std::string bucket_name = absl::StrCat(name, "_bucket");
  const absl::string_view separator = labels.empty() ? "" : ",";
  for (size_t i = 0; i < cumulative.size(); ++i) {
    const std::string le = i < bounds_.size() ? FormatValue(bounds_[i]) : "+Inf";
    AppendSample(bucket_name, absl::StrCat(labels, separator, "le=\"", le, "\""),
                 static_cast<double>(cumulative[i]), out);
  }
  AppendSample(absl::StrCat(name, "_sum"), labels, sum(), out);
  AppendSample(absl::StrCat(name, "_count"), labels, static_cast<double>(cumulative.back()), out);
}

}  // namespace liger::metrics
