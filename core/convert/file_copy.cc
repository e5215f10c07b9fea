#include "core/convert/file_copy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"
#include "core/io/posix_error.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

// Progress is reported after each step; 256 MiB keeps a multi-GB shard's reports a few seconds apart.
constexpr size_t kFileCopyStepBytes = size_t{256} << 20;
constexpr size_t kFileCopyBufferBytes = size_t{1} << 20;

// Owns a file descriptor.
class FileCopyFd {
 public:
  explicit FileCopyFd(int fd) : fd_(fd) {}
  ~FileCopyFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileCopyFd(const FileCopyFd&) = delete;
  FileCopyFd& operator=(const FileCopyFd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Errors meaning "copy_file_range cannot do this pair of files" rather than an I/O failure.
bool KernelCopyUnsupported(int error) {
  return error == ENOSYS || error == EXDEV || error == EINVAL || error == EOPNOTSUPP;
}

// Copies up to one step through a user-space buffer; 0 at end of file.
absl::StatusOr<size_t> ReadWriteStep(int in, int out, char* buffer, const std::string& from,
                                     const std::string& to) {
  size_t total = 0;
  while (total < kFileCopyStepBytes) {
    const ssize_t n = ::read(in, buffer, kFileCopyBufferBytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("cannot read", from);
    }
    if (n == 0) break;
    LIGER_RETURN_IF_ERROR(WriteFully(out, std::string_view(buffer, static_cast<size_t>(n)), to));
    total += static_cast<size_t>(n);
  }
  return total;
}

}  // namespace

absl::Status CopyFileDurably(const std::string& from, const std::string& to,
                             const CopyStepCallback& on_step, bool use_kernel_copy) {
  // O_NONBLOCK so that a FIFO in place of a file cannot hang the open.
  FileCopyFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (in.get() < 0) return PosixError("cannot open", from);
  struct stat st;
  if (::fstat(in.get(), &st) != 0) return PosixError("cannot stat", from);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(from, " is not a regular file"));
  }
  FileCopyFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
  if (out.get() < 0) return PosixError("cannot create", to);

  const uint64_t expected = static_cast<uint64_t>(st.st_size);
  uint64_t copied = 0;
  bool kernel = use_kernel_copy;
  std::unique_ptr<char[]> buffer;
  while (true) {
    size_t step = 0;
    if (kernel) {
      const ssize_t n =
          ::copy_file_range(in.get(), nullptr, out.get(), nullptr, kFileCopyStepBytes, 0);
      if (n < 0 && errno == EINTR) continue;
      // The file offsets advance with each call, so the fallback resumes where this stopped. Some
      // file systems also report 0 before the real end of file.
      if ((n < 0 && KernelCopyUnsupported(errno)) || (n == 0 && copied < expected)) {
        kernel = false;
        continue;
      }
      if (n < 0) return PosixError(absl::StrCat("cannot copy ", from, " to").c_str(), to);
      step = static_cast<size_t>(n);
    } else {
      if (!buffer) buffer.reset(new char[kFileCopyBufferBytes]);
      LIGER_ASSIGN_OR_RETURN(step, ReadWriteStep(in.get(), out.get(), buffer.get(), from, to));
    }
    if (step == 0) break;
    copied += step;
    if (on_step) LIGER_RETURN_IF_ERROR(on_step(copied));
  }
  if (copied != expected) {
    return absl::DataLossError(absl::StrCat(from, " changed size while being copied (", expected,
                                            " bytes before, ", copied, " copied)"));
  }
  return FsyncAndClose(out.release(), to);
}

}  // namespace liger
