#pragma once

#include <cstdint>

#include "absl/time/time.h"

namespace liger {

// Receives a GenerationScheduler's measurements, e.g. to export them as metrics. Calls come from
// the scheduler's worker thread and from Submit's callers (OnLoad, under the scheduler's lock, so
// successive values arrive in order), so implementations must be thread-safe, quick, and must not
// call back into the scheduler.
class SchedulerObserver {
 public:
  virtual ~SchedulerObserver() = default;

  // Requests waiting for admission and requests admitted (prefilling or decoding), after a change.
  virtual void OnLoad(int waiting, int running) = 0;
  // One batched decode step advanced batch_size streams.
  virtual void OnDecodeStep(int batch_size) = 0;
  // A request's first token was sent this long after it was submitted.
  virtual void OnFirstToken(absl::Duration time_to_first_token) = 0;
  // A request's later token was sent this long after its previous one.
  virtual void OnInterToken(absl::Duration inter_token_latency) = 0;
  // Prompt tokens were prefilled.
  virtual void OnPromptTokens(int64_t count) = 0;
  // Tokens were generated (sent to clients).
  virtual void OnGeneratedTokens(int64_t count) = 0;
};

}  // namespace liger
