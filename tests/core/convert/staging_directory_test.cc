// StagingDirectory's cleanup of abandoned staging directories: one left by a killed process goes at
// the next Create() for the same output; one a live StagingDirectory holds, and entries that only
// look alike, stay.
#include "core/convert/staging_directory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/core/io/temp_dir.h"
#include "tests/core/io/test_files.h"

namespace liger {
namespace {

namespace fs = std::filesystem;
using ::liger::testing::ReadBytes;
using ::liger::testing::TempDir;
using ::liger::testing::WriteBytes;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::MatchesRegex;
using ::testing::Not;

constexpr char kStagingPattern[] = "\\.out\\.partial-[0-9a-f]{16}";

// The entries of `dir` that are staging directories of "out".
std::vector<std::string> StagingEntries(const TempDir& dir) {
  std::vector<std::string> staging;
  for (const std::string& name : dir.List()) {
    if (name.rfind(".out.partial-", 0) == 0) staging.push_back(name);
  }
  return staging;
}

// Runs StagingDirectory::Create in a child process that then dies by SIGKILL, as a conversion
// killed mid-write does, leaving its staging directory (holding one file) behind.
void CreateAndGetKilled(const std::string& final_path) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto staging = StagingDirectory::Create(final_path);
    if (staging.ok()) WriteBytes((*staging)->path() + "/model.safetensors", "half a model");
    ::raise(SIGKILL);
    ::_exit(1);  // not reached
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TEST(StagingDirectoryTest, AKilledProcessesStagingDirectoryGoesAtTheNextCreate) {
  TempDir dir;
  CreateAndGetKilled(dir.File("out"));
  const std::vector<std::string> left = StagingEntries(dir);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_THAT(left[0], MatchesRegex(kStagingPattern));
  EXPECT_EQ(ReadBytes(dir.File(left[0]) + "/model.safetensors"), "half a model");

  auto staging = StagingDirectory::Create(dir.File("out"));
  ASSERT_TRUE(staging.ok()) << staging.status();
  EXPECT_THAT(StagingEntries(dir), ElementsAre(fs::path((*staging)->path()).filename().string()));
  ASSERT_TRUE((*staging)->Publish().ok());
  EXPECT_THAT(dir.List(), ElementsAre("out"));
}

TEST(StagingDirectoryTest, ALiveStagingDirectoryIsNeverTouched) {
  TempDir dir;
  auto first = StagingDirectory::Create(dir.File("out"));
  ASSERT_TRUE(first.ok()) << first.status();
  WriteBytes((*first)->path() + "/model.safetensors", "being written");

  // A second build of the same output (another thread or another process) leaves it alone.
  auto second = StagingDirectory::Create(dir.File("out"));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE((*second)->path(), (*first)->path());
  EXPECT_EQ(ReadBytes((*first)->path() + "/model.safetensors"), "being written");
  EXPECT_EQ(StagingEntries(dir).size(), 2u);

  // The one that publishes first wins; the other is refused and removes only its own directory.
  ASSERT_TRUE((*first)->Publish().ok());
  EXPECT_EQ(ReadBytes(dir.File("out") + "/model.safetensors"), "being written");
  EXPECT_EQ((*second)->Publish().code(), absl::StatusCode::kAlreadyExists);
  second->reset();
  EXPECT_THAT(dir.List(), ElementsAre("out"));
}

TEST(StagingDirectoryTest, OnlyStagingDirectoriesOfTheSameOutputAreRemoved) {
  TempDir dir;
  // Abandoned (nobody holds them): only the first is a staging directory of "out".
  const std::vector<std::string> kept = {
      ".out.partial-0123456789abcde",       // too short for CreateUniqueSibling's suffix
      ".out.partial-0123456789abcdefa",     // too long
      ".out.partial-0123456789abcdeg",      // not hex
      ".other.partial-0123456789abcdef",    // another output's
      ".out.tmp-0123456789abcdef",          // an AtomicFileWriter's temporary file name
      "out.partial-0123456789abcdef",       // not hidden
      ".out.partial-0123456789abcdef.keep"  // longer name
  };
  fs::create_directory(dir.File(".out.partial-0123456789abcdef"));
  WriteBytes(dir.File(".out.partial-0123456789abcdef") + "/config.json", "{}");
  for (const std::string& name : kept) fs::create_directory(dir.File(name));
  // Entries with a staging name that are no directory of its own are not removed either.
  WriteBytes(dir.File(".out.partial-1111111111111111"), "a file");
  fs::create_directory(dir.File("elsewhere"));
  WriteBytes(dir.File("elsewhere") + "/precious", "data");
  fs::create_directory_symlink(dir.File("elsewhere"), dir.File(".out.partial-2222222222222222"));

  auto staging = StagingDirectory::Create(dir.File("out"));
  ASSERT_TRUE(staging.ok()) << staging.status();
  const std::vector<std::string> names = dir.List();
  EXPECT_THAT(names, Not(Contains(".out.partial-0123456789abcdef")));
  for (const std::string& name : kept) EXPECT_THAT(names, Contains(name));
  EXPECT_THAT(names, Contains(".out.partial-1111111111111111"));
  EXPECT_THAT(names, Contains(".out.partial-2222222222222222"));
  EXPECT_EQ(ReadBytes(dir.File("elsewhere") + "/precious"), "data");
}

TEST(StagingDirectoryTest, CleanupWorksForABareRelativeName) {
  TempDir dir;
  fs::create_directory(dir.File(".out.partial-0123456789abcdef"));
  const fs::path previous = fs::current_path();
  fs::current_path(dir.path());
  absl::Status created = StagingDirectory::Create("out").status();
  fs::current_path(previous);
  ASSERT_TRUE(created.ok()) << created;
  EXPECT_TRUE(dir.List().empty());  // the abandoned one, and the new one once destroyed
}

}  // namespace
}  // namespace liger
