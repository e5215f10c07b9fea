#include "core/tokenizer/stream_decoder.h"

#include "absl/strings/match.h"
#include "core/tokenizer/utf8.h"

namespace liger {
namespace {

// How many context ids to keep before the first generated id.
constexpr size_t kContextWindow = 6;

}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, absl::Span<const int32_t> context,
                             bool skip_special_tokens)
    : tokenizer_(tokenizer), skip_special_tokens_(skip_special_tokens) {
  // Take enough trailing context to decode to some text, so that the first generated id is
  // decoded mid-text as in the full decode (SentencePiece strips a leading space at the start).
  size_t start = context.size() > kContextWindow ? context.size() - kContextWindow : 0;
  while (true) {
    absl::StatusOr<std::string> text =
        tokenizer_.Decode(context.subspan(start), skip_special_tokens);
    if (!text.ok()) {
      prefix_ok_ = false;
      break;
    }
    prefix_text_ = *std::move(text);
    if (!prefix_text_.empty() || start == 0) break;
    start = start > kContextWindow ? start - kContextWindow : 0;
  }
  window_.assign(context.begin() + start, context.end());
  read_ = window_.size();
}

absl::StatusOr<std::string> StreamDecoder::NewText() {
  if (!prefix_ok_) {
    return absl::InvalidArgumentError("the stream decoder's context ids do not decode");
  }
  absl::StatusOr<std::string> full = tokenizer_.Decode(window_, skip_special_tokens_);
  if (!full.ok()) return full.status();
  if (!absl::StartsWith(*full, prefix_text_)) {
    // Only possible when the context ends inside a character: release what differs.
    size_t common = 0;
    while (common < full->size() && common < prefix_text_.size() &&
           (*full)[common] == prefix_text_[common]) {
      ++common;
    }
    prefix_text_.resize(common);
  }
  return full->substr(prefix_text_.size());
}

absl::StatusOr<std::string> StreamDecoder::Push(int32_t id) {
  window_.push_back(id);
  absl::StatusOr<std::string> text = NewText();
  if (!text.ok()) {
    window_.pop_back();
    return text.status();
  }
  if (text->empty() || absl::EndsWith(*text, kUtf8Replacement)) return std::string();
  // Release: the pending ids become the new prefix, unless they decode to nothing on their own,
  // in which case the old prefix stays to keep the window's start meaningful.
  std::vector<int32_t> pending(window_.begin() + read_, window_.end());
  absl::StatusOr<std::string> pending_text = tokenizer_.Decode(pending, skip_special_tokens_);
  if (pending_text.ok() && !pending_text->empty()) {
    window_ = std::move(pending);
    prefix_text_ = *std::move(pending_text);
  } else {
    prefix_text_ += *text;
  }
  read_ = window_.size();
  return text;
}

absl::StatusOr<std::string> StreamDecoder::Finish() {
  absl::StatusOr<std::string> text = NewText();
  if (!text.ok()) return text.status();
  prefix_text_ += *text;
  read_ = window_.size();
  return text;
}

}  // namespace liger
