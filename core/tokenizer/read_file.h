#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace liger {

// Reads a whole tokenizer file: NOT_FOUND if it cannot be opened, DATA_LOSS if reading fails.
absl::StatusOr<std::string> ReadTokenizerFile(const std::string& path);

}  // namespace liger
