#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace liger {

// The "type" string of a tokenizer.json component, or "" when it has none.
std::string JsonTypeOf(const nlohmann::json& component);

// An optional boolean field: `fallback` when absent or null, INVALID_ARGUMENT (prefixed by
// `context`) when present with another type.
absl::StatusOr<bool> OptionalJsonBool(const nlohmann::json& parent, const char* name, bool fallback,
                                      absl::string_view context);

}  // namespace liger
