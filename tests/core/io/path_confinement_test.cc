// Requests' paths confined to the operator's roots: escapes by "..", by absolute paths and by
// symlinks are refused; paths inside, existing or not yet, resolve.
#include "core/io/path_confinement.h"

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/core/io/temp_dir.h"

namespace liger {
namespace {

namespace fs = std::filesystem;
using ::liger::testing::TempDir;

class PathConfinementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::canonical(temp_.path()) / "root";
    other_ = fs::canonical(temp_.path()) / "root2";  // shares the root's name as a prefix
    fs::create_directories(root_ / "models" / "tiny");
    fs::create_directories(other_ / "secret");
    absl::StatusOr<PathConfinement> paths = PathConfinement::Create({root_.string()});
    ASSERT_TRUE(paths.ok()) << paths.status();
    paths_ = *std::move(paths);
  }

  TempDir temp_;
  fs::path root_, other_;
  PathConfinement paths_;
};

TEST_F(PathConfinementTest, PathsInsideResolve) {
  EXPECT_EQ(*paths_.Resolve((root_ / "models" / "tiny").string()), (root_ / "models/tiny").string());
  EXPECT_EQ(*paths_.Resolve("models/tiny"), (root_ / "models/tiny").string());
  EXPECT_EQ(*paths_.Resolve("./models/./tiny"), (root_ / "models/tiny").string());
  // Outputs that do not exist yet.
  EXPECT_EQ(*paths_.Resolve("out/run-1"), (root_ / "out/run-1").string());
  EXPECT_EQ(*paths_.Resolve(root_.string()), root_.string());
  // A symlink that stays inside.
  fs::create_directory_symlink(root_ / "models", root_ / "link");
  EXPECT_EQ(*paths_.Resolve("link/tiny"), (root_ / "models/tiny").string());
}

TEST_F(PathConfinementTest, EscapesAreRefused) {
  EXPECT_EQ(paths_.Resolve("../root2/secret").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(paths_.Resolve("models/../models/tiny").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(paths_.Resolve((root_ / ".." / "root2").string()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(paths_.Resolve("/etc/passwd").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(paths_.Resolve((other_ / "secret").string()).status().code(),
            absl::StatusCode::kPermissionDenied);
  fs::create_directory_symlink(other_, root_ / "escape");
  EXPECT_EQ(paths_.Resolve("escape/secret").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(paths_.Resolve("escape/new-output").status().code(),
            absl::StatusCode::kPermissionDenied);
  fs::create_symlink("/etc/passwd", root_ / "passwd");
  EXPECT_EQ(paths_.Resolve("passwd").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(paths_.Resolve("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PathConfinementTest, SeveralRootsAndNone) {
  absl::StatusOr<PathConfinement> both = PathConfinement::Create({root_.string(), other_.string()});
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(*both->Resolve((other_ / "secret").string()), (other_ / "secret").string());
  EXPECT_EQ(*both->Resolve("models"), (root_ / "models").string());  // relative: the first root

  const PathConfinement open;
  EXPECT_FALSE(open.confined());
  EXPECT_EQ(*open.Resolve("../anything"), "../anything");
  EXPECT_EQ(open.Resolve("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PathConfinementTest, RootsMustBeExistingDirectories) {
  EXPECT_EQ(PathConfinement::Create({(root_ / "missing").string()}).status().code(),
            absl::StatusCode::kInvalidArgument);
  const fs::path file = root_ / "file";
  { std::ofstream(file.string()) << "x"; }
  EXPECT_EQ(PathConfinement::Create({file.string()}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace liger
