#include "core/tokenizer/unicode_classes.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>

namespace liger {
namespace {

struct CodePointRange {
  char32_t lo;
  char32_t hi;
};

#include "core/tokenizer/unicode_classes_data.inc"

constexpr uint8_t kLetterBit = 1;
constexpr uint8_t kNumberBit = 2;
constexpr char32_t kTableSize = 0x10000;

template <size_t N>
bool InRanges(const CodePointRange (&ranges)[N], char32_t cp) {
  const auto* it = std::upper_bound(std::begin(ranges), std::end(ranges), cp,
                                    [](char32_t v, const CodePointRange& r) { return v < r.lo; });
  return it != std::begin(ranges) && cp <= std::prev(it)->hi;
}

// The Basic Multilingual Plane is looked up in a flat table because pre-tokenization asks for
// every character of the input; rarer code points fall back to binary search.
const std::array<uint8_t, kTableSize>& BmpTable() {
  static const auto* table = [] {
    auto* t = new std::array<uint8_t, kTableSize>{};
    for (const auto& r : kLetterRanges) {
      for (char32_t c = r.lo; c <= r.hi && c < kTableSize; ++c) (*t)[c] |= kLetterBit;
    }
    for (const auto& r : kNumberRanges) {
      for (char32_t c = r.lo; c <= r.hi && c < kTableSize; ++c) (*t)[c] |= kNumberBit;
    }
    return t;
  }();
  return *table;
}

}  // namespace

bool IsUnicodeLetter(char32_t cp) {
  if (cp < kTableSize) return (BmpTable()[cp] & kLetterBit) != 0;
  return InRanges(kLetterRanges, cp);
}

bool IsUnicodeNumber(char32_t cp) {
  if (cp < kTableSize) return (BmpTable()[cp] & kNumberBit) != 0;
  return InRanges(kNumberRanges, cp);
}

bool IsUnicodeWhitespace(char32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

}  // namespace liger
