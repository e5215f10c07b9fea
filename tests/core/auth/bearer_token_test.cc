// The token of an Authorization header, and the forms that carry none.
#include "core/auth/bearer_token.h"

#include <gtest/gtest.h>

namespace liger {
namespace {

TEST(BearerTokenTest, TakesTheTokenOfTheBearerScheme) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer  abc "), "abc");
  EXPECT_EQ(BearerToken("BEARER abc"), "abc");
}

TEST(BearerTokenTest, OtherFormsCarryNone) {
  for (const char* header : {"", "Bearer", "Bearer ", "Basic abc", "Bearerabc", "abc", "Token abc"}) {
    EXPECT_EQ(BearerToken(header), "") << header;
  }
}

}  // namespace
}  // namespace liger
