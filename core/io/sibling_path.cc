#include "core/io/sibling_path.h"

#include <cerrno>
#include <cstdint>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/io/posix_error.h"

namespace liger {
namespace {

constexpr int kSiblingNameAttempts = 16;

uint64_t SiblingRandomSuffix() {
  std::random_device device;
  return (uint64_t{device()} << 32) ^ device();
}

}  // namespace

absl::StatusOr<SiblingPath> SplitSiblingPath(const std::string& path, absl::string_view what) {
  SiblingPath sibling;
  sibling.path = path;
  const size_t slash = path.rfind('/');
  sibling.name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (sibling.name.empty() || sibling.name == "." || sibling.name == "..") {
    return absl::InvalidArgumentError(absl::StrCat("\"", path, "\" does not name ", what));
  }
  if (slash == std::string::npos) {
    sibling.dir = ".";
  } else {
    sibling.prefix = path.substr(0, slash + 1);
    sibling.dir = slash == 0 ? "/" : path.substr(0, slash);
  }
  return sibling;
}

absl::StatusOr<std::string> CreateUniqueSibling(
    const SiblingPath& sibling, absl::string_view tag, absl::string_view what,
    const std::function<bool(const std::string& candidate)>& create) {
  // Built before any attempt so that nothing runs between a failure and reading its errno.
  const std::string action = absl::StrCat("cannot create ", what, " beside");
  for (int attempt = 0; attempt < kSiblingNameAttempts; ++attempt) {
    std::string candidate = absl::StrFormat("%s.%s.%s-%016x", sibling.prefix, sibling.name, tag,
                                            SiblingRandomSuffix());
    if (create(candidate)) return candidate;
    if (errno != EEXIST) return PosixError(action.c_str(), sibling.path);
  }
  return absl::AlreadyExistsError(
      absl::StrCat("cannot find an unused name for ", what, " beside ", sibling.path));
}

}  // namespace liger
