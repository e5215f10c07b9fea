#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"

namespace liger {

// Called after each step of a copy with the bytes copied so far; a non-OK status stops the copy.
using CopyStepCallback = std::function<absl::Status(uint64_t bytes_copied)>;

// Copies the regular file `from` to the new file `to` (which must not exist) and fsyncs it. The
// kernel copies the bytes (copy_file_range) unless `use_kernel_copy` is false or the file systems
// cannot, in which case a read/write loop does. NOT_FOUND / PERMISSION_DENIED etc. from the system
// calls, naming the file; FAILED_PRECONDITION if `from` is not a regular file; DATA_LOSS if it
// changed size while being copied. On error `to` may be left partly written: the caller owns it.
absl::Status CopyFileDurably(const std::string& from, const std::string& to,
                             const CopyStepCallback& on_step = nullptr,
                             bool use_kernel_copy = true);

}  // namespace liger
