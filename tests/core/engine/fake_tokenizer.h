#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/tokenizer/tokenizer.h"

namespace liger::testing {

// A tokenizer whose ids map to fixed byte strings. Like byte-level BPE, a piece may be part of a
// UTF-8 character; Decode replaces bytes that do not form whole characters with U+FFFD, as the
// Hugging Face library does.
class FakeTokenizer : public Tokenizer {
 public:
  FakeTokenizer(std::vector<std::string> pieces, std::vector<int32_t> special,
                std::optional<int32_t> bos, std::optional<int32_t> eos)
      : pieces_(std::move(pieces)), special_(std::move(special)), bos_(bos), eos_(eos) {}

  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view, bool) const override {
    return absl::UnimplementedError("FakeTokenizer does not encode");
  }

  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                     bool skip_special_tokens) const override {
    std::string bytes;
    for (const int32_t id : ids) {
      if (id < 0 || id >= vocab_size()) {
        return absl::InvalidArgumentError(absl::StrCat("id ", id, " outside the vocabulary"));
      }
      if (!(skip_special_tokens && IsSpecial(id))) bytes += pieces_[id];
    }
    return Lossy(bytes);
  }

  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  std::optional<int32_t> bos_id() const override { return bos_; }
  std::optional<int32_t> eos_id() const override { return eos_; }
  bool IsSpecial(int32_t id) const override {
    return std::find(special_.begin(), special_.end(), id) != special_.end();
  }

 private:
  static std::string Lossy(std::string_view bytes) {
    std::string out;
    size_t i = 0;
    while (i < bytes.size()) {
      const unsigned char c = bytes[i];
      const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
      bool whole = len > 0 && i + len <= bytes.size();
      for (size_t k = 1; whole && k < len; ++k) whole = (bytes[i + k] & 0xC0) == 0x80;
      if (whole) {
        out.append(bytes.substr(i, len));
        i += len;
      } else {
        out += "\xEF\xBF\xBD";
        ++i;
      }
    }
    return out;
  }

  std::vector<std::string> pieces_;
  std::vector<int32_t> special_;
  std::optional<int32_t> bos_;
  std::optional<int32_t> eos_;
};

}  // namespace liger::testing
