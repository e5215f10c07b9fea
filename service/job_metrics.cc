#include "service/job_metrics.h"

#include <functional>
#include <string>

#include "core/jobs/device_memory.h"
#include "core/util/status_macros.h"

namespace liger::service {
namespace {

// A scrape-time reader of one field of the running job's progress; empty for a
// null manager.
template <typename Field>
std::function<double()> RunningJobReader(const JobManager* jobs, Field FineTuneProgress::*field) {
  if (jobs == nullptr) return nullptr;
  return [jobs, field] {
    const std::optional<FineTuneProgress> progress = jobs->RunningProgress();
    return progress.has_value() ? static_cast<double>((*progress).*field) : 0.0;
  };
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobMetrics>> JobMetrics::Create(metrics::Registry& registry) {
  LIGER_ASSIGN_OR_RETURN(
      metrics::Family<metrics::CallbackGauge> * jobs_family,
      registry.AddCallbackGauge("liger_finetune_jobs",
                                "Fine-tuning jobs the server knows, by state.", {"state"}));
  std::vector<std::pair<JobState, metrics::CallbackGauge*>> by_state;
  for (JobState state : kAllJobStates) {
    LIGER_ASSIGN_OR_RETURN(metrics::CallbackGauge * gauge,
                           jobs_family->WithLabels({JobStateName(state)}));
    by_state.emplace_back(state, gauge);
  }
  RunningGauges running;
  LIGER_ASSIGN_OR_RETURN(
      running.step,
      registry.AddUnlabelledCallbackGauge(
          "liger_finetune_step",
          "Optimizer steps the running fine-tuning job has done (0 while none runs)."));
  LIGER_ASSIGN_OR_RETURN(
      running.loss, registry.AddUnlabelledCallbackGauge(
                        "liger_finetune_loss", "Training loss of the running job's latest step."));
  LIGER_ASSIGN_OR_RETURN(running.learning_rate,
                         registry.AddUnlabelledCallbackGauge(
                             "liger_finetune_learning_rate",
                             "Learning rate of the running job's latest step."));
  LIGER_ASSIGN_OR_RETURN(running.tokens_per_second,
                         registry.AddUnlabelledCallbackGauge(
                             "liger_finetune_tokens_per_second",
                             "Training tokens per second of the running job's latest step."));
  LIGER_ASSIGN_OR_RETURN(
      metrics::Family<metrics::CallbackGauge> * memory_family,
      registry.AddCallbackGauge("liger_device_memory_bytes",
                                "Memory in use: the process's resident bytes (cpu), tensor bytes "
                                "of the CUDA caching allocator (cuda:N).",
                                {"device"}));
  std::vector<metrics::CallbackGauge*> memory;
  for (const std::string& device : MemoryDevices()) {
    LIGER_ASSIGN_OR_RETURN(metrics::CallbackGauge * gauge, memory_family->WithLabels({device}));
    gauge->SetCallback([device] { return static_cast<double>(ReadDeviceMemory(device)); });
    memory.push_back(gauge);
  }
  return std::unique_ptr<JobMetrics>(
      new JobMetrics(std::move(by_state), running, std::move(memory)));
}

JobMetrics::~JobMetrics() {
  Observe(nullptr);
  for (metrics::CallbackGauge* gauge : memory_) gauge->SetCallback(nullptr);
}

void JobMetrics::Observe(const JobManager* jobs) {
  for (const auto& [state, gauge] : by_state_) {
    if (jobs == nullptr) {
      gauge->SetCallback(nullptr);
    } else {
      gauge->SetCallback(
          [jobs, state = state] { return static_cast<double>(jobs->CountInState(state)); });
    }
  }
  running_.step->SetCallback(RunningJobReader(jobs, &FineTuneProgress::step));
  running_.loss->SetCallback(RunningJobReader(jobs, &FineTuneProgress::loss));
  running_.learning_rate->SetCallback(RunningJobReader(jobs, &FineTuneProgress::learning_rate));
  running_.tokens_per_second->SetCallback(
      RunningJobReader(jobs, &FineTuneProgress::tokens_per_second));
}

}  // namespace liger::service
