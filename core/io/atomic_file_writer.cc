#include "core/io/atomic_file_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/io/posix_error.h"

namespace liger {
namespace {

constexpr int kMaxNameAttempts = 16;

uint64_t RandomSuffix() {
  std::random_device device;
  return (uint64_t{device()} << 32) ^ device();
}

// Makes the directory entry of a just-renamed file durable.
absl::Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return PosixError("cannot open directory", dir);
  // Some file systems cannot sync directories (EINVAL); there is nothing more to do for them.
  absl::Status status;
  if (::fsync(fd) != 0 && errno != EINVAL) status = PosixError("cannot sync directory", dir);
  ::close(fd);
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::Create(
    const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") {
    return absl::InvalidArgumentError(absl::StrCat("\"", path, "\" does not name a file"));
  }
  std::string dir;
  std::string prefix;  // `dir` with its trailing slash, empty for the working directory
  if (slash == std::string::npos) {
    dir = ".";
  } else {
    prefix = path.substr(0, slash + 1);
    dir = slash == 0 ? "/" : path.substr(0, slash);
  }

  for (int attempt = 0; attempt < kMaxNameAttempts; ++attempt) {
    std::string temp_path = absl::StrFormat("%s.%s.tmp-%016x", prefix, name, RandomSuffix());
    const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      return std::unique_ptr<AtomicFileWriter>(
          new AtomicFileWriter(path, std::move(dir), std::move(temp_path), fd));
    }
    if (errno != EEXIST) {
      return PosixError("cannot create a temporary file for", path);
    }
  }
  return absl::AlreadyExistsError(
      absl::StrCat("cannot find an unused temporary file name for ", path));
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
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd_, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return Fail(PosixError("cannot write", path_));
    }
    bytes.remove_prefix(static_cast<size_t>(written));
  }
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::Commit() {
  if (!status_.ok()) return status_;
  if (committed_)
    return absl::FailedPreconditionError(absl::StrCat(path_, " is already committed"));
  if (::fsync(fd_) != 0) return Fail(PosixError("cannot sync", path_));
  const int fd = std::exchange(fd_, -1);
  // close() can report deferred write errors (e.g. on network file systems).
  if (::close(fd) != 0) return Fail(PosixError("cannot write", path_));
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    return Fail(PosixError("cannot rename the temporary file over", path_));
  }
  committed_ = true;
  return SyncDirectory(dir_);
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
