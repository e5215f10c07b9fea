#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/engine/generation_stream.h"
#include "core/model/causal_lm.h"
#include "core/serving/generation_request.h"
#include "core/serving/scheduler_observer.h"

namespace liger {

// One admitted request inside a GenerationScheduler: its stream, its state (the session's, or a
// fresh one made at admission) and how far it got. A token is sent once it is sampled (handed to
// the request's on_token by DeliverTokens, which the scheduler calls after queueing the next decode
// step, so that the client's messages are written while the device runs it) and fed in the next
// decode step; the last token is fed only into a session's state, so that the state holds every
// token sent. Only the scheduler's worker thread touches it.
class ActiveGeneration {
 public:
  // observer may be null.
  ActiveGeneration(GenerationRequest request, GenerationStream stream, absl::Time submitted,
                   SchedulerObserver* observer);

  // OK, or why the request must stop now: CANCELLED or DEADLINE_EXCEEDED.
  absl::Status StopReason(absl::Time now) const;
  // Samples nothing more; a session still gets the token last sent (see NeedsFeed).
  void Stop(absl::Status reason);
  bool stopped() const { return !stop_reason_.ok(); }

  // Makes the fresh state of a request without a session; before the first feed. May throw
  // c10::Error.
  void Start(const CausalLM& model);

  // Feeds up to max_tokens more prompt tokens (starting the request first); once the whole prompt
  // is in, samples and sends the first token.
  absl::Status Prefill(const CausalLM& model, int64_t max_tokens);
  bool prefilled() const { return prefilled_ == prompt_size(); }
  int64_t prompt_size() const { return static_cast<int64_t>(request_.prompt.size()); }

  // Whether the next decode step must feed pending_token(): a prompt token not yet prefilled (a
  // prompt can also be fed through decode steps, one token each), a token to go on sampling from,
  // or the last token sent, so that a session's state holds every token sent. Once this is false
  // the request is over.
  bool NeedsFeed() const;
  int32_t pending_token() const { return prefilled() ? *pending_ : request_.prompt[prefilled_]; }
  ModelState* state() const { return state_; }
  // Whether the decode step that feeds pending_token() gives a token to sample: after the
  // prompt's last token or a sampled one, unless the request is over.
  bool SamplesAfterFeed() const;

  // The decode step fed pending_token() and row `row` of logits [N, V] (on the CPU, see
  // HostLogits) follows it; samples and sends the next token if SamplesAfterFeed() was true.
  absl::Status Advance(const torch::Tensor& logits, int64_t row);
  // As Advance, for a row with nothing to sample.
  void AdvanceUnsampled() { Fed(); }

  // Whether Advance needs the logits row, or AdvanceChosen with the row's argmax over the first
  // vocab() columns (skipping eos_ids() while MasksEos()) will do; see GenerationStream.
  bool NeedsLogits() const { return SamplesAfterFeed() && stream_.NeedsLogits(); }
  bool MasksEos() const { return stream_.MasksEos(); }
  absl::Span<const int32_t> eos_ids() const { return stream_.eos_ids(); }
  int64_t vocab() const { return stream_.vocab(); }
  // As Advance, with that argmax already taken.
  absl::Status AdvanceChosen(int32_t token);

  // Hands the tokens sent since the last call to the request's on_token, in order.
  void DeliverTokens();

  // Ends the request: delivers its tokens, releases the session (deletes it after an error, whose
  // state is unusable), then sends the final event. `error` is OK unless a step failed.
  void Finish(const absl::Status& error);

 private:
  // Records that pending_token() went into the state.
  void Fed();
  bool ReadyToSample() const { return prefilled() && !stopped() && !stream_.finished(); }
  // row as in LogitsRow: -1 is the last.
  absl::Status SampleAndSend(const torch::Tensor& logits, int64_t row);
  // Sends the token event the stream produced (for DeliverTokens) and keeps its token for the
  // next feed.
  absl::Status Send(absl::StatusOr<TokenEvent> event);

  GenerationRequest request_;
  GenerationStream stream_;
  SchedulerObserver* const observer_;
  std::unique_ptr<ModelState> owned_state_;  // the fresh state of a request without a session
  ModelState* state_ = nullptr;
  int64_t prefilled_ = 0;           // prompt tokens fed so far
  std::optional<int32_t> pending_;  // sent but not yet fed
  absl::Status stop_reason_;
  const absl::Time submitted_;
  std::optional<absl::Time> last_sent_;
  std::vector<TokenEvent> undelivered_;
};

}  // namespace liger
