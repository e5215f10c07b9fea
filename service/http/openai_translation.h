#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/engine/generation_options.h"
#include "core/serving/generation_request.h"
#include "core/serving/session_info.h"

// The OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions) <-> core types: request
// JSON to a prompt and GenerationOptions, events to response and server-sent-event JSON, and
// absl::Status to HTTP statuses with OpenAI's error body.
namespace liger::service::http {

struct CompletionRequest {
  std::string model;   // "" = the only loaded model
  std::string prompt;  // a chat request's messages as one transcript (see ParseCompletionRequest)
  bool chat = false;
  bool stream = false;
  GenerationOptions options;
};

// Parses a /v1/completions body (chat = false: "prompt", a string) or a /v1/chat/completions body
// (chat = true: "messages", [{"role", "content"}], rendered as "Role: content" lines followed by
// "Assistant:", since the service applies no model-specific chat template). Fields and defaults are
// OpenAI's: max_tokens (or max_completion_tokens; 16 for completions, 256 for chat), temperature
// (1), top_p, seed, stop (a string or a list), presence_penalty, frequency_penalty, stream; n, if
// given, must be 1. Unknown fields are ignored. INVALID_ARGUMENT naming the field that is wrong.
absl::StatusOr<CompletionRequest> ParseCompletionRequest(absl::string_view body, bool chat);

// What the responses carry besides the text.
struct CompletionIdentity {
  std::string id;
  std::string model;
  int64_t created = 0;  // Unix seconds
};

// One server-sent event's JSON for a token's text delta (finish_reason null).
std::string ChunkJson(const CompletionIdentity& identity, bool chat, const std::string& delta);
// The last event's JSON: no text, the finish reason and the usage.
std::string FinalChunkJson(const CompletionIdentity& identity, bool chat, const GenerationEnd& end);
// The whole (non-streamed) response.
std::string CompletionJson(const CompletionIdentity& identity, bool chat, const std::string& text,
                           const GenerationEnd& end);

// A session as the HTTP API shows it: {"id", "object": "session", "model", "tokens",
// "state_bytes"}.
std::string SessionJson(const SessionInfo& session);

// The model named by an optional {"model": string} body ("" when absent or empty).
absl::StatusOr<std::string> ModelFromBody(absl::string_view body);

// HTTP status for a failed request, and OpenAI's error body for it.
int HttpStatusFor(const absl::Status& status);
std::string ErrorJson(const absl::Status& status);

}  // namespace liger::service::http
