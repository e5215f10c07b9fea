#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace liger::testing {

// A small tmpfs mounted for one test, to run code against a file system that fills up. Mounting
// needs CAP_SYS_ADMIN (root on the test machines); without it tests skip:
//
//   auto disk = TmpfsMount::Create(1 << 20);
//   if (absl::IsPermissionDenied(disk.status())) GTEST_SKIP() << disk.status();
//   ASSERT_TRUE(disk.ok()) << disk.status();
class TmpfsMount {
 public:
  // PERMISSION_DENIED when this process may not mount; other errno-derived errors otherwise.
  static absl::StatusOr<std::unique_ptr<TmpfsMount>> Create(uint64_t size_bytes) {
    std::string pattern = ::testing::TempDir() + "liger_tmpfs_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      return absl::ErrnoToStatus(errno, absl::StrCat("mkdtemp ", pattern));
    }
    const std::string options = absl::StrCat("size=", size_bytes, ",mode=0755");
    if (::mount("tmpfs", pattern.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      const int error = errno;
      ::rmdir(pattern.c_str());
      const absl::Status status = absl::ErrnoToStatus(
          error, absl::StrCat("cannot mount a tmpfs (", options, ") at ", pattern));
      // EPERM without CAP_SYS_ADMIN; some sandboxes answer EACCES.
      if (error == EPERM || error == EACCES) {
        return absl::PermissionDeniedError(
            absl::StrCat(status.message(), "; the full-disk tests need CAP_SYS_ADMIN (root)"));
      }
      return status;
    }
    return std::unique_ptr<TmpfsMount>(new TmpfsMount(pattern));
  }

  // Detached, so a file a failed test left open cannot keep the mount busy; its contents go with
  // it.
  ~TmpfsMount() {
    if (::umount2(path_.c_str(), MNT_DETACH) != 0) {
      ADD_FAILURE() << "cannot unmount " << path_ << ": " << std::strerror(errno);
    }
    ::rmdir(path_.c_str());
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

  // Writes the file "<path>/filler" until the file system is full (ENOSPC), so that the next
  // write of even one byte fails. Returns the bytes written.
  absl::StatusOr<uint64_t> Fill() {
    const std::string filler = File(kFillerName);
    const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", filler));
    const std::string block(4096, 'f');
    uint64_t written = 0;
    while (true) {
      const ssize_t n = ::write(fd, block.data(), block.size());
      if (n > 0) {
        written += static_cast<uint64_t>(n);
        continue;
      }
      const int error = n < 0 ? errno : EIO;  // a write of 0 bytes would loop forever
      if (error == EINTR) continue;
      ::close(fd);
      if (error == ENOSPC) return written;
      return absl::ErrnoToStatus(error, absl::StrCat("write ", filler));
    }
  }

  // Removes what Fill() wrote.
  void Free() { ::unlink(File(kFillerName).c_str()); }

  static constexpr char kFillerName[] = "filler";

 private:
  explicit TmpfsMount(std::string path) : path_(std::move(path)) {}

  std::string path_;
};

}  // namespace liger::testing
