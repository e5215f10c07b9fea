#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace liger {

// A checkpoint's tokenizer. Implementations: BpeTokenizer (tokenizer.json, byte-level BPE) and
// SentencePieceTokenizer (tokenizer.model). Thread-safe for concurrent const calls.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Encodes text the way the checkpoint's reference library does. With add_special_tokens, the
  // post-processor's tokens (BOS) are added exactly as that library adds them.
  virtual absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text,
                                                      bool add_special_tokens) const = 0;

  // Decodes ids to text exactly as the reference library's decode(ids, skip_special_tokens).
  // Ids outside the vocabulary are an INVALID_ARGUMENT error.
  virtual absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                             bool skip_special_tokens) const = 0;

  virtual int32_t vocab_size() const = 0;
  virtual std::optional<int32_t> bos_id() const = 0;
  virtual std::optional<int32_t> eos_id() const = 0;
  virtual bool IsSpecial(int32_t id) const = 0;
};

}  // namespace liger
