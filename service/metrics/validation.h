#pragma once

#include "absl/strings/string_view.h"

namespace liger::metrics {

// Prometheus data model: metric names match [a-zA-Z_:][a-zA-Z0-9_:]*.
bool IsValidMetricName(absl::string_view name);

// Label names match [a-zA-Z_][a-zA-Z0-9_]* and must not start with "__" (reserved for Prometheus).
bool IsValidLabelName(absl::string_view name);

// Prometheus rejects a whole scrape whose text is not UTF-8, so help texts and label values are
// checked before they can reach the exposition. Rejects overlong forms, surrogates and values
// above U+10FFFF.
bool IsValidUtf8(absl::string_view text);

}  // namespace liger::metrics
