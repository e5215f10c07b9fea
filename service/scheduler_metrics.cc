#include "service/scheduler_metrics.h"

#include <vector>

#include "core/util/status_macros.h"

namespace liger::service {
namespace {

// From a decode step on a small model (sub-millisecond) to a long prompt behind a full queue.
const std::vector<double>& TokenLatencyBuckets() {
  static const std::vector<double> bounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25,  0.5,    1,     2.5,  5,     10,   30};
  return bounds;
}

const std::vector<double>& DecodeBatchBuckets() {
  static const std::vector<double> bounds = {1, 2, 4, 8, 16, 32, 64, 128};
  return bounds;
}

// Label values are model names, which ModelRegistry keeps to ASCII: the lookups cannot fail.
template <typename Metric>
Metric* SchedulerMetricFor(metrics::Family<Metric>* family, const std::string& model) {
  absl::StatusOr<Metric*> metric = family->WithLabels({model});
  return metric.ok() ? *metric : nullptr;
}

}  // namespace

struct SchedulerMetrics::Families {
  metrics::Family<metrics::Histogram>* time_to_first_token = nullptr;
  metrics::Family<metrics::Histogram>* inter_token = nullptr;
  metrics::Family<metrics::Counter>* prompt_tokens = nullptr;
  metrics::Family<metrics::Counter>* generated_tokens = nullptr;
  metrics::Family<metrics::Gauge>* running = nullptr;
  metrics::Family<metrics::Gauge>* waiting = nullptr;
  metrics::Family<metrics::Histogram>* decode_batch = nullptr;
};

class SchedulerMetrics::ModelObserver final : public SchedulerObserver {
 public:
  ModelObserver(const Families& families, const std::string& model)
      : time_to_first_token_(SchedulerMetricFor(families.time_to_first_token, model)),
        inter_token_(SchedulerMetricFor(families.inter_token, model)),
        prompt_tokens_(SchedulerMetricFor(families.prompt_tokens, model)),
        generated_tokens_(SchedulerMetricFor(families.generated_tokens, model)),
        running_(SchedulerMetricFor(families.running, model)),
        waiting_(SchedulerMetricFor(families.waiting, model)),
        decode_batch_(SchedulerMetricFor(families.decode_batch, model)) {}

  void OnLoad(int waiting, int running) override {
    if (waiting_ != nullptr) waiting_->Set(waiting);
    if (running_ != nullptr) running_->Set(running);
  }
  void OnDecodeStep(int batch_size) override {
    if (decode_batch_ != nullptr) decode_batch_->Observe(batch_size);
  }
  void OnFirstToken(absl::Duration time_to_first_token) override {
    if (time_to_first_token_ != nullptr) {
      time_to_first_token_->Observe(absl::ToDoubleSeconds(time_to_first_token));
    }
  }
  void OnInterToken(absl::Duration inter_token_latency) override {
    if (inter_token_ != nullptr) inter_token_->Observe(absl::ToDoubleSeconds(inter_token_latency));
  }
  void OnPromptTokens(int64_t count) override {
    if (prompt_tokens_ != nullptr) (void)prompt_tokens_->IncBy(static_cast<double>(count));
  }
  void OnGeneratedTokens(int64_t count) override {
    if (generated_tokens_ != nullptr) (void)generated_tokens_->IncBy(static_cast<double>(count));
  }

 private:
  metrics::Histogram* const time_to_first_token_;
  metrics::Histogram* const inter_token_;
  metrics::Counter* const prompt_tokens_;
  metrics::Counter* const generated_tokens_;
  metrics::Gauge* const running_;
  metrics::Gauge* const waiting_;
  metrics::Histogram* const decode_batch_;
};

absl::StatusOr<std::unique_ptr<SchedulerMetrics>> SchedulerMetrics::Create(
    metrics::Registry& registry) {
  auto families = std::make_unique<Families>();
  LIGER_ASSIGN_OR_RETURN(
      families->time_to_first_token,
      registry.AddHistogram("liger_time_to_first_token_seconds",
                            "Seconds from a generation's submission to its first token.",
                            {"model"}, TokenLatencyBuckets()));
  LIGER_ASSIGN_OR_RETURN(
      families->inter_token,
      registry.AddHistogram("liger_inter_token_latency_seconds",
                            "Seconds between successive tokens of one generation.", {"model"},
                            TokenLatencyBuckets()));
  LIGER_ASSIGN_OR_RETURN(families->prompt_tokens,
                         registry.AddCounter("liger_prompt_tokens_total",
                                             "Prompt tokens prefilled.", {"model"}));
  LIGER_ASSIGN_OR_RETURN(families->generated_tokens,
                         registry.AddCounter("liger_generated_tokens_total",
                                             "Tokens generated and sent.", {"model"}));
  LIGER_ASSIGN_OR_RETURN(
      families->running,
      registry.AddGauge("liger_generation_requests_running",
                        "Generations admitted to the batch (prefilling or decoding).", {"model"}));
  LIGER_ASSIGN_OR_RETURN(families->waiting,
                         registry.AddGauge("liger_generation_requests_waiting",
                                           "Generations waiting for a batch slot.", {"model"}));
  LIGER_ASSIGN_OR_RETURN(
      families->decode_batch,
      registry.AddHistogram("liger_decode_batch_size", "Streams advanced per batched decode step.",
                            {"model"}, DecodeBatchBuckets()));
  return std::unique_ptr<SchedulerMetrics>(new SchedulerMetrics(std::move(families)));
}

SchedulerMetrics::SchedulerMetrics(std::unique_ptr<Families> families)
    : families_(std::move(families)) {}

SchedulerMetrics::~SchedulerMetrics() = default;

SchedulerObserver* SchedulerMetrics::ForModel(const std::string& model) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<ModelObserver>& observer = observers_[model];
  if (observer == nullptr) observer = std::make_unique<ModelObserver>(*families_, model);
  return observer.get();
}

}  // namespace liger::service
