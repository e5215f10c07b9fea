#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace liger {

// Keeps the paths that requests name (checkpoints, data, outputs) inside the directories the
// operator allows: a path with a `..` component is refused outright, and any other is resolved
// (made absolute, symlinks in its existing part followed) and must then lie inside a root, so
// neither an absolute path elsewhere nor a symlink that points out gets through. Without roots
// nothing is confined (the paths pass unchanged): the operator's choice for a trusted network.
// What is checked is the path at request time: the roots must not be writable by anyone who could
// plant a symlink afterwards.
class PathConfinement {
 public:
  // No roots: unconfined.
  PathConfinement() = default;
  // INVALID_ARGUMENT unless every root is an existing directory.
  static absl::StatusOr<PathConfinement> Create(const std::vector<std::string>& roots);

  bool confined() const { return !roots_.empty(); }

  // The path to use for `path`: unchanged when unconfined; otherwise resolved, with a relative
  // path taken from the first root. INVALID_ARGUMENT for an empty path or, when confined, a `..`
  // component; PERMISSION_DENIED when it resolves outside every root.
  absl::StatusOr<std::string> Resolve(absl::string_view path) const;

 private:
  explicit PathConfinement(std::vector<std::filesystem::path> roots) : roots_(std::move(roots)) {}

  std::vector<std::filesystem::path> roots_;  // canonical
};

}  // namespace liger
