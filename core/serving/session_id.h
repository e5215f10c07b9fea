#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace liger {

// A new session id: 128 bits from the kernel's CSPRNG (getrandom), as 32 lowercase hex digits, so
// ids can be neither guessed nor enumerated. INTERNAL if the kernel gives no random bytes.
absl::StatusOr<std::string> NewSessionId();

// Whether `id` has NewSessionId's form, as an id read from a file or an import must (it names a
// file in the session directory).
bool IsSessionId(absl::string_view id);

}  // namespace liger
