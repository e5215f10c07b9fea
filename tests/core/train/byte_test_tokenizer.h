#pragma once

// A tokenizer whose ids are predictable, for exact packing and masking tests: each byte b becomes
// id b + 3; BOS is 0 (added only if `add_bos`), EOS 1.
#include <optional>
#include <string>
#include <vector>

#include "core/tokenizer/tokenizer.h"

namespace liger::testing {

class ByteTestTokenizer : public Tokenizer {
 public:
  explicit ByteTestTokenizer(bool add_bos) : add_bos_(add_bos) {}

  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text,
                                              bool add_special_tokens) const override {
    std::vector<int32_t> ids;
    if (add_special_tokens && add_bos_) ids.push_back(0);
    for (unsigned char c : text) ids.push_back(static_cast<int32_t>(c) + 3);
    return ids;
  }
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                     bool skip_special_tokens) const override {
    std::string text;
    for (int32_t id : ids) {
      if (id >= 3) text.push_back(static_cast<char>(id - 3));
    }
    return text;
  }
  int32_t vocab_size() const override { return 259; }
  std::optional<int32_t> bos_id() const override { return 0; }
  std::optional<int32_t> eos_id() const override { return 1; }
  bool IsSpecial(int32_t id) const override { return id < 3; }

 private:
  bool add_bos_;
};

}  // namespace liger::testing
