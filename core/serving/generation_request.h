#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/engine/generation_options.h"
#include "core/serving/cancellation_token.h"
#include "core/serving/session_lease.h"

namespace liger {

struct GenerationUsage {
  int64_t prompt_tokens = 0;     // prompt tokens this request prefilled
  int64_t generated_tokens = 0;  // tokens sent, the final EOS or stop token included
  int64_t state_tokens = 0;      // tokens the session's state holds at the end (0 without one)
};

// The last word on a request, sent once after its last token.
struct GenerationEnd {
  // OK when the generation ran to its finish reason. Otherwise why it ended early (the tokens
  // already sent stand): CANCELLED (the token was set), DEADLINE_EXCEEDED, UNAVAILABLE (shutdown),
  // RESOURCE_EXHAUSTED (the session no longer fit the budget and was deleted), or the model's error
  // (the session, whose state is then unusable, was deleted).
  absl::Status status;
  FinishReason finish_reason = FinishReason::kCancelled;
  GenerationUsage usage;
};

struct GenerationRequest {
  // The new tokens to feed (at least one): the whole prompt, or a session's next turn.
  std::vector<int32_t> prompt;
  GenerationOptions options;
  // Continue this session's state (which then holds prompt and output, every token sent included;
  // a request stopped while its long prompt goes in chunk by chunk keeps the chunks fed, as
  // GenerationUsage::state_tokens tells); without one, a fresh state is used and dropped.
  std::optional<SessionLease> session;
  std::shared_ptr<const CancellationToken> cancellation;  // may be null
  absl::Time deadline = absl::InfiniteFuture();
  // Called on the scheduler's worker thread, so they must be quick and must not call Shutdown.
  // on_end comes once, after the session's lease is released, so the session is usable again.
  std::function<void(const TokenEvent&)> on_token;
  std::function<void(const GenerationEnd&)> on_end;
};

}  // namespace liger
