#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

// Pieces of the Prometheus text exposition format, version 0.0.4.
namespace liger::metrics {

// A sample value as Prometheus parses it: "+Inf", "-Inf", "NaN"; integral values below 2^53 as
// plain integers ("3", not "3e+00"); anything else in the shortest form that reads back to the
// same double ("0.1", "1e-05"). Locale-independent.
std::string FormatValue(double value);

// "# HELP" text: backslash -> \\, newline -> \n.
std::string EscapeHelp(absl::string_view help);

// Label values: backslash -> \\, double quote -> \", newline -> \n.
std::string EscapeLabelValue(absl::string_view value);

// `a="x",b="y"` (no braces) for parallel lists of names and values; empty for no labels.
std::string FormatLabels(const std::vector<std::string>& names,
                         const std::vector<std::string>& values);

// Appends one sample line: `name{labels} value\n`, or `name value\n` when `labels` is empty.
void AppendSample(absl::string_view name, absl::string_view labels, double value,
                  std::string* out);

}  // namespace liger::metrics
