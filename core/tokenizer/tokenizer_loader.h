#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/tokenizer/tokenizer.h"

namespace liger {

// Loads a checkpoint directory's tokenizer: tokenizer.json (byte-level BPE) if present, else
// tokenizer.model (SentencePiece), with tokenizer_config.json's add_bos_token, add_eos_token,
// bos_token and eos_token applied when that file exists. NOT_FOUND if the directory or both
// tokenizer files are missing; INVALID_ARGUMENT for an empty or malformed file.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& model_dir);

}  // namespace liger
