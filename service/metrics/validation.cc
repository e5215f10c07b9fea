#include "service/metrics/validation.h"

#include <cstdint>

namespace liger::metrics {
namespace {

bool IsAsciiLetterOrUnderscore(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool IsValidMetricName(absl::string_view name) {
  if (name.empty()) return false;
  if (!IsAsciiLetterOrUnderscore(name[0]) && name[0] != ':') return false;
  for (char c : name.substr(1)) {
    if (!IsAsciiLetterOrUnderscore(c) && !IsAsciiDigit(c) && c != ':') return false;
  }
  return true;
}

bool IsValidLabelName(absl::string_view name) {
  if (name.empty() || !IsAsciiLetterOrUnderscore(name[0])) return false;
  if (name.size() >= 2 && name[0] == '_' && name[1] == '_') return false;
  for (char c : name.substr(1)) {
    if (!IsAsciiLetterOrUnderscore(c) && !IsAsciiDigit(c)) return false;
  }
  return true;
}

bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<uint8_t>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    int continuation_bytes;
    uint32_t code_point;
    uint32_t min_code_point;
    if ((lead & 0xE0) == 0xC0) {
      continuation_bytes = 1;
      code_point = lead & 0x1F;
      min_code_point = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      continuation_bytes = 2;
      code_point = lead & 0x0F;
      min_code_point = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      continuation_bytes = 3;
      code_point = lead & 0x07;
      min_code_point = 0x10000;
    } else {
      return false;
    }
    if (text.size() - i <= static_cast<size_t>(continuation_bytes)) return false;
    for (int k = 1; k <= continuation_bytes; ++k) {
      const auto byte = static_cast<uint8_t>(text[i + k]);
      if ((byte & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (byte & 0x3F);
    }
    if (code_point < min_code_point || code_point > 0x10FFFF) return false;
    if (code_point >= 0xD800 && code_point <= 0xDFFF) return false;
    i += continuation_bytes + 1;
  }
  return true;
}

}  // namespace liger::metrics
