#include "core/tokenizer/split_pattern.h"

#include <gtest/gtest.h>

namespace liger {
namespace {

constexpr char kLlama3[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr char kQwen2[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::vector<std::string> SplitWith(const SplitPattern& pattern, const std::string& text) {
  std::vector<std::string_view> views;
  pattern.Split(text, &views);
  return std::vector<std::string>(views.begin(), views.end());
}

using Pieces = std::vector<std::string>;

// Expected pieces are worked out by hand from the regex's leftmost-first backtracking semantics.
TEST(SplitPatternTest, Llama3Pattern) {
  auto pattern = SplitPattern::FromRegex(kLlama3);
  ASSERT_TRUE(pattern.ok());
  EXPECT_EQ(SplitWith(*pattern, "a   b"), (Pieces{"a", "  ", " b"}));
  EXPECT_EQ(SplitWith(*pattern, "a   "), (Pieces{"a", "   "}));
  EXPECT_EQ(SplitWith(*pattern, "x\n\n  y"), (Pieces{"x", "\n\n", " ", " y"}));
  EXPECT_EQ(SplitWith(*pattern, "x \n \ny"), (Pieces{"x", " \n \n", "y"}));
  EXPECT_EQ(SplitWith(*pattern, "1234567"), (Pieces{"123", "456", "7"}));
  EXPECT_EQ(SplitWith(*pattern, "I'M he'Ll"), (Pieces{"I", "'M", " he", "'Ll"}));
  EXPECT_EQ(SplitWith(*pattern, "it'\xC5\xBF"), (Pieces{"it", "'\xC5\xBF"}));  // 'ſ folds to 's
  EXPECT_EQ(SplitWith(*pattern, "x\xC2\xA0y"), (Pieces{"x", "\xC2\xA0y"}));
  EXPECT_EQ(SplitWith(*pattern, "hello!!!\n\nworld"), (Pieces{"hello", "!!!\n\n", "world"}));
  EXPECT_EQ(SplitWith(*pattern, "  ?"), (Pieces{" ", " ?"}));
  EXPECT_EQ(SplitWith(*pattern, "!abc 9x"), (Pieces{"!abc", " ", "9", "x"}));
  EXPECT_EQ(SplitWith(*pattern, "\n\nHi"), (Pieces{"\n\n", "Hi"}));
  EXPECT_EQ(SplitWith(*pattern, "\xE6\xB1\x89\xE5\xAD\x97 \xD9\xA3\xD9\xA4"),  // 汉字 ٣٤
            (Pieces{"\xE6\xB1\x89\xE5\xAD\x97", " ", "\xD9\xA3\xD9\xA4"}));
}

TEST(SplitPatternTest, Qwen2SplitsDigitsSingly) {
  auto pattern = SplitPattern::FromRegex(kQwen2);
  ASSERT_TRUE(pattern.ok());
  EXPECT_EQ(SplitWith(*pattern, "x 123"), (Pieces{"x", " ", "1", "2", "3"}));
}

TEST(SplitPatternTest, Gpt2Pattern) {
  const SplitPattern pattern = SplitPattern::Gpt2();
  EXPECT_EQ(SplitWith(pattern, "I'M it's"), (Pieces{"I", "'", "M", " it", "'s"}));
  EXPECT_EQ(SplitWith(pattern, "a  12345 ?!\n\nb"),
            (Pieces{"a", " ", " 12345", " ?!", "\n", "\n", "b"}));
  EXPECT_EQ(SplitWith(pattern, "end  "), (Pieces{"end", "  "}));
}

TEST(SplitPatternTest, UnknownRegexIsRejectedWithTheRegexQuoted) {
  auto pattern = SplitPattern::FromRegex("\\p{L}+|\\s+");
  ASSERT_FALSE(pattern.ok());
  EXPECT_EQ(pattern.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(pattern.status().message()).find("\\p{L}+|\\s+"), std::string::npos);
}

}  // namespace
}  // namespace liger
