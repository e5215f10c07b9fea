#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace liger {

// A path split for creating hidden temporary entries beside it, which can then be renamed over it.
struct SiblingPath {
  std::string path;    // as given
  std::string dir;     // the directory holding it: "." for a bare name, "/" at the root
  std::string prefix;  // what precedes the name in `path`: `dir` and a slash, or nothing
  std::string name;    // the last component
};

// INVALID_ARGUMENT "\"<path>\" does not name <what>" if the last component of `path` is empty,
// "." or "..".
absl::StatusOr<SiblingPath> SplitSiblingPath(const std::string& path, absl::string_view what);

// Creates a new entry "<prefix>.<name>.<tag>-<16 random hex digits>" beside `sibling.path` with
// `create`, which returns false and leaves errno set on failure; a name already taken (EEXIST) is
// retried with fresh digits a few times. Returns the created path; on failure an errno-derived
// error "cannot create <what> beside <path>", or ALREADY_EXISTS if every name tried was taken.
absl::StatusOr<std::string> CreateUniqueSibling(
    const SiblingPath& sibling, absl::string_view tag, absl::string_view what,
    const std::function<bool(const std::string& candidate)>& create);

}  // namespace liger
