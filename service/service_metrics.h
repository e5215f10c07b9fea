#pragma once

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/hosting/model_registry.h"
#include "core/serving/session_info.h"
#include "core/serving/session_store.h"
#include "service/job_metrics.h"
#include "service/metrics/registry.h"

namespace liger::service {

// The request-level metrics of the gRPC service:
//   liger_requests_total{method,code}            finished RPCs by method and status code name
//   liger_request_duration_seconds{method}       RPC latency (whole stream for streaming RPCs)
//   liger_models_loaded                          models the server holds, read at scrape time
//   liger_sessions                               sessions held in memory
//   liger_sessions_parked                        sessions held only in the session directory
//   liger_session_state_bytes                    bytes their states occupy
//   liger_session_state_budget_bytes             the bytes they may occupy
//   liger_sessions_removed                       sessions evicted for room or expired, by reason
// and the fine-tuning job and device memory series of JobMetrics. The session and job series are
// read at scrape time from the store and job manager that ObserveSessions and ObserveJobs name.
class ServiceMetrics {
 public:
  // Registers the families on `registry`, which must outlive this object; `models` must outlive it
  // too (the gauge reads it). ALREADY_EXISTS if the names are taken.
  static absl::StatusOr<std::unique_ptr<ServiceMetrics>> Create(metrics::Registry& registry,
                                                                const ModelRegistry& models);
  // Detaches the models gauge, so scrapes after this never read `models`.
  ~ServiceMetrics();
  ServiceMetrics(const ServiceMetrics&) = delete;
  ServiceMetrics& operator=(const ServiceMetrics&) = delete;

  // `method`: the RPC's short name ("Tokenize"); `code`: the status it finished with.
  void RecordRequest(absl::string_view method, absl::StatusCode code, absl::Duration latency);
  // Reads `sessions` at every scrape from now on (expiring idle sessions first, so the numbers are
  // current); nullptr detaches it. Once this returns, the previous store is no longer read.
  void ObserveSessions(SessionStore* sessions);
  // Reads `jobs` at every scrape from now on; nullptr detaches it (see JobMetrics::Observe).
  void ObserveJobs(const JobManager* jobs) { jobs_->Observe(jobs); }

 private:
  struct SessionGauges {
    metrics::CallbackGauge* sessions = nullptr;
    metrics::CallbackGauge* parked = nullptr;
    metrics::CallbackGauge* used_bytes = nullptr;
    metrics::CallbackGauge* budget_bytes = nullptr;
    metrics::CallbackGauge* evicted = nullptr;
    metrics::CallbackGauge* expired = nullptr;
  };

  ServiceMetrics(metrics::Family<metrics::Counter>* requests,
                 metrics::Family<metrics::Histogram>* durations,
                 metrics::CallbackGauge* models_loaded, SessionGauges sessions,
                 std::unique_ptr<JobMetrics> jobs)
      : requests_(requests),
        durations_(durations),
        models_loaded_(models_loaded),
        sessions_(sessions),
        jobs_(std::move(jobs)) {}

  metrics::Family<metrics::Counter>* const requests_;
  metrics::Family<metrics::Histogram>* const durations_;
  metrics::CallbackGauge* const models_loaded_;
  const SessionGauges sessions_;
  const std::unique_ptr<JobMetrics> jobs_;
};

}  // namespace liger::service
