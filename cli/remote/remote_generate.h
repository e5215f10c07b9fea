#pragma once

#include <string>

#include "absl/status/status.h"
#include "liger/v1/liger.pb.h"

namespace liger::cli {

// `liger generate --server`: runs `request` on the server at `server` (HOST:PORT) and prints what
// the local command prints: the prompt's text, the generated text as it streams in, a newline,
// and with `print_ids` an "ids: ..." line. A text prompt is tokenized by the server first, with
// the special tokens a one-shot request or a session's first turn gets, so the printed prompt and
// the one generated from are the same tokens.
absl::Status RunRemoteGenerate(const std::string& server, v1::GenerateRequest request,
                               bool print_ids);

}  // namespace liger::cli
