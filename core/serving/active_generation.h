#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/engine/generation_stream.h"
#include "core/model/causal_lm.h"
#include "core/serving/generation_request.h"
#include "core/serving/scheduler_observer.h"

namespace liger {

// One admitted request inside a GenerationScheduler: its stream, its state (the session's, or a
// fresh one made at admission) and how far it got. A token is sent as soon as it is sampled and fed
// in the next decode step; the last token is fed only into a session's state, so that the state
// holds every token sent. Only the scheduler's worker thread touches it.
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

  // Feeds up to max_tokens more prompt tokens (the first call makes a fresh state when there is no
  // session); once the whole prompt is in, samples and sends the first token.
  absl::Status Prefill(const CausalLM& model, int64_t max_tokens);
  bool prefilled() const { return prefilled_ == static_cast<int64_t>(request_.prompt.size()); }

  // Whether the next decode step must feed pending_token(): to go on sampling, or so that a
  // session's state holds every token sent. Once prefilled and this is false, the request is over.
  bool NeedsFeed() const;
  int32_t pending_token() const { return *pending_; }
  ModelState* state() const { return state_; }

  // The decode step fed pending_token(); row `row` of logits [N, V] (on the CPU, see HostLogits)
  // follows it. Samples and sends the next token unless the request is over.
  absl::Status Advance(const torch::Tensor& logits, int64_t row);

  // Whether Advance needs the logits row, or AdvanceChosen with the row's argmax over the first
  // vocab() columns (skipping eos_ids() while MasksEos()) will do; see GenerationStream.
  bool NeedsLogits() const { return !stopped() && !stream_.finished() && stream_.NeedsLogits(); }
  bool MasksEos() const { return stream_.MasksEos(); }
  absl::Span<const int32_t> eos_ids() const { return stream_.eos_ids(); }
  int64_t vocab() const { return stream_.vocab(); }
  // As Advance, with that argmax already taken.
  absl::Status AdvanceChosen(int32_t token);

  // Ends the request: releases the session (deletes it after an error, whose state is unusable),
  // then sends the final event. `error` is OK unless a step failed.
  void Finish(const absl::Status& error);

 private:
  // row as in LogitsRow: -1 is the last.
  absl::Status SampleAndSend(const torch::Tensor& logits, int64_t row);
  // Sends the token event the stream produced and keeps its token for the next feed.
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
};

}  // namespace liger
