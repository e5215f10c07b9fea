#include "service/metrics/validation.h"

#include <gtest/gtest.h>

#include <string>

namespace liger::metrics {
namespace {

TEST(MetricNameTest, AcceptsTheDataModelAlphabet) {
  for (const char* name : {"a", "_x", ":x", "liger_requests_total", "a:b_1", "Z9"}) {
    EXPECT_TRUE(IsValidMetricName(name)) << name;
  }
}

TEST(MetricNameTest, RejectsOtherNames) {
  for (const char* name : {"", "1a", "a-b", "a b", "a.b", "caf\xc3\xa9", "a{b}"}) {
    EXPECT_FALSE(IsValidMetricName(name)) << name;
  }
}

TEST(LabelNameTest, AcceptsTheDataModelAlphabet) {
  for (const char* name : {"method", "_x", "a1", "Code", "_"}) {
    EXPECT_TRUE(IsValidLabelName(name)) << name;
  }
}

TEST(LabelNameTest, RejectsReservedAndInvalidNames) {
  for (const char* name : {"", "__name__", "__x", "1a", "a:b", "a-b", "a b"}) {
    EXPECT_FALSE(IsValidLabelName(name)) << name;
  }
}

TEST(Utf8ValidationTest, AcceptsWellFormedText) {
  for (const char* text : {"", "abc", "caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac",
                           "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf"}) {
    EXPECT_TRUE(IsValidUtf8(text)) << text;
  }
}

TEST(Utf8ValidationTest, RejectsMalformedText) {
  const std::string cases[] = {
      "\xff",              // never a UTF-8 byte
      "\x80",              // lone continuation byte
      "a\xc3",             // truncated two-byte sequence
      "\xe6\x97",          // truncated three-byte sequence
      "\xc3\x28",          // bad continuation byte
      "\xc0\xaf",          // overlong '/'
      "\xe0\x80\xaf",      // overlong '/'
      "\xed\xa0\x80",      // UTF-16 surrogate
      "\xf4\x90\x80\x80",  // above U+10FFFF
      "\xf8\x88\x80\x80\x80",
  };
  for (const std::string& text : cases) {
    EXPECT_FALSE(IsValidUtf8(text)) << testing::PrintToString(text);
  }
}

}  // namespace
}  // namespace liger::metrics
