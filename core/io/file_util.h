#pragma once

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

}  // namespace liger
