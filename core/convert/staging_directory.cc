#include "core/convert/staging_directory.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"
#include "core/io/posix_error.h"
#include "core/io/sibling_path.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

constexpr char kStagingTag[] = "partial";
constexpr size_t kStagingRandomDigits = 16;  // CreateUniqueSibling's suffix
// A fresh directory is lost to a concurrent cleanup only in the instant before it is locked.
constexpr int kStagingCreateAttempts = 4;

absl::Status StagingAlreadyExists(const std::string& path) {
  return absl::AlreadyExistsError(absl::StrCat(path, " already exists"));
}

// Whether `entry` is a name CreateUniqueSibling gives the staging directories of `name`.
bool IsStagingDirectoryName(const std::string& entry, const std::string& name) {
  const std::string prefix = absl::StrCat(".", name, ".", kStagingTag, "-");
  if (entry.size() != prefix.size() + kStagingRandomDigits || !absl::StartsWith(entry, prefix)) {
    return false;
  }
  for (size_t i = prefix.size(); i < entry.size(); ++i) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(entry[i]))) return false;
  }
  return true;
}

int OpenStagingDirectory(const std::string& path) {
  return ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

// Removes the staging directories of `sibling` that no StagingDirectory holds any more. Ownership
// is an flock rather than a pid (and start time) written into the name: the kernel releases the
// lock however the owner dies, and a lock cannot be fooled by pid reuse or by an owner in another
// pid namespace (containers sharing a volume). A file system that cannot flock a directory (NFS
// by default) refuses the lock here too, so its staging directories are left alone, never
// misjudged.
void RemoveAbandonedStagingDirectories(const SiblingPath& sibling) {
  std::error_code error;
  std::filesystem::directory_iterator it(sibling.dir, error);
  for (; !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    const std::string entry = it->path().filename().string();
    if (!IsStagingDirectoryName(entry, sibling.name)) continue;
    const std::string path = sibling.prefix + entry;
    const int fd = OpenStagingDirectory(path);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
    ::close(fd);
  }
}

// Whether `path` still names the directory open as `fd`.
bool StillNamesDirectory(int fd, const std::string& path) {
  struct stat opened, named;
  return ::fstat(fd, &opened) == 0 && ::lstat(path.c_str(), &named) == 0 &&
         opened.st_dev == named.st_dev && opened.st_ino == named.st_ino;
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

  RemoveAbandonedStagingDirectories(sibling);
  for (int attempt = 0; attempt < kStagingCreateAttempts; ++attempt) {
    LIGER_ASSIGN_OR_RETURN(std::string path,
                           CreateUniqueSibling(sibling, kStagingTag, "a staging directory",
                                               [](const std::string& candidate) {
                                                 return ::mkdir(candidate.c_str(), 0777) == 0;
                                               }));
    const int fd = OpenStagingDirectory(path);
    if (fd < 0) {
      if (errno == ENOENT) continue;  // removed by another Create()'s cleanup before the lock
      absl::Status status = PosixError("cannot open the staging directory", path);
      ::rmdir(path.c_str());
      return status;
    }
    int locked;
    do {
      locked = ::flock(fd, LOCK_EX);
    } while (locked != 0 && errno == EINTR);
    // Unlocked on a file system without flock: no cleanup can take the directory then either.
    if (locked == 0 && !StillNamesDirectory(fd, path)) {
      ::close(fd);
      continue;
    }
    return std::unique_ptr<StagingDirectory>(
        new StagingDirectory(std::move(path), std::move(target), std::move(sibling.dir), fd));
  }
  return absl::AbortedError(
      absl::StrCat("the staging directory beside ", target, " kept being removed by other builds"));
}

StagingDirectory::~StagingDirectory() {
  if (!published_) {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ::close(lock_fd_);
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
