#include "core/convert/staging_directory.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <random>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/convert/file_copy.h"
#include "core/io/posix_error.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

constexpr int kStagingNameAttempts = 16;

uint64_t StagingRandomSuffix() {
  std::random_device device;
  return (uint64_t{device()} << 32) ^ device();
}

// False when nothing (not even a dangling symlink) is at `path`.
absl::StatusOr<bool> StagingEntryExists(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  return PosixError("cannot stat", path);
}

absl::Status StagingAlreadyExists(const std::string& path) {
  return absl::AlreadyExistsError(absl::StrCat(path, " already exists"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<StagingDirectory>> StagingDirectory::Create(
    const std::string& final_path) {
  std::string target = final_path;
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  const size_t slash = target.rfind('/');
  const std::string name = slash == std::string::npos ? target : target.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", final_path, "\" does not name a new directory"));
  }
  const std::string prefix = slash == std::string::npos ? "" : target.substr(0, slash + 1);
  const std::string parent = slash == std::string::npos ? "."
                             : slash == 0                ? "/"
                                                         : target.substr(0, slash);

  LIGER_ASSIGN_OR_RETURN(bool exists, StagingEntryExists(target));
  if (exists) return StagingAlreadyExists(target);
  struct stat st;
  if (::stat(parent.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat("the parent directory ", parent, " of ", target, " does not exist"));
    }
    return PosixError("cannot stat", parent);
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(parent, " is not a directory"));
  }

  for (int attempt = 0; attempt < kStagingNameAttempts; ++attempt) {
    std::string path =
        absl::StrFormat("%s.%s.partial-%016x", prefix, name, StagingRandomSuffix());
    if (::mkdir(path.c_str(), 0777) == 0) {
      return std::unique_ptr<StagingDirectory>(
          new StagingDirectory(std::move(path), std::move(target), parent));
    }
    if (errno != EEXIST) return PosixError("cannot create a staging directory beside", target);
  }
  return absl::AlreadyExistsError(
      absl::StrCat("cannot find an unused staging directory name beside ", target));
}

StagingDirectory::~StagingDirectory() {
  if (published_) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

absl::Status StagingDirectory::Publish() {
  if (published_) {
    return absl::FailedPreconditionError(absl::StrCat(final_path_, " is already published"));
  }
  LIGER_RETURN_IF_ERROR(FsyncDirectory(path_));
  // A plain rename() would silently replace an empty directory at final_path_.
  if (::renameat2(AT_FDCWD, path_.c_str(), AT_FDCWD, final_path_.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST) return StagingAlreadyExists(final_path_);
    if (errno != EINVAL) return PosixError(absl::StrCat("cannot rename ", path_, " to").c_str(),
                                           final_path_);
    // The file system cannot refuse to replace; check first, leaving only a narrow race.
    LIGER_ASSIGN_OR_RETURN(bool exists, StagingEntryExists(final_path_));
    if (exists) return StagingAlreadyExists(final_path_);
    if (::rename(path_.c_str(), final_path_.c_str()) != 0) {
      return PosixError(absl::StrCat("cannot rename ", path_, " to").c_str(), final_path_);
    }
  }
  published_ = true;
  return FsyncDirectory(parent_);
}

}  // namespace liger
