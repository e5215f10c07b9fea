#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace liger {

// GPT-2's reversible byte <-> printable-character mapping used by byte-level BPE: printable
// Latin-1 bytes map to themselves, the other 68 bytes to U+0100 onwards in byte order.
class ByteLevelAlphabet {
 public:
  static const ByteLevelAlphabet& Get();

  // The UTF-8 encoding of the character that stands for byte b.
  const std::string& Encode(uint8_t b) const { return byte_to_utf8_[b]; }
  // Appends the bytes a token's characters stand for; returns false (appending nothing) if some
  // character is not in the alphabet.
  bool Decode(std::string_view token, std::string* out) const;

 private:
  ByteLevelAlphabet();

  std::array<std::string, 256> byte_to_utf8_;
  std::array<int16_t, 512> char_to_byte_;  // every alphabet character is below U+0200
};

}  // namespace liger
