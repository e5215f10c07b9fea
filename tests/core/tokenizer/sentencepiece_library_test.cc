#include "core/tokenizer/sentencepiece_library.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/test_paths.h"

namespace liger {
namespace {

namespace fs = std::filesystem;

std::string BuildTreeShim() { return testing::BinaryDir() + "/lib/libliger_sentencepiece.so"; }

TEST(SentencePieceLibraryTest, GetFindsTheShimOnceForTheProcess) {
  absl::StatusOr<const SentencePieceLibrary*> first = SentencePieceLibrary::Get();
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<const SentencePieceLibrary*> second = SentencePieceLibrary::Get();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*first, *second);
}

TEST(SentencePieceLibraryTest, OpenResolvesEveryFunction) {
  absl::StatusOr<std::unique_ptr<SentencePieceLibrary>> library =
      SentencePieceLibrary::Open(BuildTreeShim());
  ASSERT_TRUE(library.ok()) << library.status();
  const SentencePieceLibrary::Api& api = (*library)->api();
  char* error = nullptr;
  EXPECT_EQ(api.create("junk", 4, &error), nullptr);
  ASSERT_NE(error, nullptr);
  api.free(error);
}

TEST(SentencePieceLibraryTest, MissingFileIsFailedPrecondition) {
  const std::string path = "/nonexistent/libliger_sentencepiece.so";
  absl::StatusOr<std::unique_ptr<SentencePieceLibrary>> library = SentencePieceLibrary::Open(path);
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(library.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(library.status().message().find(path), std::string::npos) << library.status();
}

TEST(SentencePieceLibraryTest, NonLibraryIsFailedPrecondition) {
  const fs::path path =
      fs::temp_directory_path() / ("liger_sp_not_a_library_" + std::to_string(::getpid()) + ".so");
  std::ofstream(path) << "not an ELF file";
  absl::StatusOr<std::unique_ptr<SentencePieceLibrary>> library =
      SentencePieceLibrary::Open(path.string());
  fs::remove(path);
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(library.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SentencePieceLibraryTest, LibraryWithoutShimFunctionsIsFailedPrecondition) {
  absl::StatusOr<std::unique_ptr<SentencePieceLibrary>> library =
      SentencePieceLibrary::Open("libm.so.6");
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(library.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(library.status().message().find("liger_sp_create"), std::string::npos)
      << library.status();
}

// Get() caches its result, so the environment variable is tested in fresh processes: the
// threadsafe death-test style re-executes this binary for the statement alone.
int GetWithShimVariable(const std::string& path) {
  setenv("LIGER_SENTENCEPIECE_SHIM", path.c_str(), 1);
  absl::StatusOr<const SentencePieceLibrary*> library = SentencePieceLibrary::Get();
  std::fprintf(stderr, "%s\n", library.status().ToString().c_str());
  return static_cast<int>(library.status().code());
}

TEST(SentencePieceLibraryDeathTest, EnvironmentVariableNamesTheShim) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(GetWithShimVariable(BuildTreeShim())), ::testing::ExitedWithCode(0), "OK");
  const std::string missing = "/nonexistent/custom_shim.so";
  EXPECT_EXIT(std::exit(GetWithShimVariable(missing)),
              ::testing::ExitedWithCode(static_cast<int>(absl::StatusCode::kFailedPrecondition)),
              missing);
}

}  // namespace
}  // namespace liger
