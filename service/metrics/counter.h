#pragma once

#include <atomic>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "service/metrics/atomic_double.h"

namespace liger::metrics {

// A monotonically increasing total (requests served, tokens generated). Lock-free; obtain one from
// Family<Counter>::WithLabels and keep the pointer.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Inc() { AtomicAddDouble(value_, 1.0); }
  // INVALID_ARGUMENT for a negative or NaN amount, which would break monotonicity; the value is
  // then left unchanged.
  absl::Status IncBy(double amount);

  double value() const { return value_.load(std::memory_order_relaxed); }

  // Appends `name{labels} value`.
  void AppendSamples(absl::string_view name, absl::string_view labels, std::string* out) const;

 private:
  std::atomic<double> value_{0.0};
};

}  // namespace liger::metrics
