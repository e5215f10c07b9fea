#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/jobs/job_manager.h"
#include "core/jobs/job_state.h"
#include "service/metrics/registry.h"

namespace liger::service {

// The fine-tuning and memory metrics, all read at scrape time:
//   liger_finetune_jobs{state}                 jobs by state
//   liger_finetune_step                        optimizer steps done by the
//   running job liger_finetune_loss                        its latest training
//   loss liger_finetune_learning_rate               its current learning rate
//   liger_finetune_tokens_per_second           its throughput over the latest
//   step liger_device_memory_bytes{device}          "cpu": the process's
//   resident bytes; "cuda:N": bytes
//                                              in LibTorch's CUDA caching
//                                              allocator (CUDA builds)
// The running-job gauges read 0 while no job runs. The job series come from the
// manager that Observe names.
class JobMetrics {
 public:
  // ALREADY_EXISTS if the names are taken on `registry`, which must outlive
  // this object.
  static absl::StatusOr<std::unique_ptr<JobMetrics>> Create(metrics::Registry& registry);
  // Detaches every callback.
  ~JobMetrics();
  JobMetrics(const JobMetrics&) = delete;
  JobMetrics& operator=(const JobMetrics&) = delete;

  // Reads `jobs` at every scrape from now on; nullptr detaches it. Once this
  // returns, the previous manager is no longer read.
  void Observe(const JobManager* jobs);

 private:
  struct RunningGauges {
    metrics::CallbackGauge* step = nullptr;
    metrics::CallbackGauge* loss = nullptr;
    metrics::CallbackGauge* learning_rate = nullptr;
    metrics::CallbackGauge* tokens_per_second = nullptr;
  };

  JobMetrics(std::vector<std::pair<JobState, metrics::CallbackGauge*>> by_state,
             RunningGauges running, std::vector<metrics::CallbackGauge*> memory)
      : by_state_(std::move(by_state)), running_(running), memory_(std::move(memory)) {}

  const std::vector<std::pair<JobState, metrics::CallbackGauge*>> by_state_;
  const RunningGauges running_;
  const std::vector<metrics::CallbackGauge*> memory_;
};

}  // namespace liger::service
