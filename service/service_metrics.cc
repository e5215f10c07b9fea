#include "service/service_metrics.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/util/status_macros.h"

namespace liger::service {
namespace {

// From sub-millisecond (Tokenize) to minutes (a long streamed generation or a model load).
const std::vector<double>& RequestDurationBuckets() {
  static const std::vector<double> bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05,   0.1,   0.25,   0.5,   1,    2.5,
                                             5,      10,    30,     60,    120,  300};
  return bounds;
}

// A scrape-time reader of one field of `sessions`' stats; empty (detaching) for a null store.
std::function<double()> SessionStatReader(SessionStore* sessions,
                                          int64_t SessionStoreStats::*field) {
  if (sessions == nullptr) return nullptr;
  // Stats() expires idle sessions first, so the numbers are current.
  return [sessions, field] { return static_cast<double>(sessions->Stats().*field); };
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServiceMetrics>> ServiceMetrics::Create(
    metrics::Registry& registry, const ModelRegistry& models) {
  LIGER_ASSIGN_OR_RETURN(metrics::Family<metrics::Counter> * requests,
                         registry.AddCounter("liger_requests_total",
                                             "gRPC requests finished, by method and status code.",
                                             {"method", "code"}));
  LIGER_ASSIGN_OR_RETURN(
      metrics::Family<metrics::Histogram> * durations,
      registry.AddHistogram("liger_request_duration_seconds",
                            "gRPC request latency in seconds, to the end of the response stream.",
                            {"method"}, RequestDurationBuckets()));
  LIGER_ASSIGN_OR_RETURN(
      metrics::Family<metrics::CallbackGauge> * loaded_family,
      registry.AddCallbackGauge("liger_models_loaded", "Models the server holds."));
  LIGER_ASSIGN_OR_RETURN(metrics::CallbackGauge * models_loaded, loaded_family->WithLabels({}));
  models_loaded->SetCallback([&models] { return static_cast<double>(models.size()); });
  SessionGauges sessions;
  LIGER_ASSIGN_OR_RETURN(sessions.sessions,
                         registry.AddUnlabelledCallbackGauge("liger_sessions",
                                                             "Sessions held in memory."));
  LIGER_ASSIGN_OR_RETURN(sessions.parked,
                         registry.AddUnlabelledCallbackGauge(
                             "liger_sessions_parked",
                             "Sessions held only in the session directory (--session-dir)."));
  LIGER_ASSIGN_OR_RETURN(sessions.used_bytes,
                         registry.AddUnlabelledCallbackGauge("liger_session_state_bytes",
                                                             "Bytes the sessions' states occupy."));
  LIGER_ASSIGN_OR_RETURN(sessions.budget_bytes,
                         registry.AddUnlabelledCallbackGauge(
                             "liger_session_state_budget_bytes",
                             "Bytes the sessions' states may occupy (--session-budget-bytes)."));
  LIGER_ASSIGN_OR_RETURN(
      metrics::Family<metrics::CallbackGauge> * removed,
      registry.AddCallbackGauge("liger_sessions_removed",
                                "Sessions the server removed since it started: evicted "
                                "to make room or expired after idling.",
                                {"reason"}));
  LIGER_ASSIGN_OR_RETURN(sessions.evicted, removed->WithLabels({"evicted"}));
  LIGER_ASSIGN_OR_RETURN(sessions.expired, removed->WithLabels({"expired"}));
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<JobMetrics> jobs, JobMetrics::Create(registry));
  return std::unique_ptr<ServiceMetrics>(
      new ServiceMetrics(requests, durations, models_loaded, sessions, std::move(jobs)));
}

ServiceMetrics::~ServiceMetrics() { models_loaded_->SetCallback(nullptr); }

void ServiceMetrics::RecordRequest(absl::string_view method, absl::StatusCode code,
                                   absl::Duration latency) {
  const std::string method_name(method);
  // Label values are our own method names and absl's code names: always valid UTF-8, so the
  // lookups cannot fail.
  absl::StatusOr<metrics::Counter*> counter =
      requests_->WithLabels({method_name, absl::StatusCodeToString(code)});
  if (counter.ok()) (*counter)->Inc();
  absl::StatusOr<metrics::Histogram*> histogram = durations_->WithLabels({method_name});
  if (histogram.ok()) (*histogram)->Observe(absl::ToDoubleSeconds(latency));
}

void ServiceMetrics::ObserveSessions(SessionStore* sessions) {
  sessions_.sessions->SetCallback(SessionStatReader(sessions, &SessionStoreStats::sessions));
  sessions_.parked->SetCallback(SessionStatReader(sessions, &SessionStoreStats::parked));
  sessions_.used_bytes->SetCallback(SessionStatReader(sessions, &SessionStoreStats::used_bytes));
  sessions_.budget_bytes->SetCallback(
      SessionStatReader(sessions, &SessionStoreStats::budget_bytes));
  sessions_.evicted->SetCallback(SessionStatReader(sessions, &SessionStoreStats::evicted));
  sessions_.expired->SetCallback(SessionStatReader(sessions, &SessionStoreStats::expired));
}

}  // namespace liger::service
