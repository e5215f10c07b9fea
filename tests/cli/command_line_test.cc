#include "cli/command_line.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace liger {
namespace {

CommandLine ParsedFlags(const std::vector<std::string>& args) {
  absl::StatusOr<CommandLine> cl = CommandLine::Parse(args, {"n", "list"});
  EXPECT_TRUE(cl.ok()) << cl.status();
  return *cl;
}

TEST(CommandLineTest, Int32TakesTheFallbackAndRejectsWhatDoesNotFit) {
  EXPECT_EQ(*ParsedFlags({}).Int32("n", 7), 7);
  EXPECT_EQ(*ParsedFlags({"--n", "-2147483648"}).Int32("n", 0), INT32_MIN);
  const absl::StatusOr<int32_t> big = ParsedFlags({"--n", "2147483648"}).Int32("n", 0);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(big.status().message().find("--n"), absl::string_view::npos);
  EXPECT_EQ(ParsedFlags({"--n", "x"}).Int32("n", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CommandLineTest, IntListParsesCommaSeparatedIntegers) {
  EXPECT_TRUE(ParsedFlags({}).IntList("list")->empty());
  EXPECT_TRUE(ParsedFlags({"--list", ""}).IntList("list")->empty());
  EXPECT_EQ(*ParsedFlags({"--list", "0,8,-16"}).IntList("list"),
            (std::vector<int64_t>{0, 8, -16}));
  for (const char* bad : {"1,,2", "1,x", "1,"}) {
    const absl::StatusOr<std::vector<int64_t>> list = ParsedFlags({"--list", bad}).IntList("list");
    EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(list.status().message().find("--list"), absl::string_view::npos) << bad;
  }
}

}  // namespace
}  // namespace liger
