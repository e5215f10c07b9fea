#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace liger {

// A new session id: 128 bits from the kernel's CSPRNG (getrandom), as 32 lowercase hex digits, so
// ids can be neither guessed nor enumerated. INTERNAL if the kernel gives no random bytes.
absl::StatusOr<std::string> NewSessionId();

}  // namespace liger
