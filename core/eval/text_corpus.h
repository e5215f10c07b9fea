#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace liger {

// Reads the "text" field of every line of a JSONL file. Errors name the file and the 1-based line:
// invalid JSON, a line that is not an object, a missing or non-string "text".
absl::StatusOr<std::vector<std::string>> ReadJsonlTexts(const std::string& path);

}  // namespace liger
