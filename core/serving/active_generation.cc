#include "core/serving/active_generation.h"

#include <algorithm>
#include <utility>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "core/engine/status_context.h"
#include "core/engine/step_logits.h"
#include "core/engine/token_tensor.h"

namespace liger {

ActiveGeneration::ActiveGeneration(GenerationRequest request, GenerationStream stream,
                                   absl::Time submitted, SchedulerObserver* observer)
    : request_(std::move(request)),
      stream_(std::move(stream)),
      observer_(observer),
      submitted_(submitted) {
  if (request_.session.has_value()) state_ = &request_.session->state();
}

absl::Status ActiveGeneration::StopReason(absl::Time now) const {
  if (request_.cancellation != nullptr && request_.cancellation->cancelled()) {
    return absl::CancelledError("the generation was cancelled");
  }
  if (now >= request_.deadline) {
    return absl::DeadlineExceededError("the generation passed its deadline");
  }
  return absl::OkStatus();
}

void ActiveGeneration::Stop(absl::Status reason) {
  if (!stopped()) stop_reason_ = std::move(reason);
}

void ActiveGeneration::Start(const CausalLM& model) {
  if (state_ != nullptr) return;
  owned_state_ = model.NewState();
  state_ = owned_state_.get();
}

absl::Status ActiveGeneration::Prefill(const CausalLM& model, int64_t max_tokens) {
  try {
    Start(model);
    const int64_t count = std::min(max_tokens, prompt_size() - prefilled_);
    absl::StatusOr<torch::Tensor> tokens =
        TokenTensor(absl::MakeConstSpan(request_.prompt).subspan(prefilled_, count));
    if (!tokens.ok()) return tokens.status();
    absl::StatusOr<torch::Tensor> logits = model.Prefill(*tokens, *state_, /*all_logits=*/false);
    if (!logits.ok()) return StatusWithContext(logits.status(), "prefill");
    prefilled_ += count;
    if (observer_ != nullptr) observer_->OnPromptTokens(count);
    if (!prefilled() || stream_.finished()) return absl::OkStatus();
    // Only the last chunk's logits are read, so only they are copied (and waited for).
    logits = HostLogits(*logits, "prefill");
    if (!logits.ok()) return logits.status();
    absl::Status sent = SampleAndSend(*logits, /*row=*/-1);
    DeliverTokens();  // the first token: nothing is queued on the device to overlap it with
    return sent;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("prefill: ", e.what_without_backtrace()));
  }
}

bool ActiveGeneration::NeedsFeed() const {
  if (!prefilled()) return !stopped();
  if (!pending_.has_value()) return false;
  return request_.session.has_value() || (!stopped() && !stream_.finished());
}

bool ActiveGeneration::SamplesAfterFeed() const {
  const bool last_of_prompt = !prefilled() && prefilled_ + 1 == prompt_size();
  return (prefilled() || last_of_prompt) && !stopped() && !stream_.finished();
}

void ActiveGeneration::Fed() {
  if (prefilled()) {
    pending_.reset();
    return;
  }
  ++prefilled_;
  if (observer_ != nullptr) observer_->OnPromptTokens(1);
}

absl::Status ActiveGeneration::Advance(const torch::Tensor& logits, int64_t row) {
  Fed();
  if (!ReadyToSample()) return absl::OkStatus();
  try {
    return SampleAndSend(logits, row);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("decode step: ", e.what_without_backtrace()));
  }
}

absl::Status ActiveGeneration::AdvanceChosen(int32_t token) {
  Fed();
  if (!ReadyToSample()) return absl::OkStatus();
  return Send(stream_.NextChosen(token));
}

absl::Status ActiveGeneration::SampleAndSend(const torch::Tensor& logits, int64_t row) {
  absl::StatusOr<torch::Tensor> row_logits =
      LogitsRow(logits, row, last_sent_.has_value() ? "decode step" : "prefill");
  if (!row_logits.ok()) return row_logits.status();
  return Send(stream_.Next(*row_logits));
}

absl::Status ActiveGeneration::Send(absl::StatusOr<TokenEvent> event) {
  if (!event.ok()) return event.status();
  pending_ = event->token_id;
  const absl::Time now = absl::Now();
  if (observer_ != nullptr) {
    if (last_sent_.has_value()) {
      observer_->OnInterToken(now - *last_sent_);
    } else {
      observer_->OnFirstToken(now - submitted_);
    }
    observer_->OnGeneratedTokens(1);
  }
  last_sent_ = now;
  undelivered_.push_back(*std::move(event));
  return absl::OkStatus();
}

void ActiveGeneration::DeliverTokens() {
  if (undelivered_.empty()) return;
  if (request_.on_token) {
    for (const TokenEvent& event : undelivered_) request_.on_token(event);
  }
  undelivered_.clear();
  // A client that cancels on seeing a token gets nothing after it, though the step that samples
  // the next one may already be running.
  if (request_.cancellation != nullptr && request_.cancellation->cancelled()) {
    Stop(absl::CancelledError("the generation was cancelled"));
  }
}

void ActiveGeneration::Finish(const absl::Status& error) {
  DeliverTokens();
  GenerationEnd end;
  // A stream that reached its own end is complete even if a stop came before its last feed.
  const bool complete = prefilled() && stream_.finished();
  end.status = !error.ok() ? error : complete ? absl::OkStatus() : stop_reason_;
  end.finish_reason = complete ? *stream_.finish_reason() : FinishReason::kCancelled;
  end.usage.prompt_tokens = prefilled_;
  end.usage.generated_tokens = static_cast<int64_t>(stream_.output().size());
  if (request_.session.has_value()) {
    if (!error.ok()) {
      request_.session->Discard();
    } else {
      end.usage.state_tokens = state_->tokens();
      // The session is gone if it no longer fits; that outweighs any other ending.
      if (absl::Status released = request_.session->Release(); !released.ok()) {
        end.status = released;
      }
    }
  }
  state_ = nullptr;
  owned_state_.reset();
  if (request_.on_end) request_.on_end(end);
}

}  // namespace liger
