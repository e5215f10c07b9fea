#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "service/metrics/callback_gauge.h"
#include "service/metrics/counter.h"
#include "service/metrics/gauge.h"
#include "service/metrics/histogram.h"
#include "service/metrics/metric_family.h"

namespace liger::metrics {

// Owns metric families and renders them in the Prometheus text format. Thread-safe. Families live
// as long as the registry, so the Family and child pointers it hands out may be kept.
//
// Registering a name twice is an error (ALREADY_EXISTS) even when the two would be compatible:
// each metric has one owner that registers it once at startup, and a second registration is far
// more often a collision between two modules than a deliberate share. The same holds for names a
// histogram implies: a histogram `x` also takes `x_bucket`, `x_sum` and `x_count`.
//
// The other errors are INVALID_ARGUMENT: a name not matching [a-zA-Z_:][a-zA-Z0-9_:]*, a label
// name not matching [a-zA-Z_][a-zA-Z0-9_]* or starting with "__", repeated label names, `le` on a
// histogram, help text that is empty or not UTF-8, bad histogram bounds.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  absl::StatusOr<Family<Counter>*> AddCounter(const std::string& name, const std::string& help,
                                              std::vector<std::string> label_names = {});
  absl::StatusOr<Family<Gauge>*> AddGauge(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names = {});
  // Exported with TYPE gauge; see CallbackGauge.
  absl::StatusOr<Family<CallbackGauge>*> AddCallbackGauge(
      const std::string& name, const std::string& help, std::vector<std::string> label_names = {});
  // A callback gauge family without labels, and its one series.
  absl::StatusOr<CallbackGauge*> AddUnlabelledCallbackGauge(const std::string& name,
                                                            const std::string& help);
  // `bucket_bounds`: finite, strictly increasing upper bounds; +Inf is added implicitly.
  absl::StatusOr<Family<Histogram>*> AddHistogram(const std::string& name, const std::string& help,
                                                  std::vector<std::string> label_names,
                                                  std::vector<double> bucket_bounds);

  // Text exposition format 0.0.4 of every family, ordered by family name.
  std::string ExpositionText() const;

 private:
  // Validates the family and takes ownership unless its name (or a name it implies) is taken.
  absl::Status Register(std::unique_ptr<MetricFamily> family);

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<MetricFamily>> families_ ABSL_GUARDED_BY(mu_);
  // Every sample name the families expose, including a histogram's _bucket, _sum and _count.
  std::set<std::string> taken_names_ ABSL_GUARDED_BY(mu_);
};

}  // namespace liger::metrics
