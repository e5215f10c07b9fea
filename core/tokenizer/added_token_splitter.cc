#include "core/tokenizer/added_token_splitter.h"

#include <algorithm>

#include "core/tokenizer/unicode_classes.h"
#include "core/tokenizer/utf8.h"

namespace liger {
namespace {

// Byte length of the whitespace that ends `text` (lstrip) or starts it (rstrip).
size_t TrailingWhitespace(std::string_view text) {
  std::vector<char32_t> cps;
  std::vector<size_t> offsets;
  if (!DecodeUtf8(text, &cps, &offsets)) return 0;
  size_t i = cps.size();
  while (i > 0 && IsUnicodeWhitespace(cps[i - 1])) --i;
  return text.size() - offsets[i];
}

size_t LeadingWhitespace(std::string_view text) {
  std::vector<char32_t> cps;
  std::vector<size_t> offsets;
  if (!DecodeUtf8(text, &cps, &offsets)) return 0;
  size_t i = 0;
  while (i < cps.size() && IsUnicodeWhitespace(cps[i])) ++i;
  return offsets[i];
}

}  // namespace

AddedTokenSplitter::AddedTokenSplitter(std::vector<AddedToken> tokens)
    : tokens_(std::move(tokens)), by_first_byte_(256) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i].content.empty()) continue;
    by_first_byte_[static_cast<uint8_t>(tokens_[i].content[0])].push_back(i);
  }
}

const AddedTokenSplitter::AddedToken* AddedTokenSplitter::LongestMatchAt(std::string_view text,
                                                                         size_t pos,
                                                                         bool normalized) const {
  const AddedToken* best = nullptr;
  for (size_t index : by_first_byte_[static_cast<uint8_t>(text[pos])]) {
    const AddedToken& token = tokens_[index];
    if (token.normalized != normalized) continue;
    if (text.compare(pos, token.content.size(), token.content) != 0) continue;
    if (best == nullptr || token.content.size() > best->content.size()) best = &token;
  }
  return best;
}

void AddedTokenSplitter::SplitPass(std::string_view text, bool normalized,
                                   std::vector<Segment>* out) const {
  struct Match {
    size_t start;
    size_t stop;
    const AddedToken* token;
  };
  std::vector<Match> matches;
  for (size_t pos = 0; pos < text.size();) {
    if (const AddedToken* token = LongestMatchAt(text, pos, normalized)) {
      matches.push_back(Match{pos, pos + token->content.size(), token});
      pos += token->content.size();
    } else {
      ++pos;
    }
  }
  // Stripping is applied after all matches are found, exactly as the reference does.
  size_t start_offset = 0;
  for (Match m : matches) {
    if (m.token->lstrip) {
      m.start = std::max(m.start - TrailingWhitespace(text.substr(0, m.start)), start_offset);
    }
    if (m.token->rstrip) m.stop += LeadingWhitespace(text.substr(m.stop));
    if (start_offset < m.start) {
      out->push_back(Segment{text.substr(start_offset, m.start - start_offset), -1});
    }
    out->push_back(Segment{text.substr(m.start, m.stop - m.start), m.token->id});
    start_offset = m.stop;
  }
  if (start_offset < text.size()) out->push_back(Segment{text.substr(start_offset), -1});
}

std::vector<AddedTokenSplitter::Segment> AddedTokenSplitter::Split(std::string_view text) const {
  std::vector<Segment> first;
  SplitPass(text, /*normalized=*/false, &first);
  std::vector<Segment> result;
  for (const Segment& segment : first) {
    if (segment.id >= 0) {
      result.push_back(segment);
    } else {
      SplitPass(segment.text, /*normalized=*/true, &result);
    }
  }
  return result;
}

}  // namespace liger
