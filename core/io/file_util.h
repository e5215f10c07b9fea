#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace liger {

// The contents of the regular file `path`. NOT_FOUND if it is missing, PERMISSION_DENIED if it
// cannot be read, FAILED_PRECONDITION for a directory or other non-regular file, RESOURCE_EXHAUSTED
// if it is larger than `max_bytes`.
absl::StatusOr<std::string> ReadFileToString(const std::string& path,
                                             size_t max_bytes = 1ull << 30);

// Replaces `path` with `contents` atomically (see AtomicFileWriter): on failure the previous file,
// if any, is left untouched.
absl::Status WriteFileAtomically(const std::string& path, std::string_view contents);

// Creates the new file `path` (ALREADY_EXISTS if something is there), writes `contents` and
// fsyncs it; the directory entry is not synced (see FsyncDirectory). Errors name the file; on
// error `path` may be left partly written: the caller owns it.
absl::Status WriteNewFileDurably(const std::string& path, std::string_view contents);

// Makes the entries of directory `dir` (created, renamed files) durable.
absl::Status FsyncDirectory(const std::string& dir);

// Whether StatIfExists looks through a symbolic link at the path itself.
enum class StatLinks { kFollow, kNoFollow };

// Whether anything is at `path`, filling `*info` (if not null) when it is. Only ENOENT means
// absent, so with kFollow a dangling symlink is absent and with kNoFollow it is present; other
// failures are errno-derived errors naming the path.
absl::StatusOr<bool> StatIfExists(const std::string& path, struct stat* info = nullptr,
                                  StatLinks links = StatLinks::kFollow);

// Writes all of `bytes` to `fd`, retrying short writes; errors name `path`.
absl::Status WriteFully(int fd, std::string_view bytes, const std::string& path);

// Fsyncs and closes `fd` (closed even on error); close() can report deferred write errors (e.g.
// on network file systems), so its failure is an error too. Errors name `path`.
absl::Status FsyncAndClose(int fd, const std::string& path);

}  // namespace liger
