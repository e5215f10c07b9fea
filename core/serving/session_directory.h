#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace liger {

// What a parked session's file says about it, besides its state.
struct ParkedSession {
  std::string id;
  std::string tenant;
  std::string model;
  absl::Time created;
  absl::Time last_used;
  int64_t tokens = 0;
  int64_t state_bytes = 0;  // the state's tensor bytes once restored
};

// A session as bytes: the format of a parked session's file and of ExportSession's stream.
// Format, version 1 (integers little-endian):
//   magic     8 bytes, kSessionFileMagic
//   version   u32, kSessionFileVersion
//   header    u32 byte length, then that much JSON: {"id", "tenant", "model", "created_unix_ns",
//             "last_used_unix_ns", "tokens", "state_bytes"}
//   state     the bytes SerializeState made (which carry the model's fingerprint)
//   checksum  u32 CRC-32C of everything before it
std::string EncodeSession(const ParkedSession& session, absl::string_view state);

// The header and the state bytes of EncodeSession's output. DATA_LOSS (messages start with
// `context`) for truncated, damaged or malformed bytes; FAILED_PRECONDITION for another version.
absl::StatusOr<std::pair<ParkedSession, std::string>> DecodeSession(absl::string_view bytes,
                                                                    const std::string& context);

// The --session-dir of a server: one file per parked session, "<id>.session" in EncodeSession's
// format, each written atomically, so a crash leaves every session's previous file or its new one,
// never a torn one. Start-up reads only the headers (a directory may hold gigabytes of states);
// the checksum is checked when a state is read back.
class SessionDirectory {
 public:
  // Creates `dir` if it is missing (its parent must exist). INVALID_ARGUMENT for an empty path,
  // FAILED_PRECONDITION if something other than a directory is there.
  static absl::StatusOr<std::unique_ptr<SessionDirectory>> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }

  // Replaces the session's file. On error (e.g. RESOURCE_EXHAUSTED for a full disk) the previous
  // file, if any, is untouched.
  absl::Status Write(const ParkedSession& session, absl::string_view state) const;

  // The state bytes of the session's file. NOT_FOUND if it is gone; DATA_LOSS if it is truncated,
  // fails its checksum or records another session than `session`.
  absl::StatusOr<std::string> ReadState(const ParkedSession& session) const;

  // Removes the session's file (OK if there is none).
  absl::Status Remove(const std::string& id) const;

  // Renames a damaged session file to "<id>.session.damaged", out of the way of later starts but
  // kept for an operator (OK if there is none).
  absl::Status SetAside(const std::string& id) const;

  // The headers of every session file. A file that cannot be read or parsed, or whose id does not
  // match its name, is skipped after being reported to `on_error`; it stays for an operator.
  std::vector<ParkedSession> LoadAll(
      const std::function<void(const absl::Status&)>& on_error) const;

 private:
  explicit SessionDirectory(std::string dir) : dir_(std::move(dir)) {}

  std::string PathOf(const std::string& id) const;

  const std::string dir_;
};

inline constexpr absl::string_view kSessionFileMagic = "LIGERSES";
inline constexpr uint32_t kSessionFileVersion = 1;

}  // namespace liger
