// API keys from a file or a string: lookups, refusals, and rotation by rewriting the file.
#include "core/auth/api_key_ring.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/core/io/temp_dir.h"

namespace liger {
namespace {

namespace fs = std::filesystem;
using ::liger::testing::TempDir;

constexpr char kKeyA[] = "a-0123456789abcdef";
constexpr char kKeyB[] = "b-fedcba9876543210";

// Writes `text` to `path` and moves its modification time `age_seconds` into the past, so that
// two writes within one clock tick still look different.
void WriteKeys(const fs::path& path, const std::string& text, int age_seconds) {
  std::ofstream(path, std::ios::trunc) << text;
  fs::last_write_time(path, fs::file_time_type::clock::now() - std::chrono::seconds(age_seconds));
}

TEST(ApiKeyRingTest, FileKeysMapToTheirTenants) {
  TempDir temp;
  const fs::path file = fs::path(temp.path()) / "keys";
  WriteKeys(file, std::string("# tenant key\n\nalpha ") + kKeyA + "\n  beta\t" + kKeyB + "  \n", 10);
  absl::StatusOr<std::unique_ptr<ApiKeyRing>> ring = ApiKeyRing::FromFile(file.string());
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_EQ((*ring)->size(), 2u);
  EXPECT_EQ(*(*ring)->TenantOf(kKeyA), "alpha");
  EXPECT_EQ(*(*ring)->TenantOf(kKeyB), "beta");
}

TEST(ApiKeyRingTest, UnknownEmptyAndPartialKeysAreUnauthenticated) {
  absl::StatusOr<std::unique_ptr<ApiKeyRing>> ring =
      ApiKeyRing::FromString(std::string("alpha:") + kKeyA);
  ASSERT_TRUE(ring.ok()) << ring.status();
  const std::string key = kKeyA;
  for (const std::string& wrong : {std::string(), key.substr(0, key.size() - 1), key + "x",
                                   std::string(kKeyB), std::string("alpha")}) {
    EXPECT_EQ((*ring)->TenantOf(wrong).status().code(), absl::StatusCode::kUnauthenticated) << wrong;
  }
  EXPECT_EQ(*(*ring)->TenantOf(key), "alpha");
}

TEST(ApiKeyRingTest, MalformedKeysAreRefused) {
  TempDir temp;
  const fs::path file = fs::path(temp.path()) / "keys";
  for (const std::string& text :
       {std::string("alpha\n"), std::string("alpha ") + kKeyA + " extra\n",
        std::string("alpha short\n"), std::string("alpha ") + kKeyA + "\nbeta " + kKeyA + "\n",
        std::string("# only comments\n")}) {
    WriteKeys(file, text, 10);
    EXPECT_EQ(ApiKeyRing::FromFile(file.string()).status().code(),
              absl::StatusCode::kInvalidArgument)
        << text;
  }
  EXPECT_EQ(ApiKeyRing::FromFile((fs::path(temp.path()) / "missing").string()).status().code(),
            absl::StatusCode::kNotFound);
  for (const char* pairs : {"", "alpha", ":0123456789abcdef01", "alpha:short"}) {
    EXPECT_EQ(ApiKeyRing::FromString(pairs).status().code(), absl::StatusCode::kInvalidArgument)
        << pairs;
  }
}

TEST(ApiKeyRingTest, RewrittenFileRotatesKeysAndABrokenOneKeepsThem) {
  TempDir temp;
  const fs::path file = fs::path(temp.path()) / "keys";
  WriteKeys(file, std::string("alpha ") + kKeyA + "\n", 20);
  absl::StatusOr<std::unique_ptr<ApiKeyRing>> ring =
      ApiKeyRing::FromFile(file.string(), absl::ZeroDuration());
  ASSERT_TRUE(ring.ok()) << ring.status();
  ASSERT_TRUE((*ring)->TenantOf(kKeyA).ok());

  WriteKeys(file, std::string("beta ") + kKeyB + "\n", 10);  // alpha's key revoked, beta's added
  EXPECT_EQ((*ring)->TenantOf(kKeyA).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(*(*ring)->TenantOf(kKeyB), "beta");

  WriteKeys(file, "beta\n", 5);  // broken: the loaded keys stay
  EXPECT_EQ(*(*ring)->TenantOf(kKeyB), "beta");
  EXPECT_EQ((*ring)->Reload().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*(*ring)->TenantOf(kKeyB), "beta");
}

}  // namespace
}  // namespace liger
