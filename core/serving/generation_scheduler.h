#pragma once

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/engine/step_logits.h"
#include "core/model/causal_lm.h"
#include "core/serving/active_generation.h"
#include "core/serving/generation_request.h"
#include "core/serving/scheduler_observer.h"
#include "core/tokenizer/tokenizer.h"

namespace liger {

struct SchedulerOptions {
  int max_batch_size = 32;         // streams decoded together in one step (>= 1)
  int max_queue_length = 256;      // requests waiting for admission (>= 1)
  int64_t max_prefill_tokens = 512;  // prompt tokens prefilled per iteration (>= 1)
  // Prompts of at most this many tokens that arrive while others decode join the batch at once
  // and are fed one token per decode step, instead of stalling every stream for a prefill (whose
  // cost on a GPU is mostly fixed, launch-bound, whatever the length). 0: always prefill.
  int64_t max_stepped_prompt_tokens = 64;
  // Per request (>= 1 each): Submit refuses a longer prompt or a larger max_new_tokens with
  // INVALID_ARGUMENT, so no single request can hold a batch slot or the prefill for long.
  int64_t max_prompt_tokens = 131072;
  int64_t max_new_tokens = 16384;
};

struct SchedulerLoad {
  int waiting = 0;  // submitted, not yet admitted
  int running = 0;  // admitted (prefilling or decoding), not yet ended
};

// Continuous batching for one model: concurrent requests decode together, one batched DecodeStep
// per iteration, and join or leave the batch between steps. Each iteration of the worker thread
//   1. ends requests that were cancelled or passed their deadline (within one step of the event),
//   2. admits waiting requests, oldest first, while batch slots are free (the request being
//      prefilled holds one): a short prompt (max_stepped_prompt_tokens) joins a running batch
//      directly, its tokens fed by the decode steps; any other prompt is prefilled, one request at a
//      time and one chunk (at most max_prefill_tokens) per iteration, so running streams wait at
//      most one chunk per step; its first token is sampled as soon as its prompt is in,
//   3. runs one DecodeStep over every running stream and samples each stream's next token through
//      its GenerationStream (the same code as Generate, so greedy output matches it).
// Thread-safe; callbacks run on the worker thread.
class GenerationScheduler {
 public:
  // model_name: the name sessions are tagged with (SessionInfo::model). The model, tokenizer and
  // observer (may be null) must outlive the scheduler. INVALID_ARGUMENT for options out of range.
  static absl::StatusOr<std::unique_ptr<GenerationScheduler>> Create(
      const CausalLM& model, const Tokenizer& tokenizer, std::string model_name,
      SchedulerOptions options, SchedulerObserver* observer);

  GenerationScheduler(const GenerationScheduler&) = delete;
  GenerationScheduler& operator=(const GenerationScheduler&) = delete;
  // Shutdown(absl::ZeroDuration()).
  ~GenerationScheduler();

  // Queues a request; its callbacks then report it (on_end exactly once). On error nothing is
  // called and the session lease, if any, is released unchanged: INVALID_ARGUMENT for bad options
  // or prompt (see GenerationStream::Create), either over its limit, or a lease not held, FAILED_PRECONDITION for a session
  // of another model, RESOURCE_EXHAUSTED when the queue is full, UNAVAILABLE once shutting down.
  absl::Status Submit(GenerationRequest request);

  // Stops accepting requests, lets queued and running ones go on until `grace` has passed, then
  // ends the rest (UNAVAILABLE; a session keeps every token sent) and waits for the worker to exit.
  // From a callback it only starts the shutdown, since the worker cannot wait for itself.
  void Shutdown(absl::Duration grace);

  SchedulerLoad load() const;

 private:
  GenerationScheduler(const CausalLM& model, const Tokenizer& tokenizer, std::string model_name,
                      SchedulerOptions options, SchedulerObserver* observer);

  void Run();
  // Waits for work and ends waiting requests that must stop; false once shut down with nothing
  // left.
  bool WaitForWork();
  // Stops running requests that were cancelled or passed their deadline (all, once draining ends).
  void StopDue();
  // Moves waiting requests, oldest first, to running_ (short prompts, while others decode) or
  // to prefilling_, while batch slots are free.
  void Admit();
  void PrefillStep();
  void DecodeStep();
  // How each running generation gets its next token from a decode step's logits [N, V].
  static constexpr int64_t kArgmaxRow = -1;    // the row's token is its argmax
  static constexpr int64_t kUnsampledRow = -2;  // nothing is sampled from the row
  struct StepChoices {
    std::vector<int64_t> full_rows;  // per generation: its row of full_logits, or one of the above
    torch::Tensor full_logits;       // on the CPU
    ArgmaxChoices argmax;
  };
  absl::StatusOr<StepChoices> Choose(const torch::Tensor& logits) const;
  // Hands every running generation's sampled tokens to its client (ActiveGeneration::DeliverTokens).
  void DeliverTokens();
  // Ends requests that need no more feeding.
  void EndFinished();
  void End(std::unique_ptr<ActiveGeneration> generation, const absl::Status& error);
  void NotifyLoadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const CausalLM& model_;
  const Tokenizer& tokenizer_;
  const std::string model_name_;
  const SchedulerOptions options_;
  SchedulerObserver* const observer_;

  mutable absl::Mutex mu_;
  std::deque<std::unique_ptr<ActiveGeneration>> waiting_ ABSL_GUARDED_BY(mu_);
  int running_count_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time drain_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();

  // The worker thread's own: whether the grace period is over, the request being prefilled, the
  // batch.
  bool draining_over_ = false;
  std::unique_ptr<ActiveGeneration> prefilling_;
  std::vector<std::unique_ptr<ActiveGeneration>> running_;

  absl::Mutex join_mu_;
  std::thread worker_ ABSL_GUARDED_BY(join_mu_);
  std::thread::id worker_id_;
};

}  // namespace liger
