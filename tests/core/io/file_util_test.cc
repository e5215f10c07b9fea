#include "core/io/file_util.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/core/io/temp_dir.h"
#include "tests/core/io/test_files.h"

namespace liger {
namespace {

using ::liger::testing::ReadBytes;
using ::liger::testing::TempDir;
using ::liger::testing::WriteBytes;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ReadFileToStringTest, ReadsBinaryContents) {
  TempDir dir;
  const std::string contents("a\0b\xff\n", 5);
  WriteBytes(dir.File("f"), contents);
  absl::StatusOr<std::string> read = ReadFileToString(dir.File("f"));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, contents);

  WriteBytes(dir.File("empty"), "");
  read = ReadFileToString(dir.File("empty"));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(read->empty());
}

TEST(ReadFileToStringTest, ReadsFilesWhoseSizeIsNotKnownUpFront) {
  // /proc files report a size of 0.
  absl::StatusOr<std::string> read = ReadFileToString("/proc/self/status");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_THAT(*read, HasSubstr("Pid:"));
  read = ReadFileToString("/proc/self/status", 10);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kResourceExhausted) << read.status();
}

TEST(ReadFileToStringTest, EnforcesTheSizeLimit) {
  TempDir dir;
  WriteBytes(dir.File("f"), std::string(100, 'x'));
  EXPECT_TRUE(ReadFileToString(dir.File("f"), 100).ok());
  absl::StatusOr<std::string> read = ReadFileToString(dir.File("f"), 99);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kResourceExhausted) << read.status();
  EXPECT_THAT(read.status().message(), HasSubstr(dir.File("f")));
}

TEST(ReadFileToStringTest, ReportsMissingAndNonRegularFiles) {
  TempDir dir;
  absl::StatusOr<std::string> read = ReadFileToString(dir.File("missing"));
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound) << read.status();
  EXPECT_THAT(read.status().message(), HasSubstr(dir.File("missing")));

  read = ReadFileToString(dir.path());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kFailedPrecondition) << read.status();

  ASSERT_EQ(::mkfifo(dir.File("fifo").c_str(), 0600), 0);
  read = ReadFileToString(dir.File("fifo"));
  EXPECT_EQ(read.status().code(), absl::StatusCode::kFailedPrecondition) << read.status();
}

TEST(ReadFileToStringTest, UnreadableFileIsPermissionDenied) {
  if (::geteuid() == 0) GTEST_SKIP() << "root bypasses file permissions";
  TempDir dir;
  WriteBytes(dir.File("secret"), "x");
  ASSERT_EQ(::chmod(dir.File("secret").c_str(), 0), 0);
  absl::StatusOr<std::string> read = ReadFileToString(dir.File("secret"));
  EXPECT_EQ(read.status().code(), absl::StatusCode::kPermissionDenied) << read.status();
}

TEST(WriteFileAtomicallyTest, CreatesAndReplacesLeavingNoTemporaryFiles) {
  TempDir dir;
  const std::string path = dir.File("out.txt");
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  EXPECT_EQ(ReadBytes(path), "first");
  ASSERT_TRUE(WriteFileAtomically(path, std::string("second\0", 7)).ok());
  EXPECT_EQ(ReadBytes(path), std::string("second\0", 7));
  EXPECT_THAT(dir.List(), ElementsAre("out.txt"));
}

TEST(WriteFileAtomicallyTest, MissingDirectoryFailsCleanly) {
  TempDir dir;
  const absl::Status status = WriteFileAtomically(dir.File("none/out.txt"), "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_THAT(status.message(), HasSubstr(dir.File("none/out.txt")));
  EXPECT_TRUE(dir.List().empty());
}

TEST(WriteNewFileDurablyTest, CreatesButNeverReplaces) {
  TempDir dir;
  ASSERT_TRUE(WriteNewFileDurably(dir.File("new"), std::string("a\0b", 3)).ok());
  EXPECT_EQ(ReadBytes(dir.File("new")), std::string("a\0b", 3));
  const absl::Status again = WriteNewFileDurably(dir.File("new"), "other");
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  EXPECT_EQ(ReadBytes(dir.File("new")), std::string("a\0b", 3));
  EXPECT_EQ(WriteNewFileDurably(dir.File("none/new"), "x").code(), absl::StatusCode::kNotFound);
}

TEST(FsyncDirectoryTest, SyncsDirectoriesAndNamesMissingOnes) {
  TempDir dir;
  EXPECT_TRUE(FsyncDirectory(dir.path()).ok());
  const absl::Status missing = FsyncDirectory(dir.File("missing"));
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr(dir.File("missing")));
}

TEST(StatIfExistsTest, DanglingSymlinkIsAbsentOnlyWhenFollowed) {
  TempDir dir;
  WriteBytes(dir.File("file"), "12345");
  struct stat info;
  absl::StatusOr<bool> file = StatIfExists(dir.File("file"), &info);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(*file);
  EXPECT_EQ(info.st_size, 5);
  absl::StatusOr<bool> missing = StatIfExists(dir.File("missing"));
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(*missing);

  ASSERT_EQ(::symlink(dir.File("missing").c_str(), dir.File("link").c_str()), 0);
  absl::StatusOr<bool> followed = StatIfExists(dir.File("link"));
  ASSERT_TRUE(followed.ok());
  EXPECT_FALSE(*followed);
  absl::StatusOr<bool> link = StatIfExists(dir.File("link"), nullptr, StatLinks::kNoFollow);
  ASSERT_TRUE(link.ok());
  EXPECT_TRUE(*link);

  // A path through a regular file is an error, not an absence.
  const absl::StatusOr<bool> through = StatIfExists(dir.File("file/inside"));
  EXPECT_EQ(through.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace liger
