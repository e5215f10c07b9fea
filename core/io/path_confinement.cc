#include "core/io/path_confinement.h"

#include <algorithm>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace liger {
namespace {

namespace fs = std::filesystem;

// Whether `path` is `root` or below it, component by component ("/data2" is not below "/data").
bool IsWithin(const fs::path& path, const fs::path& root) {
  auto p = path.begin();
  for (auto r = root.begin(); r != root.end(); ++r, ++p) {
    if (r->empty()) continue;  // a trailing separator
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<PathConfinement> PathConfinement::Create(const std::vector<std::string>& roots) {
  std::vector<fs::path> canonical;
  for (const std::string& root : roots) {
    std::error_code error;
    fs::path resolved = fs::canonical(root, error);
    if (error || !fs::is_directory(resolved, error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("path root \"", root, "\" is not an existing directory",
                       error ? absl::StrCat(": ", error.message()) : ""));
    }
    canonical.push_back(std::move(resolved));
  }
  return PathConfinement(std::move(canonical));
}

absl::StatusOr<std::string> PathConfinement::Resolve(absl::string_view path) const {
  if (path.empty()) return absl::InvalidArgumentError("the path is empty");
  if (!confined()) return std::string(path);
  const fs::path requested{std::string(path)};
  if (std::any_of(requested.begin(), requested.end(),
                  [](const fs::path& part) { return part == ".."; })) {
    return absl::InvalidArgumentError(
        absl::StrCat("path \"", path, "\" has a \"..\" component; name it from an allowed root"));
  }
  std::error_code error;
  const fs::path resolved =
      fs::weakly_canonical(requested.is_absolute() ? requested : roots_.front() / requested, error);
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve path \"", path, "\": ", error.message()));
  }
  for (const fs::path& root : roots_) {
    if (IsWithin(resolved, root)) return resolved.string();
  }
  std::vector<std::string> names;
  for (const fs::path& root : roots_) names.push_back(root.string());
  return absl::PermissionDeniedError(absl::StrCat("path \"", path, "\" is outside the allowed roots (",
                                                  absl::StrJoin(names, ", "), ")"));
}

}  // namespace liger
