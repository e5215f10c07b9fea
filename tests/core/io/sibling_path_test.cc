#include "core/io/sibling_path.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <string>

#include "tests/core/io/temp_dir.h"

namespace liger {
namespace {

using ::liger::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

TEST(SplitSiblingPathTest, SplitsDirectoryPrefixAndName) {
  absl::StatusOr<SiblingPath> nested = SplitSiblingPath("a/b/c.txt", "a file");
  ASSERT_TRUE(nested.ok()) << nested.status();
  EXPECT_EQ(nested->dir, "a/b");
  EXPECT_EQ(nested->prefix, "a/b/");
  EXPECT_EQ(nested->name, "c.txt");

  absl::StatusOr<SiblingPath> bare = SplitSiblingPath("c.txt", "a file");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->dir, ".");
  EXPECT_EQ(bare->prefix, "");

  absl::StatusOr<SiblingPath> root = SplitSiblingPath("/c", "a file");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->dir, "/");
  EXPECT_EQ(root->prefix, "/");
}

TEST(SplitSiblingPathTest, RejectsPathsWithoutAName) {
  for (const char* path : {"", "dir/", ".", "..", "dir/.."}) {
    const absl::StatusOr<SiblingPath> split = SplitSiblingPath(path, "a new directory");
    EXPECT_EQ(split.status().code(), absl::StatusCode::kInvalidArgument) << path;
    EXPECT_THAT(split.status().message(), HasSubstr("does not name a new directory"));
  }
}

TEST(CreateUniqueSiblingTest, CreatesAHiddenTaggedEntry) {
  TempDir dir;
  absl::StatusOr<SiblingPath> sibling = SplitSiblingPath(dir.File("model"), "a directory");
  ASSERT_TRUE(sibling.ok());
  absl::StatusOr<std::string> created =
      CreateUniqueSibling(*sibling, "partial", "a staging directory",
                          [](const std::string& path) { return ::mkdir(path.c_str(), 0700) == 0; });
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_THAT(*created, MatchesRegex(".*/\\.model\\.partial-[0-9a-f]{16}"));
  struct stat st;
  EXPECT_EQ(::stat(created->c_str(), &st), 0);
}

TEST(CreateUniqueSiblingTest, RetriesTakenNamesThenGivesUp) {
  absl::StatusOr<SiblingPath> sibling = SplitSiblingPath("x", "a file");
  ASSERT_TRUE(sibling.ok());
  int attempts = 0;
  const absl::StatusOr<std::string> taken =
      CreateUniqueSibling(*sibling, "tmp", "a temporary file", [&](const std::string&) {
        ++attempts;
        errno = EEXIST;
        return false;
      });
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_GT(attempts, 1);

  const absl::StatusOr<std::string> denied =
      CreateUniqueSibling(*sibling, "tmp", "a temporary file", [](const std::string&) {
        errno = EACCES;
        return false;
      });
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.status().message(), HasSubstr("cannot create a temporary file beside x"));
}

}  // namespace
}  // namespace liger
