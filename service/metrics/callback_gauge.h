#pragma once

#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace liger::metrics {

// A gauge whose value is computed when scraped (live sessions, device memory in use), so the owner
// needs no thread that keeps a Gauge up to date. Without a callback it exports no sample.
class CallbackGauge {
 public:
  CallbackGauge() = default;
  CallbackGauge(const CallbackGauge&) = delete;
  CallbackGauge& operator=(const CallbackGauge&) = delete;

  // `callback` runs on the scraping thread, under this gauge's lock: it must be thread-safe and
  // quick, and must not call SetCallback on this gauge. Pass nullptr to detach. Once SetCallback
  // returns, the previous callback is neither running nor will run again, so whatever it captured
  // may be destroyed.
  void SetCallback(std::function<double()> callback);

  // The callback's current value; nullopt without a callback.
  std::optional<double> Read() const;

  // Appends `name{labels} value`, or nothing without a callback.
  void AppendSamples(absl::string_view name, absl::string_view labels, std::string* out) const;

 private:
  mutable absl::Mutex mu_;
  std::function<double()> callback_ ABSL_GUARDED_BY(mu_);
};

}  // namespace liger::metrics
