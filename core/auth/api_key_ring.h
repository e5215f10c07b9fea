#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace liger {

// The API keys a server accepts and the tenant each belongs to. Keys come from a file (one
// `tenant key` pair per line; blank lines and lines starting with `#` are skipped) or from a
// string such as an environment variable (`tenant:key` pairs separated by commas). A file is
// reread when its modification time changes (checked at most once per `recheck` interval), so
// keys can be rotated without a restart; a reread that fails keeps the keys already loaded.
// Lookups compare the presented key with every key in constant time for its length, so the
// time a lookup takes says nothing about how much of a key was right.
class ApiKeyRing {
 public:
  struct Entry {
    std::string tenant;
    std::string key;
  };

  // INVALID_ARGUMENT for a malformed line, an empty tenant or key, a key shorter than
  // kMinKeyLength or a key listed twice; the file's read errors otherwise (see ReadFileToString).
  static absl::StatusOr<std::unique_ptr<ApiKeyRing>> FromFile(
      std::string path, absl::Duration recheck = absl::Seconds(1));
  static absl::StatusOr<std::unique_ptr<ApiKeyRing>> FromString(absl::string_view pairs);

  static constexpr size_t kMinKeyLength = 16;

  // The tenant of `key`, or UNAUTHENTICATED (the same message whether the key is unknown or
  // empty).
  absl::StatusOr<std::string> TenantOf(absl::string_view key) ABSL_LOCKS_EXCLUDED(mu_);

  // Rereads the file now (a ring made from a string has nothing to reread).
  absl::Status Reload() ABSL_LOCKS_EXCLUDED(mu_);

  size_t size() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  ApiKeyRing(std::string path, absl::Duration recheck, std::vector<Entry> entries,
             absl::Time modified);
  void ReloadIfChanged() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string path_;  // empty: from a string
  const absl::Duration recheck_;
  absl::Mutex mu_;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
  absl::Time modified_ ABSL_GUARDED_BY(mu_);
  absl::Time last_check_ ABSL_GUARDED_BY(mu_);
};

}  // namespace liger
