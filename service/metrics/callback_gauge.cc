#include "service/metrics/callback_gauge.h"

#include <utility>

#include "service/metrics/text_format.h"

namespace liger::metrics {

void CallbackGauge::SetCallback(std::function<double()> callback) {
  absl::MutexLock lock(&mu_);
  callback_ = std::move(callback);
}

std::optional<double> CallbackGauge::Read() const {
  absl::MutexLock lock(&mu_);
  if (!callback_) return std::nullopt;
  return callback_();
}

void CallbackGauge::AppendSamples(absl::string_view name, absl::string_view labels,
                                  std::string* out) const {
  if (std::optional<double> value = Read()) AppendSample(name, labels, *value, out);
}

}  // namespace liger::metrics
