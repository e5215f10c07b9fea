#include "core/convert/file_copy.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <random>
#include <string>
#include <vector>

#include "tests/core/io/temp_dir.h"
#include "tests/core/io/test_files.h"

namespace liger {
namespace {

using ::liger::testing::ReadBytes;
using ::liger::testing::TempDir;
using ::liger::testing::WriteBytes;

std::string RandomBytes(size_t n) {
  std::mt19937 random(7);
  std::string bytes(n, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  return bytes;
}

// The kernel path and the read/write fallback both copy exactly, including sizes that are not a
// multiple of the fallback's buffer, and empty files.
TEST(FileCopyTest, BothMethodsCopyExactly) {
  TempDir dir;
  for (size_t size : {size_t{0}, size_t{1}, size_t{(3 << 20) + 17}}) {
    const std::string bytes = RandomBytes(size);
    WriteBytes(dir.File("in"), bytes);
    for (bool kernel : {true, false}) {
      const std::string out = dir.File(kernel ? "kernel" : "fallback");
      std::vector<uint64_t> steps;
      absl::Status status = CopyFileDurably(
          dir.File("in"), out,
          [&steps](uint64_t copied) {
            steps.push_back(copied);
            return absl::OkStatus();
          },
          kernel);
      ASSERT_TRUE(status.ok()) << status;
      EXPECT_EQ(ReadBytes(out), bytes) << size << " kernel=" << kernel;
      if (size > 0) {
        ASSERT_FALSE(steps.empty());
        EXPECT_EQ(steps.back(), size);
      } else {
        EXPECT_TRUE(steps.empty());
      }
      ASSERT_EQ(std::remove(out.c_str()), 0);
    }
  }
}

TEST(FileCopyTest, ErrorsNameTheProblem) {
  TempDir dir;
  WriteBytes(dir.File("in"), "data");
  WriteBytes(dir.File("taken"), "old");
  EXPECT_EQ(CopyFileDurably(dir.File("in"), dir.File("taken")).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadBytes(dir.File("taken")), "old");
  EXPECT_EQ(CopyFileDurably(dir.File("missing"), dir.File("out")).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(CopyFileDurably(dir.path(), dir.File("out")).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_EQ(::mkfifo(dir.File("fifo").c_str(), 0600), 0);
  EXPECT_EQ(CopyFileDurably(dir.File("fifo"), dir.File("out")).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CopyFileDurably(dir.File("in"), dir.File("no/such/dir")).code(),
            absl::StatusCode::kNotFound);

  absl::Status stopped = CopyFileDurably(dir.File("in"), dir.File("stopped"),
                                         [](uint64_t) { return absl::CancelledError("stop"); });
  EXPECT_EQ(stopped.code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace liger
