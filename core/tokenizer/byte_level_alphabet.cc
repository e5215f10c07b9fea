#include "core/tokenizer/byte_level_alphabet.h"

#include <vector>

#include "core/tokenizer/utf8.h"

namespace liger {
namespace {

bool IsPrintableByte(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

}  // namespace

const ByteLevelAlphabet& ByteLevelAlphabet::Get() {
  static const auto* alphabet = new ByteLevelAlphabet();
  return *alphabet;
}

ByteLevelAlphabet::ByteLevelAlphabet() {
  char_to_byte_.fill(-1);
  int next_extra = 256;
  for (int b = 0; b < 256; ++b) {
    const char32_t cp = IsPrintableByte(b) ? b : next_extra++;
    AppendUtf8(cp, &byte_to_utf8_[b]);
    char_to_byte_[cp] = static_cast<int16_t>(b);
  }
}

bool ByteLevelAlphabet::Decode(std::string_view token, std::string* out) const {
  std::vector<char32_t> cps;
  std::vector<size_t> offsets;
  if (!DecodeUtf8(token, &cps, &offsets)) return false;
  std::string bytes;
  bytes.reserve(cps.size());
  for (char32_t cp : cps) {
    if (cp >= char_to_byte_.size() || char_to_byte_[cp] < 0) return false;
    bytes.push_back(static_cast<char>(char_to_byte_[cp]));
  }
  out->append(bytes);
  return true;
}

}  // namespace liger
