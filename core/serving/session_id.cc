#include "core/serving/session_id.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace liger {
namespace {

constexpr size_t kSessionIdBytes = 16;

}  // namespace

bool IsSessionId(absl::string_view id) {
  if (id.size() != 2 * kSessionIdBytes) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::StatusOr<std::string> NewSessionId() {
  char bytes[kSessionIdBytes];
  size_t filled = 0;
  while (filled < kSessionIdBytes) {
    const ssize_t n = getrandom(bytes + filled, kSessionIdBytes - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(
          absl::StrCat("getrandom failed while making a session id: ", std::strerror(errno)));
    }
    filled += static_cast<size_t>(n);
  }
  return absl::BytesToHexString(absl::string_view(bytes, kSessionIdBytes));
}

}  // namespace liger
