#include "core/io/atomic_file_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstring>
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
using ::testing::SizeIs;
using ::testing::StartsWith;

std::unique_ptr<AtomicFileWriter> Create(const std::string& path) {
  absl::StatusOr<std::unique_ptr<AtomicFileWriter>> writer = AtomicFileWriter::Create(path);
  EXPECT_TRUE(writer.ok()) << writer.status();
  return writer.ok() ? *std::move(writer) : nullptr;
}

TEST(AtomicFileWriterTest, PublishesOnlyOnCommit) {
  TempDir dir;
  const std::string path = dir.File("data.bin");
  std::unique_ptr<AtomicFileWriter> writer = Create(path);
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(writer->path(), path);
  ASSERT_TRUE(writer->Append("hello ").ok());
  ASSERT_TRUE(writer->Append("").ok());
  ASSERT_TRUE(writer->Append(std::string(1 << 20, 'w')).ok());

  // Before Commit only the hidden temporary sibling exists.
  ASSERT_THAT(dir.List(), SizeIs(1));
  EXPECT_THAT(dir.List()[0], StartsWith(".data.bin.tmp-"));
  ASSERT_TRUE(writer->Commit().ok());
  EXPECT_THAT(dir.List(), ElementsAre("data.bin"));
  EXPECT_EQ(ReadBytes(path), "hello " + std::string(1 << 20, 'w'));

  EXPECT_EQ(writer->Commit().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(writer->Append("x").code(), absl::StatusCode::kFailedPrecondition);
  writer.reset();
  EXPECT_THAT(dir.List(), ElementsAre("data.bin"));
}

TEST(AtomicFileWriterTest, DestroyedWithoutCommitLeavesOldFileAndNoTemporary) {
  TempDir dir;
  const std::string path = dir.File("keep.txt");
  WriteBytes(path, "old contents");
  std::unique_ptr<AtomicFileWriter> writer = Create(path);
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Append("new contents that are never committed").ok());
  writer.reset();
  EXPECT_THAT(dir.List(), ElementsAre("keep.txt"));
  EXPECT_EQ(ReadBytes(path), "old contents");
}

TEST(AtomicFileWriterTest, MissingDirectoryCreatesNothing) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<AtomicFileWriter>> writer =
      AtomicFileWriter::Create(dir.File("missing/out.txt"));
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.status().code(), absl::StatusCode::kNotFound) << writer.status();
  EXPECT_THAT(writer.status().message(), HasSubstr(dir.File("missing/out.txt")));
  EXPECT_TRUE(dir.List().empty());
}

TEST(AtomicFileWriterTest, PathsThatNameNoFileAreInvalid) {
  TempDir dir;
  for (const std::string& path :
       {std::string(""), dir.path() + "/", dir.path() + "/.", dir.path() + "/.."}) {
    absl::StatusOr<std::unique_ptr<AtomicFileWriter>> writer = AtomicFileWriter::Create(path);
    ASSERT_FALSE(writer.ok()) << path;
    EXPECT_EQ(writer.status().code(), absl::StatusCode::kInvalidArgument) << path;
  }
  EXPECT_TRUE(dir.List().empty());
}

TEST(AtomicFileWriterTest, FailedRenameRemovesTemporary) {
  TempDir dir;
  ASSERT_EQ(::mkdir(dir.File("target").c_str(), 0700), 0);
  WriteBytes(dir.File("target/inside"), "x");  // a non-empty directory cannot be replaced
  std::unique_ptr<AtomicFileWriter> writer = Create(dir.File("target"));
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Append("data").ok());
  const absl::Status status = writer->Commit();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr(dir.File("target")));
  EXPECT_THAT(dir.List(), ElementsAre("target"));
  EXPECT_EQ(ReadBytes(dir.File("target/inside")), "x");
}

// The file size limit makes write() fail (EFBIG) the way a full disk (ENOSPC) would.
TEST(AtomicFileWriterTest, WriteErrorReportsErrnoAndKeepsOldFile) {
  TempDir dir;
  const std::string path = dir.File("big.bin");
  WriteBytes(path, "previous");
  std::unique_ptr<AtomicFileWriter> writer = Create(path);
  ASSERT_NE(writer, nullptr);

  struct rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct rlimit limit = old_limit;
  limit.rlim_cur = 4096;
  void (*old_handler)(int) = ::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  const absl::Status status = writer->Append(std::string(8192, 'z'));
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);

  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr(std::strerror(EFBIG)));
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_THAT(dir.List(), ElementsAre("big.bin"));
  EXPECT_EQ(ReadBytes(path), "previous");
  // The writer stays failed.
  EXPECT_EQ(writer->Append("more"), status);
  EXPECT_EQ(writer->Commit(), status);
  EXPECT_EQ(ReadBytes(path), "previous");
}

}  // namespace
}  // namespace liger
