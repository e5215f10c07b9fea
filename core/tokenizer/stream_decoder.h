#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/tokenizer/tokenizer.h"

namespace liger {

// Turns generated ids into text incrementally. The concatenation of every Push result and Finish
// equals Decode(context + ids) minus Decode(context). Text is released only when it does not end
// in U+FFFD, so a character split across tokens is held back until complete. Each Push decodes a
// small window of recent ids (the ids of the last release plus the pending ones), as Hugging
// Face's DecodeStream does, so its cost does not grow with the length of the generation.
// The tokenizer must outlive the decoder. Not thread-safe.
class StreamDecoder {
 public:
  // context: the prompt ids, not emitted; they give the first generated token its surroundings
  // (e.g. SentencePiece drops a leading space only at the start of the text).
  StreamDecoder(const Tokenizer& tokenizer, absl::Span<const int32_t> context,
                bool skip_special_tokens = true);

  // Returns the text that id completes (possibly empty).
  absl::StatusOr<std::string> Push(int32_t id);
  // Returns everything still held back, ill-formed bytes as U+FFFD.
  absl::StatusOr<std::string> Finish();

 private:
  // Decodes window_ and returns the text beyond prefix_text_.
  absl::StatusOr<std::string> NewText();

  const Tokenizer& tokenizer_;
  const bool skip_special_tokens_;
  std::vector<int32_t> window_;  // [0, read_) already released, [read_, end) pending
  size_t read_ = 0;
  std::string prefix_text_;  // Decode(window_[0, read_))
  bool prefix_ok_ = true;    // false if the context itself failed to decode
};

}  // namespace liger
