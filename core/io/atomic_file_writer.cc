#include "core/io/atomic_file_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"
#include "core/io/posix_error.h"
#include "core/io/sibling_path.h"
#include "core/util/status_macros.h"

namespace liger {

absl::StatusOr<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::Create(
    const std::string& path) {
  LIGER_ASSIGN_OR_RETURN(SiblingPath sibling, SplitSiblingPath(path, "a file"));
  int fd = -1;
  LIGER_ASSIGN_OR_RETURN(
      std::string temp_path,
      CreateUniqueSibling(sibling, "tmp", "a temporary file", [&fd](const std::string& candidate) {
        fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        return fd >= 0;
      }));
  return std::unique_ptr<AtomicFileWriter>(
      new AtomicFileWriter(path, std::move(sibling.dir), std::move(temp_path), fd));
}

AtomicFileWriter::AtomicFileWriter(std::string path, std::string dir, std::string temp_path, int fd)
    : path_(std::move(path)), dir_(std::move(dir)), temp_path_(std::move(temp_path)), fd_(fd) {}

AtomicFileWriter::~AtomicFileWriter() {
  if (!committed_) Discard();
}

absl::Status AtomicFileWriter::Append(std::string_view bytes) {
  if (!status_.ok()) return status_;
  if (committed_)
    return absl::FailedPreconditionError(absl::StrCat(path_, " is already committed"));
  if (absl::Status status = WriteFully(fd_, bytes, path_); !status.ok()) return Fail(status);
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::Commit() {
  if (!status_.ok()) return status_;
  if (committed_)
    return absl::FailedPreconditionError(absl::StrCat(path_, " is already committed"));
  if (absl::Status status = FsyncAndClose(std::exchange(fd_, -1), path_); !status.ok()) {
    return Fail(status);
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    return Fail(PosixError("cannot rename the temporary file over", path_));
  }
  committed_ = true;
  return FsyncDirectory(dir_);
}

absl::Status AtomicFileWriter::Fail(absl::Status status) {
  status_ = status;
  Discard();
  return status;
}

void AtomicFileWriter::Discard() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  if (!temp_path_.empty()) {
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
  }
}

}  // namespace liger
