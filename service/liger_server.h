#pragma once

#include <memory>
#include <string>

#include <grpcpp/server.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/auth/caller_admission.h"
#include "core/hosting/model_registry.h"
#include "core/hosting/registry_session_codec.h"
#include "core/io/path_confinement.h"
#include "core/jobs/job_manager.h"
#include "core/serving/session_store.h"
#include "service/drain_gate.h"
#include "service/liger_service.h"
#include "service/tls_options.h"
#include "service/service_metrics.h"
#include "service/structured_logger.h"

namespace liger::service {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 picks a free port; see LigerServer::port()
  // The sessions' state budget, idle TTL, per-tenant limit and session directory (the server
  // supplies the codec and error reporting).
  SessionStoreOptions sessions;
  // Fine-tuning jobs: where their records persist (empty: in memory only), what runs them (empty:
  // RunFineTune), and the dtype and device of FineTune requests that leave them unset.
  std::string jobs_dir;
  FineTuneRunner fine_tune_runner;
  std::string fine_tune_dtype = "float32";
  std::string fine_tune_device = "cpu";
  // Where the paths that requests name (LoadModel, Convert, FineTune) may lead; default: anywhere.
  PathConfinement paths;
  // The largest request message taken (>= 1); gRPC refuses bigger ones with RESOURCE_EXHAUSTED.
  int max_request_bytes = 4 << 20;
  // Fine-tuning jobs queued or running at once (JobManagerOptions::max_pending_jobs).
  int max_pending_jobs = 16;
  // What every call must pass: API keys, a per-key request rate (null: every call admitted, as the
  // empty tenant). Shared with the HTTP front.
  std::shared_ptr<const CallerAdmission> admission;
  // TLS (and mutual TLS) for the gRPC port; plaintext when not enabled.
  TlsOptions tls;
};

// The gRPC server of `liger serve`: liger.v1.LigerService, grpc.health.v1.Health (SERVING while at
// least one model is loaded, NOT_SERVING otherwise and from the start of shutdown) and server
// reflection, on one plaintext port. It holds the sessions' states (one SessionStore for every
// model) and the fine-tuning jobs (a JobManager), whose metrics it reports while it runs
// (ServiceMetrics::ObserveSessions, ObserveJobs).
class LigerServer {
 public:
  // Starts serving. The registry, metrics and logger must outlive the server. INVALID_ARGUMENT for
  // a port outside [0, 65535], a request size or job limit below 1, or a session budget or TTL
  // that is not positive; UNAVAILABLE when
  // host:port cannot be bound; the jobs directory's errors (JobManager::Create).
  static absl::StatusOr<std::unique_ptr<LigerServer>> Start(const ServerOptions& options,
                                                            ModelRegistry* models,
                                                            ServiceMetrics* metrics,
                                                            StructuredLogger* logger);
  // Shuts down with no grace period unless Shutdown ran.
  ~LigerServer();
  LigerServer(const LigerServer&) = delete;
  LigerServer& operator=(const LigerServer&) = delete;

  // The bound port (the chosen one when options.port was 0).
  int port() const { return port_; }
  // "host:port" (IPv6 hosts in brackets), as a client would dial it.
  const std::string& address() const { return address_; }
  // The sessions every model's calls share, for other fronts (the HTTP API) to use too.
  SessionStore* sessions() const { return sessions_.get(); }

  // Health turns NOT_SERVING and new calls are refused (UNAVAILABLE); calls in flight get up to
  // `grace` to finish, then are cancelled and the port closes. Meanwhile the running fine-tuning
  // job is stopped (JobManager::Shutdown, within the same grace), which ends the WatchJob streams.
  // Returns once every call has ended, and with a session directory, once every session is parked
  // there. Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  LigerServer(const ServerOptions& options, ModelRegistry* models,
              std::unique_ptr<RegistrySessionCodec> session_codec,
              std::unique_ptr<SessionStore> sessions, std::unique_ptr<JobManager> jobs,
              ServiceMetrics* metrics, StructuredLogger* logger);

  // Health follows the number of loaded models.
  void UpdateHealth();

  ModelRegistry* const models_;
  ServiceMetrics* const metrics_;
  StructuredLogger* const logger_;
  std::string address_;
  int port_ = 0;
  // Serializes health updates, so the last one always reflects the latest model count.
  absl::Mutex health_mu_;
  bool shut_down_ ABSL_GUARDED_BY(health_mu_) = false;
  DrainGate gate_;
  // Before sessions_, which uses it.
  std::unique_ptr<RegistrySessionCodec> session_codec_;
  // Before service_, which uses them.
  std::unique_ptr<SessionStore> sessions_;
  std::unique_ptr<JobManager> jobs_;
  std::shared_ptr<const CallerAdmission> admission_;
  // Before server_, which refers to it and so must be destroyed first.
  std::unique_ptr<LigerServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace liger::service
