#pragma once

#include "absl/strings/string_view.h"

namespace liger {

// The credentials of an `Authorization` header (HTTP, or gRPC's `authorization` metadata) in the
// form `Bearer <token>` (the scheme in any case, spaces around the token ignored); empty for any
// other form.
absl::string_view BearerToken(absl::string_view authorization);

}  // namespace liger
