#include "service/metrics/gauge.h"

#include "service/metrics/text_format.h"

namespace liger::metrics {

void Gauge::AppendSamples(absl::string_view name, absl::string_view labels,
                          std::string* out) const {
  AppendSample(name, labels, value(), out);
}

}  // namespace liger::metrics
