#include "service/liger_server.h"

#include <chrono>
#include <functional>
#include <thread>
#include <utility>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/train/fine_tune.h"
#include "service/grpc_server_credentials.h"
#include "grpc/health/v1/health.pb.h"

namespace liger::service {
namespace {

// How long the streams ended at shutdown get to send their last message.
constexpr std::chrono::seconds kFinalFlush(1);

std::string DialAddress(const std::string& host, int port) {
  const bool ipv6 = absl::StrContains(host, ":") && !absl::StartsWith(host, "[");
  return ipv6 ? absl::StrCat("[", host, "]:", port) : absl::StrCat(host, ":", port);
}

absl::StatusOr<std::unique_ptr<JobManager>> NewServerJobManager(const ServerOptions& options,
                                                                 StructuredLogger* logger) {
  JobManagerOptions jobs;
  jobs.runner = options.fine_tune_runner;
  if (!jobs.runner) {
    jobs.runner = [](const FineTuneOptions& run, const FineTuneProgressCallback& on_progress,
                     const std::function<bool()>& stop_requested) {
      return RunFineTune(run, on_progress, stop_requested);
    };
  }
  jobs.jobs_dir = options.jobs_dir;
  jobs.max_pending_jobs = options.max_pending_jobs;
  jobs.on_error = [logger](const absl::Status& status) {
    logger->Error("fine-tuning jobs", {{"error", status.ToString()}});
  };
  return JobManager::Create(std::move(jobs));
}

}  // namespace

LigerServer::LigerServer(const ServerOptions& options, ModelRegistry* models,
                         std::unique_ptr<RegistrySessionCodec> session_codec,
                         std::unique_ptr<SessionStore> sessions, std::unique_ptr<JobManager> jobs,
                         ServiceMetrics* metrics, StructuredLogger* logger)
    : models_(models),
      metrics_(metrics),
      logger_(logger),
      session_codec_(std::move(session_codec)),
      sessions_(std::move(sessions)),
      jobs_(std::move(jobs)),
      admission_(options.admission),
      service_(std::make_unique<LigerServiceImpl>(
          models, sessions_.get(), jobs_.get(),
          FineTuneDefaults{options.fine_tune_dtype, options.fine_tune_device}, options.paths,
          &gate_, admission_.get(), metrics, logger, [this] { UpdateHealth(); })) {}

absl::StatusOr<std::unique_ptr<LigerServer>> LigerServer::Start(const ServerOptions& options,
                                                                ModelRegistry* models,
                                                                ServiceMetrics* metrics,
                                                                StructuredLogger* logger) {
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("port ", options.port, " is outside [0, 65535]"));
  }
  if (options.max_request_bytes < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_request_bytes = ", options.max_request_bytes, " must be >= 1"));
  }
  // Both are process-wide switches that builders read when they build.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // Reflection describes the services whose descriptors are linked in; gRPC's built-in health
  // service brings none, so this reference links ours.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      GrpcServerCredentials(options.tls);
  if (!credentials.ok()) return credentials.status();
  auto session_codec = std::make_unique<RegistrySessionCodec>(models);
  SessionStoreOptions session_options = options.sessions;
  session_options.codec = session_codec.get();
  session_options.on_error = [logger](const absl::Status& status) {
    logger->Error("session directory", {{"error", status.ToString()}});
  };
  absl::StatusOr<std::unique_ptr<SessionStore>> sessions = SessionStore::New(session_options);
  if (!sessions.ok()) return sessions.status();
  absl::StatusOr<std::unique_ptr<JobManager>> jobs = NewServerJobManager(options, logger);
  if (!jobs.ok()) return jobs.status();
  std::unique_ptr<LigerServer> server(new LigerServer(options, models, std::move(session_codec),
                                                      *std::move(sessions), *std::move(jobs),
                                                      metrics, logger));
  const std::string requested = DialAddress(options.host, options.port);
  int selected_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(requested, *credentials, &selected_port);
  // gRPC sets SO_REUSEPORT by default, which would let a second server share a port in use and
  // silently split its traffic; a taken port must be an error instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options.max_request_bytes);
  builder.RegisterService(server->service_.get());
  std::unique_ptr<grpc::Server> grpc_server = builder.BuildAndStart();
  if (grpc_server == nullptr || selected_port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", requested, " (address in use or not local)"));
  }
  server->port_ = selected_port;
  server->address_ = DialAddress(options.host, selected_port);
  {
    absl::MutexLock lock(&server->health_mu_);
    server->server_ = std::move(grpc_server);
  }
  server->UpdateHealth();
  // Only a started server takes the session and job metrics over: one that failed to start leaves
  // them to whichever server has them.
  metrics->ObserveSessions(server->sessions_.get());
  metrics->ObserveJobs(server->jobs_.get());
  return server;
}

LigerServer::~LigerServer() {
  Shutdown(absl::ZeroDuration());
  // Scrapes must stop reading the store and the jobs before they go.
  if (server_ != nullptr) {
    metrics_->ObserveSessions(nullptr);
    metrics_->ObserveJobs(nullptr);
  }
}

void LigerServer::UpdateHealth() {
  absl::MutexLock lock(&health_mu_);
  if (server_ == nullptr || shut_down_) return;
  const bool serving = models_->size() > 0;
  // The whole server ("") and the service by name, which clients may ask about.
  server_->GetHealthCheckService()->SetServingStatus(v1::LigerService::service_full_name(),
                                                     serving);
  server_->GetHealthCheckService()->SetServingStatus(serving);
}

void LigerServer::Shutdown(absl::Duration grace) {
  {
    absl::MutexLock lock(&health_mu_);
    if (server_ == nullptr || shut_down_) return;
    shut_down_ = true;
    // NOT_SERVING for every service from now on, so load balancers stop sending work.
    server_->GetHealthCheckService()->Shutdown();
  }
  // The job manager stops the running job (which ends the WatchJob streams the drain waits for)
  // while the gate drains the other calls, both within the grace period.
  std::thread stop_jobs([this, grace] { jobs_->Shutdown(grace); });
  gate_.Drain(absl::Now() + grace);
  stop_jobs.join();
  // Generations still running are past their grace: their schedulers end them, so each stream
  // closes the documented way (FINISH_REASON_CANCELLED, with its usage) rather than being cut.
  for (const std::shared_ptr<const HostedModel>& model : models_->ListAll()) {
    model->scheduler->Shutdown(absl::ZeroDuration());
  }
  // Then gRPC gets a moment to flush those last messages before it cancels what is left and
  // closes idle client connections, rather than wait for clients to leave.
  server_->Shutdown(std::chrono::system_clock::now() + kFinalFlush);
  server_->Wait();
  // No call can lease a session any more, so every one is idle and can go to disk.
  absl::StatusOr<int> parked = sessions_->ParkAll();
  if (!parked.ok()) {
    logger_->Error("parking sessions", {{"error", parked.status().ToString()}});
  } else if (*parked > 0) {
    logger_->Info("sessions parked", {{"sessions", *parked}});
  }
}

}  // namespace liger::service
