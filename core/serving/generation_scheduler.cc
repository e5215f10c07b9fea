#include "core/serving/generation_scheduler.h"

#include <algorithm>
#include <system_error>
#include <utility>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "core/engine/generation_stream.h"
#include "core/engine/status_context.h"
#include "core/engine/step_logits.h"
#include "core/engine/token_tensor.h"

namespace liger {
namespace {

absl::Status SchedulerShutdownError() {
  return absl::UnavailableError("the server is shutting down");
}

template <typename T>
void EraseNullGenerations(std::vector<std::unique_ptr<T>>& items) {
  items.erase(std::remove(items.begin(), items.end(), nullptr), items.end());
}

}  // namespace

absl::StatusOr<std::unique_ptr<GenerationScheduler>> GenerationScheduler::Create(
    const CausalLM& model, const Tokenizer& tokenizer, std::string model_name,
    SchedulerOptions options, SchedulerObserver* observer) {
  if (options.max_batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_batch_size = ", options.max_batch_size, " must be >= 1"));
  }
  if (options.max_queue_length < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_queue_length = ", options.max_queue_length, " must be >= 1"));
  }
  if (options.max_prefill_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_prefill_tokens = ", options.max_prefill_tokens, " must be >= 1"));
  }
  if (options.max_prompt_tokens < 1 || options.max_new_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_prompt_tokens = ", options.max_prompt_tokens, " and max_new_tokens = ",
                     options.max_new_tokens, " must be >= 1"));
  }
  if (options.max_stepped_prompt_tokens < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_stepped_prompt_tokens = ", options.max_stepped_prompt_tokens, " must be >= 0"));
  }
  std::unique_ptr<GenerationScheduler> scheduler(
      new GenerationScheduler(model, tokenizer, std::move(model_name), options, observer));
  try {
    absl::MutexLock lock(&scheduler->join_mu_);
    scheduler->worker_ = std::thread([s = scheduler.get()] { s->Run(); });
    scheduler->worker_id_ = scheduler->worker_.get_id();
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat("starting the generation scheduler's thread: ", e.what()));
  }
  return scheduler;
}

GenerationScheduler::GenerationScheduler(const CausalLM& model, const Tokenizer& tokenizer,
                                         std::string model_name, SchedulerOptions options,
                                         SchedulerObserver* observer)
    : model_(model),
      tokenizer_(tokenizer),
      model_name_(std::move(model_name)),
      options_(options),
      observer_(observer) {}

GenerationScheduler::~GenerationScheduler() { Shutdown(absl::ZeroDuration()); }

absl::Status GenerationScheduler::Submit(GenerationRequest request) {
  if (static_cast<int64_t>(request.prompt.size()) > options_.max_prompt_tokens) {
    return absl::InvalidArgumentError(
        absl::StrCat("the prompt has ", request.prompt.size(), " tokens, more than the ",
                     options_.max_prompt_tokens, " a request may have on this server"));
  }
  if (request.options.max_new_tokens > options_.max_new_tokens) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_new_tokens = ", request.options.max_new_tokens, " is more than the ",
                     options_.max_new_tokens, " a request may ask for on this server"));
  }
  int64_t state_tokens = 0;
  if (request.session.has_value()) {
    if (!request.session->held()) {
      return absl::InvalidArgumentError("the request's session lease is not held");
    }
    if (request.session->model() != model_name_) {
      return absl::FailedPreconditionError(
          absl::StrCat("session ", request.session->id(), " holds a state of model \"",
                       request.session->model(), "\", not of \"", model_name_, "\""));
    }
    state_tokens = request.session->state().tokens();
  }
  absl::StatusOr<GenerationStream> stream = GenerationStream::Create(
      model_, tokenizer_, request.prompt, request.options, state_tokens);
  if (!stream.ok()) return stream.status();
  auto generation = std::make_unique<ActiveGeneration>(std::move(request), *std::move(stream),
                                                       absl::Now(), observer_);
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return SchedulerShutdownError();
  if (static_cast<int>(waiting_.size()) >= options_.max_queue_length) {
    return absl::ResourceExhaustedError(
        absl::StrCat(waiting_.size(), " requests are already waiting for model \"", model_name_,
                     "\", as many as the queue holds; retry later"));
  }
  waiting_.push_back(std::move(generation));
  NotifyLoadLocked();
  return absl::OkStatus();
}

void GenerationScheduler::Shutdown(absl::Duration grace) {
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    drain_deadline_ = std::min(drain_deadline_, absl::Now() + grace);
  }
  if (std::this_thread::get_id() == worker_id_) return;
  absl::MutexLock lock(&join_mu_);
  if (worker_.joinable()) worker_.join();
}

SchedulerLoad GenerationScheduler::load() const {
  absl::MutexLock lock(&mu_);
  return SchedulerLoad{static_cast<int>(waiting_.size()), running_count_};
}

void GenerationScheduler::Run() {
  while (WaitForWork()) {
    StopDue();
    EndFinished();  // frees the slots of stopped requests before admitting
    Admit();
    // A prefill holds this thread for a while: tokens already sampled do not wait behind it.
    if (prefilling_ != nullptr) DeliverTokens();
    PrefillStep();
    DecodeStep();
    EndFinished();
  }
}

bool GenerationScheduler::WaitForWork() {
  std::vector<std::pair<std::unique_ptr<ActiveGeneration>, absl::Status>> dropped;
  {
    absl::MutexLock lock(&mu_);
    const bool local_work = prefilling_ != nullptr || !running_.empty();
    const auto has_work = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return local_work || !waiting_.empty() || shutting_down_;
    };
    mu_.Await(absl::Condition(&has_work));
    if (!local_work && waiting_.empty()) return false;  // shutting down with nothing left
    const absl::Time now = absl::Now();
    draining_over_ = shutting_down_ && now >= drain_deadline_;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      absl::Status reason = draining_over_ ? SchedulerShutdownError() : (*it)->StopReason(now);
      if (reason.ok()) {
        ++it;
      } else {
        dropped.emplace_back(std::move(*it), std::move(reason));
        it = waiting_.erase(it);
      }
    }
    if (!dropped.empty()) NotifyLoadLocked();
  }
  for (auto& [generation, reason] : dropped) {
    generation->Stop(std::move(reason));
    generation->Finish(absl::OkStatus());
  }
  return true;
}

void GenerationScheduler::Admit() {
  std::vector<std::unique_ptr<ActiveGeneration>> stepped;
  bool admitted = false;
  {
    absl::MutexLock lock(&mu_);
    const auto occupied = [&] {
      return running_.size() + stepped.size() + (prefilling_ != nullptr ? 1 : 0);
    };
    while (!waiting_.empty() && occupied() < static_cast<size_t>(options_.max_batch_size)) {
      std::unique_ptr<ActiveGeneration>& next = waiting_.front();
      if (!running_.empty() && next->prompt_size() <= options_.max_stepped_prompt_tokens) {
        stepped.push_back(std::move(next));
      } else if (prefilling_ == nullptr) {
        prefilling_ = std::move(next);
      } else {
        break;  // oldest first: no overtaking the prompt that waits for the prefill
      }
      waiting_.pop_front();
      ++running_count_;
      admitted = true;
    }
    if (admitted) NotifyLoadLocked();
  }
  for (auto& generation : stepped) {
    try {
      generation->Start(model_);
    } catch (const c10::Error& e) {
      End(std::move(generation),
          absl::InternalError(absl::StrCat("new state: ", e.what_without_backtrace())));
      continue;
    }
    running_.push_back(std::move(generation));
  }
}

void GenerationScheduler::StopDue() {
  const absl::Time now = absl::Now();
  const auto stop_if_due = [&](ActiveGeneration& generation) {
    absl::Status reason = draining_over_ ? SchedulerShutdownError() : generation.StopReason(now);
    if (!reason.ok()) generation.Stop(std::move(reason));
  };
  if (prefilling_ != nullptr) stop_if_due(*prefilling_);
  for (const auto& generation : running_) stop_if_due(*generation);
}

void GenerationScheduler::PrefillStep() {
  if (prefilling_ == nullptr) return;
  if (!prefilling_->stopped()) {
    if (absl::Status s = prefilling_->Prefill(model_, options_.max_prefill_tokens); !s.ok()) {
      End(std::move(prefilling_), s);
      return;
    }
    if (!prefilling_->prefilled()) return;  // the next chunk goes in next iteration
  }
  if (prefilling_->NeedsFeed()) {
    running_.push_back(std::move(prefilling_));
  } else {
    End(std::move(prefilling_), absl::OkStatus());
  }
}

void GenerationScheduler::DecodeStep() {
  if (running_.empty()) return;
  std::vector<ModelState*> states;
  std::vector<int32_t> tokens;
  states.reserve(running_.size());
  tokens.reserve(running_.size());
  for (const auto& generation : running_) {
    states.push_back(generation->state());
    tokens.push_back(generation->pending_token());
  }
  absl::StatusOr<torch::Tensor> logits = TokenTensor(tokens);
  if (logits.ok()) logits = model_.DecodeStep(states, *logits);
  // A GPU step returns once queued (Choose waits for it): the previous step's tokens go to their
  // clients while it runs. A CPU step returns when done: its tokens go out at the end of this call.
  const bool step_is_async = model_.device().is_cuda();
  if (step_is_async) DeliverTokens();
  absl::StatusOr<StepChoices> choices =
      logits.ok() ? Choose(*logits) : StatusWithContext(logits.status(), "decode step");
  if (!choices.ok()) {
    // Every state in the batch may have been partly advanced: none can go on.
    const absl::Status& error = choices.status();
    for (auto& generation : running_) End(std::move(generation), error);
    running_.clear();
    return;
  }
  if (observer_ != nullptr) observer_->OnDecodeStep(static_cast<int>(running_.size()));
  for (size_t b = 0; b < running_.size(); ++b) {
    ActiveGeneration& generation = *running_[b];
    const int64_t full_row = choices->full_rows[b];
    absl::Status s;
    if (full_row >= 0) {
      s = generation.Advance(choices->full_logits, full_row);
    } else if (full_row == kArgmaxRow) {
      s = generation.AdvanceChosen(choices->argmax.tokens[b]);
    } else {
      generation.AdvanceUnsampled();
    }
    if (!s.ok()) End(std::move(running_[b]), s);
  }
  EraseNullGenerations(running_);
  if (!step_is_async) DeliverTokens();
}

absl::StatusOr<GenerationScheduler::StepChoices> GenerationScheduler::Choose(
    const torch::Tensor& logits) const {
  StepChoices choices;
  const auto n = static_cast<int64_t>(running_.size());
  choices.full_rows.assign(n, kArgmaxRow);
  std::vector<int64_t> full;  // rows whose whole distribution goes to the host
  int64_t greedy = -1;        // a row that needs only the argmax
  for (int64_t b = 0; b < n; ++b) {
    if (!running_[b]->SamplesAfterFeed()) {
      choices.full_rows[b] = kUnsampledRow;
    } else if (running_[b]->NeedsLogits()) {
      full.push_back(b);
    } else if (greedy < 0) {
      greedy = b;
    }
  }
  if (greedy >= 0) {
    // Greedy rows are chosen where the logits are; only their ids cross to the host. Every stream
    // has the model's tokenizer, so one vocabulary and one set of EOS ids serve them all.
    std::vector<bool> masks_eos(n);
    for (int64_t b = 0; b < n; ++b) masks_eos[b] = running_[b]->MasksEos();
    const ActiveGeneration& any = *running_[greedy];
    absl::StatusOr<ArgmaxChoices> argmax =
        LogitsArgmax(logits, any.vocab(), any.eos_ids(), masks_eos, "decode step");
    if (!argmax.ok()) return argmax.status();
    choices.argmax = *std::move(argmax);
    for (int64_t b = 0; b < n; ++b) {
      if (choices.full_rows[b] == kArgmaxRow && !running_[b]->NeedsLogits() &&
          !choices.argmax.usable[b]) {
        full.push_back(b);
      }
    }
    std::sort(full.begin(), full.end());
  }
  if (!full.empty()) {
    absl::StatusOr<torch::Tensor> rows;
    try {
      rows = static_cast<int64_t>(full.size()) == n
                 ? logits
                 : logits.index_select(0, torch::tensor(full, torch::kInt64).to(logits.device()));
    } catch (const c10::Error& e) {
      return absl::InternalError(absl::StrCat("selecting logits rows: ", e.what_without_backtrace()));
    }
    absl::StatusOr<torch::Tensor> host = HostLogits(rows, "decode step");
    if (!host.ok()) return host.status();
    choices.full_logits = *std::move(host);
    for (size_t i = 0; i < full.size(); ++i) choices.full_rows[full[i]] = static_cast<int64_t>(i);
  }
  return choices;
}

void GenerationScheduler::DeliverTokens() {
  for (const auto& generation : running_) generation->DeliverTokens();
}

void GenerationScheduler::EndFinished() {
  for (auto& generation : running_) {
    if (!generation->NeedsFeed()) End(std::move(generation), absl::OkStatus());
  }
  EraseNullGenerations(running_);
}

void GenerationScheduler::End(std::unique_ptr<ActiveGeneration> generation,
                              const absl::Status& error) {
  {
    absl::MutexLock lock(&mu_);
    --running_count_;
    NotifyLoadLocked();
  }
  generation->Finish(error);
}

void GenerationScheduler::NotifyLoadLocked() {
  if (observer_ != nullptr) {
    observer_->OnLoad(static_cast<int>(waiting_.size()), running_count_);
  }
}

}  // namespace liger
