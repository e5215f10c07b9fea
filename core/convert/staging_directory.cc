#include "core/convert/staging_directory.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"
#include "core/io/posix_error.h"
#include "core/io/sibling_path.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

absl::Status StagingAlreadyExists(const std::string& path) {
  return absl::AlreadyExistsError(absl::StrCat(path, " already exists"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<StagingDirectory>> StagingDirectory::Create(
    const std::string& final_path) {
  std::string target = final_path;
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  LIGER_ASSIGN_OR_RETURN(SiblingPath sibling, SplitSiblingPath(target, "a new directory"));

  // kNoFollow: even a dangling symlink at `target` is in the way.
  LIGER_ASSIGN_OR_RETURN(bool exists, StatIfExists(target, nullptr, StatLinks::kNoFollow));
  if (exists) return StagingAlreadyExists(target);
  struct stat st;
  LIGER_ASSIGN_OR_RETURN(bool parent_exists, StatIfExists(sibling.dir, &st));
  if (!parent_exists) {
    return absl::NotFoundError(
        absl::StrCat("the parent directory ", sibling.dir, " of ", target, " does not exist"));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(sibling.dir, " is not a directory"));
  }

  LIGER_ASSIGN_OR_RETURN(std::string path,
                         CreateUniqueSibling(sibling, "partial", "a staging directory",
                                             [](const std::string& candidate) {
                                               return ::mkdir(candidate.c_str(), 0777) == 0;
                                             }));
  return std::unique_ptr<StagingDirectory>(
      new StagingDirectory(std::move(path), std::move(target), std::move(sibling.dir)));
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
    LIGER_ASSIGN_OR_RETURN(bool exists, StatIfExists(final_path_, nullptr, StatLinks::kNoFollow));
    if (exists) return StagingAlreadyExists(final_path_);
    if (::rename(path_.c_str(), final_path_.c_str()) != 0) {
      return PosixError(absl::StrCat("cannot rename ", path_, " to").c_str(), final_path_);
    }
  }
  published_ = true;
  return FsyncDirectory(parent_);
}

}  // namespace liger
