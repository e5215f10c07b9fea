#include "core/tokenizer/utf8.h"

#include <cstdint>

namespace liger {
namespace {

// Length of the sequence a lead byte starts and the allowed range of its second byte (Unicode
// Table 3-7, well-formed UTF-8); length 0 for bytes that cannot start a sequence.
struct LeadInfo {
  int length;
  uint8_t second_lo;
  uint8_t second_hi;
};

LeadInfo Lead(uint8_t b) {
  if (b < 0x80) return {1, 0, 0};
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

// Returns how many bytes at text[pos] form a well-formed character (> 0), or, negated, the length
// of the maximal ill-formed subpart to replace (< 0).
int ScanChar(std::string_view text, size_t pos) {
  const auto b0 = static_cast<uint8_t>(text[pos]);
  const LeadInfo lead = Lead(b0);
  if (lead.length == 0) return -1;
  for (int i = 1; i < lead.length; ++i) {
    if (pos + i >= text.size()) return -i;
    const auto b = static_cast<uint8_t>(text[pos + i]);
    const uint8_t lo = i == 1 ? lead.second_lo : 0x80;
    const uint8_t hi = i == 1 ? lead.second_hi : 0xBF;
    if (b < lo || b > hi) return -i;
  }
  return lead.length;
}

}  // namespace

bool DecodeUtf8(std::string_view text, std::vector<char32_t>* code_points,
                std::vector<size_t>* offsets) {
  code_points->clear();
  offsets->clear();
  code_points->reserve(text.size());
  offsets->reserve(text.size() + 1);
  size_t pos = 0;
  while (pos < text.size()) {
    const int n = ScanChar(text, pos);
    if (n < 0) return false;
    char32_t cp = static_cast<uint8_t>(text[pos]);
    if (n > 1) {
      cp &= 0x7F >> n;
      for (int i = 1; i < n; ++i) cp = (cp << 6) | (static_cast<uint8_t>(text[pos + i]) & 0x3F);
    }
    code_points->push_back(cp);
    offsets->push_back(pos);
    pos += n;
  }
  offsets->push_back(text.size());
  return true;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string Utf8Lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t pos = 0;
  while (pos < bytes.size()) {
    const int n = ScanChar(bytes, pos);
    if (n > 0) {
      out.append(bytes.data() + pos, n);
      pos += n;
    } else {
      out.append(kUtf8Replacement);
      pos += -n;
    }
  }
  return out;
}

}  // namespace liger
