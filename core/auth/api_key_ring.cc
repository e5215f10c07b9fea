#include "core/auth/api_key_ring.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/io/file_util.h"

namespace liger {
namespace {

absl::Status CheckEntries(const std::vector<ApiKeyRing::Entry>& entries, absl::string_view source) {
  absl::flat_hash_set<std::string> keys;
  for (size_t i = 0; i < entries.size(); ++i) {
    const ApiKeyRing::Entry& e = entries[i];
    if (e.tenant.empty() || e.key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": entry ", i + 1, " needs both a tenant and a key"));
    }
    if (e.key.size() < ApiKeyRing::kMinKeyLength) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": the key of tenant \"", e.tenant,
                                                     "\" is shorter than ",
                                                     ApiKeyRing::kMinKeyLength, " characters"));
    }
    if (!keys.insert(e.key).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": a key is listed twice (tenant \"", e.tenant, "\")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ApiKeyRing::Entry>> ParseFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path, 16 << 20);
  if (!text.ok()) return text.status();
  std::vector<ApiKeyRing::Entry> entries;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", line_number, ": expected \"tenant key\", found ", fields.size(), " fields"));
    }
    entries.push_back({std::string(fields[0]), std::string(fields[1])});
  }
  if (absl::Status s = CheckEntries(entries, path); !s.ok()) return s;
  return entries;
}

absl::StatusOr<absl::Time> ModificationTime(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) {
    return absl::NotFoundError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  return absl::TimeFromTimespec(info.st_mtim);
}

// A key file's entries and the modification time they were read at.
struct KeyFile {
  std::vector<ApiKeyRing::Entry> entries;
  absl::Time modified;
};

// The stat comes first, so a change made while parsing is seen at the next check.
absl::StatusOr<KeyFile> LoadKeyFile(const std::string& path) {
  KeyFile file;
  absl::StatusOr<absl::Time> modified = ModificationTime(path);
  if (!modified.ok()) return modified.status();
  file.modified = *modified;
  absl::StatusOr<std::vector<ApiKeyRing::Entry>> entries = ParseFile(path);
  if (!entries.ok()) return entries.status();
  if (entries->empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no API keys"));
  file.entries = *std::move(entries);
  return file;
}

// Compares all of `presented` with all of `key` whatever differs first.
bool ConstantTimeEquals(absl::string_view presented, absl::string_view key) {
  unsigned char diff = presented.size() == key.size() ? 0 : 1;
  for (size_t i = 0; i < presented.size(); ++i) {
    const unsigned char k = key.empty() ? 0 : static_cast<unsigned char>(key[i % key.size()]);
    diff |= static_cast<unsigned char>(presented[i]) ^ k;
  }
  return diff == 0;
}

}  // namespace

ApiKeyRing::ApiKeyRing(std::string path, absl::Duration recheck, std::vector<Entry> entries,
                       absl::Time modified)
    : path_(std::move(path)),
      recheck_(recheck),
      entries_(std::move(entries)),
      modified_(modified),
      last_check_(absl::Now()) {}

absl::StatusOr<std::unique_ptr<ApiKeyRing>> ApiKeyRing::FromFile(std::string path,
                                                                 absl::Duration recheck) {
  absl::StatusOr<KeyFile> file = LoadKeyFile(path);
  if (!file.ok()) return file.status();
  return std::unique_ptr<ApiKeyRing>(
      new ApiKeyRing(std::move(path), recheck, std::move(file->entries), file->modified));
}

absl::StatusOr<std::unique_ptr<ApiKeyRing>> ApiKeyRing::FromString(absl::string_view pairs) {
  std::vector<Entry> entries;
  for (absl::string_view pair : absl::StrSplit(pairs, ',', absl::SkipWhitespace())) {
    pair = absl::StripAsciiWhitespace(pair);
    const size_t colon = pair.find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError("API keys: expected tenant:key pairs separated by commas");
    }
    entries.push_back({std::string(pair.substr(0, colon)), std::string(pair.substr(colon + 1))});
  }
  if (entries.empty()) return absl::InvalidArgumentError("API keys: none given");
  if (absl::Status s = CheckEntries(entries, "API keys"); !s.ok()) return s;
  return std::unique_ptr<ApiKeyRing>(
      new ApiKeyRing("", absl::InfiniteDuration(), std::move(entries), absl::InfinitePast()));
}

absl::StatusOr<std::string> ApiKeyRing::TenantOf(absl::string_view key) {
  ReloadIfChanged();
  absl::MutexLock lock(&mu_);
  const std::string* tenant = nullptr;
  for (const Entry& entry : entries_) {  // every entry, found or not
    if (ConstantTimeEquals(key, entry.key)) tenant = &entry.tenant;
  }
  if (key.empty() || tenant == nullptr) {
    return absl::UnauthenticatedError("a valid API key is required (Authorization: Bearer <key>)");
  }
  return *tenant;
}

absl::Status ApiKeyRing::Reload() {
  if (path_.empty()) return absl::OkStatus();
  absl::StatusOr<KeyFile> file = LoadKeyFile(path_);
  if (!file.ok()) return file.status();
  absl::MutexLock lock(&mu_);
  entries_ = std::move(file->entries);
  modified_ = file->modified;
  return absl::OkStatus();
}

void ApiKeyRing::ReloadIfChanged() {
  if (path_.empty()) return;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    if (now - last_check_ < recheck_) return;
    last_check_ = now;
    absl::StatusOr<absl::Time> modified = ModificationTime(path_);
    if (!modified.ok() || *modified == modified_) return;
  }
  Reload().IgnoreError();  // a broken file keeps the keys already loaded
}

size_t ApiKeyRing::size() {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace liger
