#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace liger {

// Builds a directory so that `final_path` either never appears or appears complete: files go into
// an empty temporary sibling ".<name>.partial-<random>", and Publish() fsyncs it and renames it to
// `final_path`. Unless published, the temporary directory and everything in it are removed when
// this object is destroyed. The object holds an flock(2) on its directory while it lives, so a
// process that dies without cleaning up (kill -9) leaves an unlocked one, which the next Create()
// for the same `final_path` removes; a locked one, of a live build, is never touched.
class StagingDirectory {
 public:
  // INVALID_ARGUMENT if `final_path` names no directory entry (empty, ".", ".."); ALREADY_EXISTS
  // if it exists (even as an empty directory); NOT_FOUND if its parent directory is missing,
  // FAILED_PRECONDITION if the parent is not a directory; other errno-derived codes otherwise.
  // Removes the abandoned staging directories of `final_path` first (failures to remove them are
  // not errors: they only cost space).
  static absl::StatusOr<std::unique_ptr<StagingDirectory>> Create(const std::string& final_path);

  ~StagingDirectory();
  StagingDirectory(const StagingDirectory&) = delete;
  StagingDirectory& operator=(const StagingDirectory&) = delete;

  // Renames the directory to final_path() and fsyncs its parent. ALREADY_EXISTS if something
  // appeared at final_path() meanwhile, which is left untouched. Only the first call can succeed.
  absl::Status Publish();

  // The temporary directory to fill.
  const std::string& path() const { return path_; }
  // `final_path` without trailing slashes.
  const std::string& final_path() const { return final_path_; }

 private:
  StagingDirectory(std::string path, std::string final_path, std::string parent, int lock_fd)
      : path_(std::move(path)),
        final_path_(std::move(final_path)),
        parent_(std::move(parent)),
        lock_fd_(lock_fd) {}

  std::string path_;
  std::string final_path_;
  std::string parent_;
  int lock_fd_;  // the open directory holding the flock; released by closing it
  bool published_ = false;
};

}  // namespace liger
