#pragma once

#include <atomic>
#include <string>

#include "absl/strings/string_view.h"
#include "service/metrics/atomic_double.h"

namespace liger::metrics {

// A value that goes up and down (queue depth, batch size). Lock-free; obtain one from
// Family<Gauge>::WithLabels and keep the pointer.
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Inc(double amount = 1.0) { AtomicAddDouble(value_, amount); }
  void Dec(double amount = 1.0) { AtomicAddDouble(value_, -amount); }

  double value() const { return value_.load(std::memory_order_relaxed); }

  // Appends `name{labels} value`.
  void AppendSamples(absl::string_view name, absl::string_view labels, std::string* out) const;

 private:
  std::atomic<double> value_{0.0};
};

}  // namespace liger::metrics
