#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace liger {

// Finds a tokenizer.json's added tokens in raw text before pre-tokenization, as Hugging Face's
// AddedVocabulary does: tokens with normalized=false are matched first, then those with
// normalized=true in the remaining text (the normalizer is the identity here); within a pass the
// leftmost, then longest, match wins; lstrip/rstrip absorb adjacent whitespace.
class AddedTokenSplitter {
 public:
  struct AddedToken {
    int32_t id;
    std::string content;
    bool lstrip = false;
    bool rstrip = false;
    bool normalized = false;
  };
  // A piece of the input: an added token (id >= 0) or plain text to pre-tokenize (id == -1).
  struct Segment {
    std::string_view text;
    int32_t id;
  };

  explicit AddedTokenSplitter(std::vector<AddedToken> tokens);

  std::vector<Segment> Split(std::string_view text) const;

 private:
  void SplitPass(std::string_view text, bool normalized, std::vector<Segment>* out) const;
  // The longest token of the pass that matches at text[pos], or nullptr.
  const AddedToken* LongestMatchAt(std::string_view text, size_t pos, bool normalized) const;

  std::vector<AddedToken> tokens_;
  std::vector<std::vector<size_t>> by_first_byte_;  // token indices, by their first byte
};

}  // namespace liger
