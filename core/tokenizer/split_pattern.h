#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace liger {

// One of the pre-tokenizer split regexes that byte-level BPE checkpoints use, matched by a
// hand-written scanner with the leftmost-first semantics of Oniguruma (which Hugging Face
// tokenizers runs), including the `\s+(?!\S)` look-ahead. Only the exact known regex strings are
// accepted: an approximation would silently change token ids.
class SplitPattern {
 public:
  static absl::StatusOr<SplitPattern> FromRegex(std::string_view regex);
  // The regex the ByteLevel pre-tokenizer applies when its use_regex is true.
  static SplitPattern Gpt2();

  // Splits valid UTF-8 text into the matches of the regex (they tile the text: every position
  // starts a match), appending them in order.
  void Split(std::string_view text, std::vector<std::string_view>* pieces) const;

 private:
  enum class Kind { kLlama3, kQwen2, kGpt2 };
  explicit SplitPattern(Kind kind) : kind_(kind) {}

  // Returns the end of the match that starts at code point i.
  size_t MatchEnd(const std::vector<char32_t>& cps, size_t i) const;
  size_t MatchEndGpt2(const std::vector<char32_t>& cps, size_t i) const;

  Kind kind_;
};

}  // namespace liger
