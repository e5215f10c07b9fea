#include "service/metrics/counter.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "service/metrics/text_format.h"

namespace liger::metrics {

absl::Status Counter::IncBy(double amount) {
  if (std::isnan(amount) || amount < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("counter increment must be >= 0, got ", FormatValue(amount)));
  }
  AtomicAddDouble(value_, amount);
  return absl::OkStatus();
}

void Counter::AppendSamples(absl::string_view name, absl::string_view labels,
                            std::string* out) const {
  AppendSample(name, labels, value(), out);
}

}  // namespace liger::metrics
