#include "core/tokenizer/split_pattern.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/unicode_classes.h"
#include "core/tokenizer/utf8.h"

namespace liger {
namespace {

constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

bool IsCrLf(char32_t c) { return c == '\r' || c == '\n'; }
bool IsOther(char32_t c) {
  return !IsUnicodeWhitespace(c) && !IsUnicodeLetter(c) && !IsUnicodeNumber(c);
}

template <typename Pred>
size_t RunEnd(const std::vector<char32_t>& cps, size_t i, Pred pred) {
  while (i < cps.size() && pred(cps[i])) ++i;
  return i;
}

// Simple case folding restricted to what the contraction letters (s t r e v m l d) can match:
// ASCII capitals, and U+017F LATIN SMALL LETTER LONG S, which folds to 's'.
char32_t FoldCase(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + ('a' - 'A');
  if (c == 0x017F) return 's';
  return c;
}

// Length of a contraction ('s 't 're 've 'm 'll 'd) starting at i, or 0.
size_t ContractionLength(const std::vector<char32_t>& cps, size_t i, bool ignore_case) {
  if (cps[i] != '\'' || i + 1 >= cps.size()) return 0;
  auto fold = [&](char32_t c) { return ignore_case ? FoldCase(c) : c; };
  const char32_t c1 = fold(cps[i + 1]);
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
  if (i + 2 >= cps.size()) return 0;
  const char32_t c2 = fold(cps[i + 2]);
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
  return 0;
}

// Ends of `\s+(?!\S)|\s+` for the whitespace run [i, run_end): the look-ahead makes a run that is
// followed by a non-space give its last character to the next piece, unless it is one character.
size_t WhitespaceRunMatchEnd(const std::vector<char32_t>& cps, size_t i, size_t run_end) {
  if (run_end == cps.size() || run_end - 1 == i) return run_end;
  return run_end - 1;
}

}  // namespace

absl::StatusOr<SplitPattern> SplitPattern::FromRegex(std::string_view regex) {
  if (regex == kLlama3Regex) return SplitPattern(Kind::kLlama3);
  if (regex == kQwen2Regex) return SplitPattern(Kind::kQwen2);
  if (regex == kGpt2Regex) return SplitPattern(Kind::kGpt2);
  return absl::InvalidArgumentError(absl::StrCat(
      "unsupported pre-tokenizer split regex \"", std::string(regex),
      "\" (supported: the Llama-3, Qwen2 and GPT-2 patterns)"));
}

SplitPattern SplitPattern::Gpt2() { return SplitPattern(Kind::kGpt2); }

void SplitPattern::Split(std::string_view text, std::vector<std::string_view>* pieces) const {
  std::vector<char32_t> cps;
  std::vector<size_t> offsets;
  if (!DecodeUtf8(text, &cps, &offsets)) {
    // Callers validate UTF-8 first; keep the text whole rather than cut it at a wrong place.
    pieces->push_back(text);
    return;
  }
  size_t i = 0;
  while (i < cps.size()) {
    const size_t end = kind_ == Kind::kGpt2 ? MatchEndGpt2(cps, i) : MatchEnd(cps, i);
    pieces->push_back(text.substr(offsets[i], offsets[end] - offsets[i]));
    i = end;
  }
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+   (Qwen2: \p{N} instead of \p{N}{1,3})
size_t SplitPattern::MatchEnd(const std::vector<char32_t>& cps, size_t i) const {
  const size_t n = cps.size();
  const char32_t c = cps[i];
  if (const size_t len = ContractionLength(cps, i, /*ignore_case=*/true)) return i + len;
  if (IsUnicodeLetter(c)) return RunEnd(cps, i, IsUnicodeLetter);
  if (!IsCrLf(c) && !IsUnicodeNumber(c) && i + 1 < n && IsUnicodeLetter(cps[i + 1])) {
    return RunEnd(cps, i + 1, IsUnicodeLetter);
  }
  if (IsUnicodeNumber(c)) {
    const size_t max_digits = kind_ == Kind::kLlama3 ? 3 : 1;
    size_t j = i + 1;
    while (j < n && j - i < max_digits && IsUnicodeNumber(cps[j])) ++j;
    return j;
  }
  const size_t other_start = (c == ' ' && i + 1 < n && IsOther(cps[i + 1])) ? i + 1 : i;
  if (IsOther(cps[other_start])) return RunEnd(cps, RunEnd(cps, other_start, IsOther), IsCrLf);
  // Only whitespace is left. \s*[\r\n]+ backtracks to the last CR/LF of the run.
  const size_t run_end = RunEnd(cps, i, IsUnicodeWhitespace);
  for (size_t k = run_end; k > i; --k) {
    if (IsCrLf(cps[k - 1])) return k;
  }
  return WhitespaceRunMatchEnd(cps, i, run_end);
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
size_t SplitPattern::MatchEndGpt2(const std::vector<char32_t>& cps, size_t i) const {
  if (const size_t len = ContractionLength(cps, i, /*ignore_case=*/false)) return i + len;
  const size_t start = (cps[i] == ' ' && i + 1 < cps.size()) ? i + 1 : i;
  for (bool (*pred)(char32_t) : {IsUnicodeLetter, IsUnicodeNumber, IsOther}) {
    if (pred(cps[start])) return RunEnd(cps, start, pred);
  }
  // cps[i] is whitespace here (a space followed by whitespace, or other whitespace).
  return WhitespaceRunMatchEnd(cps, i, RunEnd(cps, i, IsUnicodeWhitespace));
}

}  // namespace liger
