#include "core/io/posix_error.h"

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace liger {

absl::Status PosixError(const char* action, const std::string& path) {
  const int error = errno;
  return absl::ErrnoToStatus(error, absl::StrCat(action, " ", path));
}

}  // namespace liger
