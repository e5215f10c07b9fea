#include "service/metrics/text_format.h"

#include <charconv>
#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace liger::metrics {
namespace {

// Every integer up to 2^53 is exact in a double, so printing it as int64 loses nothing.
constexpr double kExactIntegerLimit = 9007199254740992.0;

std::string Escape(absl::string_view text, bool escape_quotes) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::trunc(value) && std::fabs(value) < kExactIntegerLimit) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  // std::to_chars without a format gives the shortest round-trip text, independent of the locale.
  char buffer[64];
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

std::string EscapeHelp(absl::string_view help) { return Escape(help, /*escape_quotes=*/false); }

std::string EscapeLabelValue(absl::string_view value) {
  return Escape(value, /*escape_quotes=*/true);
}

std::string FormatLabels(const std::vector<std::string>& names,
                         const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (i > 0) out += ',';
    absl::StrAppend(&out, names[i], "=\"", EscapeLabelValue(values[i]), "\"");
  }
  return out;
}

void AppendSample(absl::string_view name, absl::string_view labels, double value,
                  std::string* out) {
  if (labels.empty()) {
    absl::StrAppend(out, name, " ", FormatValue(value), "\n");
  } else {
    absl::StrAppend(out, name, "{", labels, "} ", FormatValue(value), "\n");
  }
}

}  // namespace liger::metrics
