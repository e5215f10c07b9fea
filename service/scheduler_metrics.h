#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/serving/scheduler_observer.h"
#include "service/metrics/registry.h"

namespace liger::service {

// The generation metrics of every model's scheduler, labelled by model:
//   liger_time_to_first_token_seconds{model}    submission to first token
//   liger_inter_token_latency_seconds{model}    between a request's successive tokens
//   liger_prompt_tokens_total{model}            prompt tokens prefilled
//   liger_generated_tokens_total{model}         tokens sent to clients
//   liger_generation_requests_running{model}    admitted requests (prefilling or decoding)
//   liger_generation_requests_waiting{model}    requests waiting for a batch slot
//   liger_decode_batch_size{model}              streams advanced per decode step
class SchedulerMetrics {
 public:
  // Registers the families on `registry`, which must outlive this object. ALREADY_EXISTS if the
  // names are taken.
  static absl::StatusOr<std::unique_ptr<SchedulerMetrics>> Create(metrics::Registry& registry);
  ~SchedulerMetrics();
  SchedulerMetrics(const SchedulerMetrics&) = delete;
  SchedulerMetrics& operator=(const SchedulerMetrics&) = delete;

  // The observer of `model`'s scheduler, owned by this object; the same one for a model loaded
  // again under the same name. Fits ModelRegistry's SchedulerObserverFactory.
  SchedulerObserver* ForModel(const std::string& model);

 private:
  class ModelObserver;
  struct Families;

  explicit SchedulerMetrics(std::unique_ptr<Families> families);

  const std::unique_ptr<Families> families_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<ModelObserver>> observers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace liger::service
