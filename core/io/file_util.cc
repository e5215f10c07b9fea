#include "core/io/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "absl/strings/str_cat.h"
#include "core/io/atomic_file_writer.h"
#include "core/io/posix_error.h"

namespace liger {
namespace {

constexpr size_t kReadChunkBytes = size_t{1} << 20;

absl::Status TooLarge(const std::string& path, size_t max_bytes) {
  return absl::ResourceExhaustedError(
      absl::StrCat(path, " is larger than the limit of ", max_bytes, " bytes"));
}

// Reads to end of file; the size from fstat is only a hint (files in /proc report 0, and a file
// can grow while it is read).
absl::StatusOr<std::string> ReadAll(int fd, const std::string& path, size_t size_hint,
                                    size_t max_bytes) {
  std::string contents;
  contents.reserve(size_hint);
  std::unique_ptr<char[]> chunk(new char[kReadChunkBytes]);
  while (true) {
    const ssize_t n = ::read(fd, chunk.get(), kReadChunkBytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("cannot read", path);
    }
    if (n == 0) return contents;
    if (static_cast<size_t>(n) > max_bytes - contents.size()) return TooLarge(path, max_bytes);
    contents.append(chunk.get(), static_cast<size_t>(n));
  }
}

}  // namespace

absl::StatusOr<std::string> ReadFileToString(const std::string& path, size_t max_bytes) {
  // O_NONBLOCK so that opening a FIFO cannot hang waiting for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return PosixError("cannot open", path);
  absl::StatusOr<std::string> result;
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    result = PosixError("cannot stat", path);
  } else if (S_ISDIR(st.st_mode)) {
    result = absl::FailedPreconditionError(absl::StrCat(path, " is a directory, not a file"));
  } else if (!S_ISREG(st.st_mode)) {
    result = absl::FailedPreconditionError(absl::StrCat(path, " is not a regular file"));
  } else if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    result = TooLarge(path, max_bytes);
  } else {
    result = ReadAll(fd, path, static_cast<size_t>(st.st_size), max_bytes);
  }
  ::close(fd);
  return result;
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents) {
  absl::StatusOr<std::unique_ptr<AtomicFileWriter>> writer = AtomicFileWriter::Create(path);
  if (!writer.ok()) return writer.status();
  if (absl::Status status = (*writer)->Append(contents); !status.ok()) return status;
  return (*writer)->Commit();
}

absl::Status WriteNewFileDurably(const std::string& path, std::string_view contents) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) return PosixError("cannot create", path);
  if (absl::Status status = WriteFully(fd, contents, path); !status.ok()) {
    ::close(fd);
    return status;
  }
  return FsyncAndClose(fd, path);
}

absl::Status FsyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return PosixError("cannot open directory", dir);
  // Some file systems cannot sync directories (EINVAL); there is nothing more to do for them.
  absl::Status status;
  if (::fsync(fd) != 0 && errno != EINVAL) status = PosixError("cannot sync directory", dir);
  ::close(fd);
  return status;
}

absl::StatusOr<bool> StatIfExists(const std::string& path, struct stat* info, StatLinks links) {
  struct stat ignored;
  struct stat* st = info != nullptr ? info : &ignored;
  const int rc =
      links == StatLinks::kFollow ? ::stat(path.c_str(), st) : ::lstat(path.c_str(), st);
  if (rc == 0) return true;
  if (errno == ENOENT) return false;
  return PosixError("cannot stat", path);
}

absl::Status WriteFully(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return PosixError("cannot write", path);
    }
    bytes.remove_prefix(static_cast<size_t>(written));
  }
  return absl::OkStatus();
}

absl::Status FsyncAndClose(int fd, const std::string& path) {
  if (::fsync(fd) != 0) {
    absl::Status status = PosixError("cannot sync", path);
    ::close(fd);
    return status;
  }
  if (::close(fd) != 0) return PosixError("cannot write", path);
  return absl::OkStatus();
}

}  // namespace liger
