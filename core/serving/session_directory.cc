#include "core/serving/session_directory.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/io/crc32c.h"
#include "core/io/file_util.h"
#include "core/io/little_endian.h"
#include "core/io/posix_error.h"
#include "core/io/strict_json.h"
#include "core/serving/session_id.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

constexpr absl::string_view kSessionFileSuffix = ".session";
constexpr size_t kPrefixBytes = 16;  // magic, version, header length
// A header is a few hundred bytes; anything far larger is not one.
constexpr uint32_t kMaxHeaderBytes = 64 << 10;
// A state is at most a few hundred megabytes even for a KV-cache teacher at long context.
constexpr size_t kMaxSessionFileBytes = size_t{8} << 30;

nlohmann::json HeaderJson(const ParkedSession& session) {
  return {{"id", session.id},
          {"tenant", session.tenant},
          {"model", session.model},
          {"created_unix_ns", absl::ToUnixNanos(session.created)},
          {"last_used_unix_ns", absl::ToUnixNanos(session.last_used)},
          {"tokens", session.tokens},
          {"state_bytes", session.state_bytes}};
}

absl::StatusOr<ParkedSession> HeaderFromJson(const nlohmann::json& json, const std::string& path) {
  const auto bad = [&] { return absl::DataLossError(absl::StrCat(path, ": malformed header")); };
  if (!json.is_object() || json.size() != 7) return bad();
  for (const char* text : {"id", "tenant", "model"}) {
    if (!json.contains(text) || !json[text].is_string()) return bad();
  }
  for (const char* number : {"created_unix_ns", "last_used_unix_ns", "tokens", "state_bytes"}) {
    if (!json.contains(number) || !json[number].is_number_integer()) return bad();
  }
  ParkedSession session;
  session.id = json["id"].get<std::string>();
  session.tenant = json["tenant"].get<std::string>();
  session.model = json["model"].get<std::string>();
  session.created = absl::FromUnixNanos(json["created_unix_ns"].get<int64_t>());
  session.last_used = absl::FromUnixNanos(json["last_used_unix_ns"].get<int64_t>());
  session.tokens = json["tokens"].get<int64_t>();
  session.state_bytes = json["state_bytes"].get<int64_t>();
  if (!IsSessionId(session.id) || session.model.empty() || session.tokens < 0 ||
      session.state_bytes < 0) {
    return bad();
  }
  return session;
}

// Magic, version and header length from the first kPrefixBytes of a session file.
absl::StatusOr<uint32_t> HeaderLength(absl::string_view prefix, const std::string& path) {
  if (prefix.size() < kPrefixBytes) {
    return absl::DataLossError(absl::StrCat(path, ": truncated session"));
  }
  if (prefix.substr(0, kSessionFileMagic.size()) != kSessionFileMagic) {
    return absl::DataLossError(absl::StrCat(path, ": not a liger session"));
  }
  const uint32_t version = LoadLittleEndianU32(prefix, 8);
  if (version != kSessionFileVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": session format version ", version, "; this build reads version ",
        kSessionFileVersion));
  }
  const uint32_t length = LoadLittleEndianU32(prefix, 12);
  if (length > kMaxHeaderBytes) {
    return absl::DataLossError(absl::StrCat(path, ": header of ", length, " bytes"));
  }
  return length;
}

absl::StatusOr<ParkedSession> ParseHeader(absl::string_view text, const std::string& path) {
  LIGER_ASSIGN_OR_RETURN(nlohmann::json json, ParseStrictJson(std::string_view(text.data(), text.size()), path));
  return HeaderFromJson(json, path);
}

// Reads only the prefix and header, so listing a directory of large states stays cheap.
absl::StatusOr<ParkedSession> ReadHeader(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return PosixError("cannot open session file", path);
  std::string bytes(kPrefixBytes + kMaxHeaderBytes, '\0');
  size_t filled = 0;
  absl::Status status;
  while (filled < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + filled, bytes.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) status = PosixError("cannot read session file", path);
    if (n <= 0) break;
    filled += static_cast<size_t>(n);
  }
  ::close(fd);
  if (!status.ok()) return status;
  bytes.resize(filled);
  LIGER_ASSIGN_OR_RETURN(uint32_t length, HeaderLength(bytes, path));
  if (bytes.size() < kPrefixBytes + length) {
    return absl::DataLossError(absl::StrCat(path, ": truncated session file"));
  }
  return ParseHeader(absl::string_view(bytes).substr(kPrefixBytes, length), path);
}

}  // namespace

absl::StatusOr<std::unique_ptr<SessionDirectory>> SessionDirectory::Open(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("the session directory path is empty");
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return PosixError("cannot create the session directory", dir);
  }
  struct stat info;
  LIGER_ASSIGN_OR_RETURN(bool exists, StatIfExists(dir, &info));
  if (!exists || !S_ISDIR(info.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the session directory ", dir, " is not a directory"));
  }
  return std::unique_ptr<SessionDirectory>(new SessionDirectory(dir));
}

std::string SessionDirectory::PathOf(const std::string& id) const {
  return absl::StrCat(dir_, "/", id, kSessionFileSuffix);
}

std::string EncodeSession(const ParkedSession& session, absl::string_view state) {
  const std::string header = HeaderJson(session).dump();
  std::string bytes;
  bytes.reserve(kPrefixBytes + header.size() + state.size() + 4);
  absl::StrAppend(&bytes, kSessionFileMagic);
  AppendLittleEndianU32(bytes, kSessionFileVersion);
  AppendLittleEndianU32(bytes, static_cast<uint32_t>(header.size()));
  absl::StrAppend(&bytes, header, state);
  AppendLittleEndianU32(bytes, Crc32c(bytes));
  return bytes;
}

absl::StatusOr<std::pair<ParkedSession, std::string>> DecodeSession(absl::string_view bytes,
                                                                    const std::string& context) {
  LIGER_ASSIGN_OR_RETURN(uint32_t length, HeaderLength(bytes, context));
  if (bytes.size() < kPrefixBytes + length + 4) {
    return absl::DataLossError(absl::StrCat(context, ": truncated session"));
  }
  const absl::string_view body = bytes.substr(0, bytes.size() - 4);
  if (Crc32c(body) != LoadLittleEndianU32(bytes, body.size())) {
    return absl::DataLossError(absl::StrCat(context, ": checksum mismatch (the bytes are damaged)"));
  }
  LIGER_ASSIGN_OR_RETURN(ParkedSession session,
                         ParseHeader(body.substr(kPrefixBytes, length), context));
  return std::make_pair(std::move(session), std::string(body.substr(kPrefixBytes + length)));
}

absl::Status SessionDirectory::Write(const ParkedSession& session, absl::string_view state) const {
  return WriteFileAtomically(PathOf(session.id), EncodeSession(session, state));
}

absl::StatusOr<std::string> SessionDirectory::ReadState(const ParkedSession& session) const {
  const std::string path = PathOf(session.id);
  LIGER_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path, kMaxSessionFileBytes));
  LIGER_ASSIGN_OR_RETURN(auto stored, DecodeSession(bytes, path));
  if (stored.first.id != session.id || stored.first.tenant != session.tenant ||
      stored.first.model != session.model) {
    return absl::DataLossError(
        absl::StrCat(path, ": records another session than session ", session.id));
  }
  return std::move(stored.second);
}

absl::Status SessionDirectory::Remove(const std::string& id) const {
  const std::string path = PathOf(id);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return PosixError("cannot remove session file", path);
  }
  return absl::OkStatus();
}

absl::Status SessionDirectory::SetAside(const std::string& id) const {
  const std::string path = PathOf(id);
  if (::rename(path.c_str(), absl::StrCat(path, ".damaged").c_str()) != 0 && errno != ENOENT) {
    return PosixError("cannot set aside damaged session file", path);
  }
  return absl::OkStatus();
}

std::vector<ParkedSession> SessionDirectory::LoadAll(
    const std::function<void(const absl::Status&)>& on_error) const {
  std::vector<ParkedSession> sessions;
  std::error_code error;
  std::filesystem::directory_iterator it(dir_, error);
  for (; !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    // Hidden names are the atomic writer's temporary files (of a crash mid-write).
    if (absl::StartsWith(name, ".") || !absl::EndsWith(name, kSessionFileSuffix)) continue;
    const std::string path = it->path().string();
    absl::StatusOr<ParkedSession> session = ReadHeader(path);
    const std::string stem = name.substr(0, name.size() - kSessionFileSuffix.size());
    if (session.ok() && session->id != stem) {
      session = absl::DataLossError(
          absl::StrCat(path, ": records session \"", session->id, "\", not the one its name says"));
    }
    if (session.ok()) {
      sessions.push_back(*std::move(session));
    } else {
      on_error(session.status());
    }
  }
  if (error) {
    on_error(absl::InternalError(
        absl::StrCat("cannot list the session directory ", dir_, ": ", error.message())));
  }
  return sessions;
}

}  // namespace liger
