#include "core/engine/stop_matcher.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace liger {
namespace {

TEST(StopMatcherTest, WithoutStopsReleasesEverything) {
  StopMatcher m({});
  EXPECT_EQ(m.Push("hello "), "hello ");
  EXPECT_EQ(m.Push("world"), "world");
  EXPECT_EQ(m.Finish(), "");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcherTest, StopSplitOverSeveralDeltasIsNeverReleased) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.Push("abc S"), "abc ");
  EXPECT_EQ(m.Push("T"), "");
  EXPECT_EQ(m.Push("O"), "");
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.Push("P and more"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.Push("later"), "");
  EXPECT_EQ(m.Finish(), "");
}

TEST(StopMatcherTest, TextBeforeTheStopInTheSameDeltaIsReleased) {
  StopMatcher m({"\n\n"});
  EXPECT_EQ(m.Push("hello\n\nworld"), "hello");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcherTest, FalseStartIsReleasedOnceItCannotMatch) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.Push("xS"), "x");
  EXPECT_EQ(m.Push("TO"), "");
  EXPECT_EQ(m.Push("x"), "STOx");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcherTest, OverlappingPrefixStillMatches) {
  // The second "a" releases the first; "b" then completes "ab".
  StopMatcher m({"ab"});
  EXPECT_EQ(m.Push("a"), "");
  EXPECT_EQ(m.Push("a"), "a");
  EXPECT_EQ(m.Push("b"), "");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcherTest, FinishReleasesHeldText) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.Push("ab ST"), "ab ");
  EXPECT_EQ(m.Finish(), "ST");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcherTest, TheStopThatEndsFirstWins) {
  StopMatcher first_end({"abc", "b"});
  EXPECT_EQ(first_end.Push("xabc"), "xa");
  StopMatcher same_end({"bc", "abc"});
  EXPECT_EQ(same_end.Push("zabcd"), "z");
}

TEST(StopMatcherTest, HoldsBackAPossibleMultibyteStop) {
  StopMatcher m({"\xC3\xA9!"});  // "é!"
  EXPECT_EQ(m.Push("caf\xC3\xA9"), "caf");
  EXPECT_EQ(m.Push("?"), "\xC3\xA9?");
  EXPECT_EQ(m.Push("\xC3\xA9!"), "");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcherTest, NeverCutsInsideACharacter) {
  // A stop that is a bare continuation byte must not match inside "é".
  StopMatcher m({"\xA9"});
  EXPECT_EQ(m.Push("\xC3\xA9"), "\xC3\xA9");
  EXPECT_FALSE(m.stopped());
  // Nor may a held-back suffix start mid-character: "é" ends with the first byte of "\xA9x".
  StopMatcher n({"\xA9x"});
  EXPECT_EQ(n.Push("a\xC3\xA9"), "a\xC3\xA9");
}

TEST(StopMatcherTest, EmptyStopStringsAreIgnored) {
  StopMatcher m({"", "END"});
  EXPECT_EQ(m.Push("text"), "text");
  EXPECT_EQ(m.Push("END"), "");
  EXPECT_TRUE(m.stopped());
}

}  // namespace
}  // namespace liger
