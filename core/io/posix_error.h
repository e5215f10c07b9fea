#pragma once

#include <string>

#include "absl/status/status.h"

namespace liger {

// The status for the current errno after a failed system call, as "<action> <path>: <strerror>"
// with the code absl derives from errno (ENOENT -> NOT_FOUND, EACCES -> PERMISSION_DENIED, ...).
// Reads errno before doing anything that might change it, so call it right after the failure.
absl::Status PosixError(const char* action, const std::string& path);

}  // namespace liger
