#include "core/tokenizer/utf8.h"

#include <gtest/gtest.h>

namespace liger {
namespace {

constexpr char kFffd[] = "\xEF\xBF\xBD";

std::string Repeat(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += kFffd;
  return s;
}

// Expected values follow the Unicode Standard's "U+FFFD substitution of maximal subparts"
// (chapter 3, Table 3-8), which Rust's from_utf8_lossy and Python's errors="replace" implement.
TEST(Utf8Test, LossyReplacesMaximalSubparts) {
  EXPECT_EQ(Utf8Lossy("a\xF1\x80\x80\xE1\x80\xC2" "b\x80" "c\x80\xBF" "d"),
            "a" + Repeat(1) + Repeat(1) + Repeat(1) + "b" + Repeat(1) + "c" + Repeat(2) + "d");
  EXPECT_EQ(Utf8Lossy("\xC0\xAF"), Repeat(2));          // overlong lead byte
  EXPECT_EQ(Utf8Lossy("\xED\xA0\x80"), Repeat(3));      // surrogate
  EXPECT_EQ(Utf8Lossy("\xF4\x90\x80\x80"), Repeat(4));  // above U+10FFFF
  EXPECT_EQ(Utf8Lossy("\xF0\x9F\x99"), Repeat(1));      // truncated emoji
  EXPECT_EQ(Utf8Lossy("\xF0\x9F\x99\x82"), "\xF0\x9F\x99\x82");
  EXPECT_EQ(Utf8Lossy(std::string("x\0y", 3)), std::string("x\0y", 3));
}

TEST(Utf8Test, DecodeRejectsMalformedAndRoundTrips) {
  std::vector<char32_t> cps;
  std::vector<size_t> offsets;
  EXPECT_FALSE(DecodeUtf8("\xE2\x82", &cps, &offsets));
  EXPECT_FALSE(DecodeUtf8("\xC0\x80", &cps, &offsets));
  ASSERT_TRUE(DecodeUtf8("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x99\x82", &cps, &offsets));
  EXPECT_EQ(cps, (std::vector<char32_t>{'a', 0xE9, 0x20AC, 0x1F642}));
  EXPECT_EQ(offsets, (std::vector<size_t>{0, 1, 3, 6, 10}));
  std::string back;
  for (char32_t cp : cps) AppendUtf8(cp, &back);
  EXPECT_EQ(back, "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x99\x82");
}

}  // namespace
}  // namespace liger
