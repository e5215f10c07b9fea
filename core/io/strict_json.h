#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace liger {

// Parses `text` as one JSON value. Unlike plain nlohmann::json::parse it rejects an object that
// repeats a key (which would otherwise silently keep only one of the values). Strings must be
// valid UTF-8. Errors are DATA_LOSS, with messages that start with `context` (e.g. a file name).
absl::StatusOr<nlohmann::json> ParseStrictJson(std::string_view text, const std::string& context);

}  // namespace liger
