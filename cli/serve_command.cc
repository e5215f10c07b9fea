#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/model_flags.h"
#include "core/auth/api_key_ring.h"
#include "core/auth/caller_admission.h"
#include "core/auth/rate_limiter.h"
#include "core/hosting/model_registry.h"
#include "core/io/path_confinement.h"
#include "core/util/status_macros.h"
#include "service/grpc_log_bridge.h"
#include "service/http/openai_http_server.h"
#include "service/http/web_page.h"
#include "service/liger_server.h"
#include "service/metrics/metrics_http_server.h"
#include "service/metrics/registry.h"
#include "service/scheduler_metrics.h"
#include "service/service_metrics.h"
#include "service/structured_logger.h"

namespace liger {
namespace {

constexpr int64_t kServeDefaultPort = 50051;
constexpr double kServeDefaultGraceSeconds = 10;
constexpr int64_t kServeDefaultSessionBudgetBytes = int64_t{1} << 30;
// Streams decoded together in one step; far past what one device step can batch usefully.
constexpr int64_t kServeMaxBatchSize = 4096;
constexpr char kApiKeysEnvironmentVariable[] = "LIGER_API_KEYS";

struct ServeFlags {
  std::string model_dir;
  std::string model_name;
  std::string dtype;
  std::string device;
  std::string host;
  std::string jobs_dir;  // empty: fine-tuning jobs are kept in memory only
  std::string session_dir;  // empty: sessions are kept in memory only
  PathConfinement paths;  // of the paths requests name
  int port = 0;
  int metrics_port = -1;  // -1: no metrics endpoint
  int http_port = -1;     // -1: no HTTP (OpenAI-compatible) endpoint
  int64_t session_budget_bytes = 0;
  int max_batch_size = 0;
  int64_t max_stepped_prompt_tokens = 0;
  int64_t max_prompt_tokens = 0;
  int64_t max_new_tokens = 0;
  int max_request_bytes = 0;
  int max_pending_jobs = 0;
  int64_t max_sessions_per_tenant = 0;
  // API keys and the per-key request rate; null: every call admitted, anonymously.
  std::shared_ptr<const CallerAdmission> admission;
  service::TlsOptions tls;               // of the gRPC and HTTP ports
  absl::Duration session_idle_ttl = absl::InfiniteDuration();
  absl::Duration grace;
  service::LogFormat log_format = service::LogFormat::kText;
};

absl::StatusOr<int> ServePortFlag(const CommandLine& cl, const std::string& name,
                                  int64_t fallback) {
  LIGER_ASSIGN_OR_RETURN(int64_t port, cl.Int(name, fallback));
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("flag --", name, " must be in [0, 65535] (0 picks a free port), got ", port));
  }
  return static_cast<int>(port);
}

// A limit flag: a count in [1, max].
absl::StatusOr<int64_t> LimitFlag(const CommandLine& cl, const std::string& name, int64_t fallback,
                                  int64_t max) {
  LIGER_ASSIGN_OR_RETURN(int64_t value, cl.Int(name, fallback));
  if (value < 1 || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("flag --", name, " must be in [1, ", max, "], got ", value));
  }
  return value;
}

absl::StatusOr<ServeFlags> ParseServeFlags(const std::vector<std::string>& args) {
  std::set<std::string> known = ModelFlagNames();
  known.insert({"model-name", "host", "port", "metrics-port", "session-budget-bytes",
                "session-idle-ttl-seconds", "log-format", "shutdown-grace-seconds", "jobs-dir", "session-dir", "path-root",
                "max-batch-size", "max-stepped-prompt-tokens",
                "max-prompt-tokens", "max-new-tokens", "max-request-bytes", "max-pending-jobs", "http-port",
                "api-keys-file", "max-sessions-per-tenant", "tls-cert", "tls-key", "tls-client-ca",
                "max-requests-per-second-per-key"});
  LIGER_ASSIGN_OR_RETURN(CommandLine cl, CommandLine::Parse(args, known));
  ServeFlags flags;
  LIGER_ASSIGN_OR_RETURN(flags.model_dir, cl.Required("model"));
  flags.model_name = cl.String("model-name", "");
  if (!flags.model_name.empty()) {
    LIGER_RETURN_IF_ERROR(ModelRegistry::ValidateModelName(flags.model_name));
  }
  flags.dtype = cl.String("dtype", "float32");
  flags.device = cl.String("device", "cpu");
  flags.host = cl.String("host", "127.0.0.1");
  if (flags.host.empty()) return absl::InvalidArgumentError("flag --host must not be empty");
  if (cl.Has("jobs-dir")) {
    flags.jobs_dir = cl.String("jobs-dir", "");
    if (flags.jobs_dir.empty()) {
      return absl::InvalidArgumentError("flag --jobs-dir must not be empty");
    }
  }
  if (cl.Has("session-dir")) {
    flags.session_dir = cl.String("session-dir", "");
    if (flags.session_dir.empty()) {
      return absl::InvalidArgumentError("flag --session-dir must not be empty");
    }
  }
  LIGER_ASSIGN_OR_RETURN(flags.port, ServePortFlag(cl, "port", kServeDefaultPort));
  if (cl.Has("metrics-port")) {
    LIGER_ASSIGN_OR_RETURN(flags.metrics_port, ServePortFlag(cl, "metrics-port", 0));
  }
  if (cl.Has("http-port")) {
    LIGER_ASSIGN_OR_RETURN(flags.http_port, ServePortFlag(cl, "http-port", 0));
  }
  LIGER_ASSIGN_OR_RETURN(flags.session_budget_bytes,
                         cl.Int("session-budget-bytes", kServeDefaultSessionBudgetBytes));
  if (flags.session_budget_bytes <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "flag --session-budget-bytes must be positive, got ", flags.session_budget_bytes));
  }
  LIGER_ASSIGN_OR_RETURN(int64_t max_batch_size,
                         cl.Int("max-batch-size", SchedulerOptions().max_batch_size));
  if (max_batch_size < 1 || max_batch_size > kServeMaxBatchSize) {
    return absl::InvalidArgumentError(absl::StrCat("flag --max-batch-size must be in [1, ",
                                                   kServeMaxBatchSize, "], got ", max_batch_size));
  }
  flags.max_batch_size = static_cast<int>(max_batch_size);
  LIGER_ASSIGN_OR_RETURN(flags.paths, PathConfinement::Create(cl.All("path-root")));
  constexpr int64_t kIntMax = std::numeric_limits<int>::max();
  LIGER_ASSIGN_OR_RETURN(flags.max_prompt_tokens,
                         LimitFlag(cl, "max-prompt-tokens", SchedulerOptions().max_prompt_tokens,
                                   int64_t{1} << 40));
  LIGER_ASSIGN_OR_RETURN(flags.max_new_tokens,
                         LimitFlag(cl, "max-new-tokens", SchedulerOptions().max_new_tokens, kIntMax));
  LIGER_ASSIGN_OR_RETURN(
      int64_t max_request_bytes,
      LimitFlag(cl, "max-request-bytes", service::ServerOptions().max_request_bytes, kIntMax));
  flags.max_request_bytes = static_cast<int>(max_request_bytes);
  LIGER_ASSIGN_OR_RETURN(
      int64_t max_pending_jobs,
      LimitFlag(cl, "max-pending-jobs", service::ServerOptions().max_pending_jobs, 1 << 20));
  flags.max_pending_jobs = static_cast<int>(max_pending_jobs);
  LIGER_ASSIGN_OR_RETURN(flags.max_sessions_per_tenant,
                         LimitFlag(cl, "max-sessions-per-tenant",
                                   SessionStoreOptions().max_sessions_per_tenant,
                                   SessionStoreOptions().max_sessions_per_tenant));
  flags.tls.cert_file = cl.String("tls-cert", "");
  flags.tls.key_file = cl.String("tls-key", "");
  flags.tls.client_ca_file = cl.String("tls-client-ca", "");
  LIGER_RETURN_IF_ERROR(flags.tls.Validate());
  // Keys from a file (reread when it changes) or, without one, from the environment; neither
  // means the server does not authenticate.
  std::shared_ptr<ApiKeyRing> keys;
  if (cl.Has("api-keys-file")) {
    LIGER_ASSIGN_OR_RETURN(keys, ApiKeyRing::FromFile(cl.String("api-keys-file", "")));
  } else if (const char* env = std::getenv(kApiKeysEnvironmentVariable); env != nullptr && *env != '\0') {
    LIGER_ASSIGN_OR_RETURN(keys, ApiKeyRing::FromString(env));
  }
  // A second's worth of requests may come at once.
  std::shared_ptr<RateLimiter> limiter;
  if (cl.Has("max-requests-per-second-per-key")) {
    LIGER_ASSIGN_OR_RETURN(double rate, cl.Double("max-requests-per-second-per-key", 0));
    LIGER_ASSIGN_OR_RETURN(limiter, RateLimiter::Create(rate, std::max(1.0, rate)));
  }
  if (keys != nullptr || limiter != nullptr) {
    flags.admission = std::make_shared<const CallerAdmission>(std::move(keys), std::move(limiter));
  }
  LIGER_ASSIGN_OR_RETURN(flags.max_stepped_prompt_tokens,
                         cl.Int("max-stepped-prompt-tokens",
                                SchedulerOptions().max_stepped_prompt_tokens));
  if (flags.max_stepped_prompt_tokens < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "flag --max-stepped-prompt-tokens must be >= 0, got ", flags.max_stepped_prompt_tokens));
  }
  if (cl.Has("session-idle-ttl-seconds")) {
    LIGER_ASSIGN_OR_RETURN(double ttl_seconds, cl.Double("session-idle-ttl-seconds", 0));
    if (!(ttl_seconds > 0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "flag --session-idle-ttl-seconds must be positive, got ", ttl_seconds));
    }
    flags.session_idle_ttl = absl::Seconds(ttl_seconds);
  }
  LIGER_ASSIGN_OR_RETURN(double grace_seconds,
                         cl.Double("shutdown-grace-seconds", kServeDefaultGraceSeconds));
  if (!(grace_seconds >= 0 && grace_seconds <= 3600)) {
    return absl::InvalidArgumentError(
        absl::StrCat("flag --shutdown-grace-seconds must be in [0, 3600], got ", grace_seconds));
  }
  flags.grace = absl::Seconds(grace_seconds);
  LIGER_ASSIGN_OR_RETURN(flags.log_format,
                         service::ParseLogFormat(cl.String("log-format", "text")));
  return flags;
}

// SIGTERM and SIGINT are blocked in this thread before any other thread exists (LibTorch and gRPC
// start pools), so every thread inherits the mask and the signals wait for sigwait below instead
// of killing the process mid-request.
sigset_t BlockServeShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

}  // namespace

absl::Status RunServeCommand(const std::vector<std::string>& args) {
  LIGER_ASSIGN_OR_RETURN(ServeFlags flags, ParseServeFlags(args));
  const sigset_t shutdown_signals = BlockServeShutdownSignals();
  std::unique_ptr<service::StructuredLogger> logger =
      service::StructuredLogger::ToStderr(flags.log_format);
  service::GrpcLogBridge grpc_logs(logger.get());

  // Before the models, whose schedulers report to the scheduler metrics until they are destroyed.
  metrics::Registry metrics_registry;
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<service::SchedulerMetrics> scheduler_metrics,
                         service::SchedulerMetrics::Create(metrics_registry));
  SchedulerOptions scheduler_options;
  scheduler_options.max_batch_size = flags.max_batch_size;
  scheduler_options.max_stepped_prompt_tokens = flags.max_stepped_prompt_tokens;
  scheduler_options.max_prompt_tokens = flags.max_prompt_tokens;
  scheduler_options.max_new_tokens = flags.max_new_tokens;
  ModelRegistry models(
      flags.dtype, flags.device,
      [&](const std::string& name) { return scheduler_metrics->ForModel(name); },
      scheduler_options);
  LIGER_ASSIGN_OR_RETURN(std::shared_ptr<const HostedModel> model,
                         models.Load({flags.model_name, flags.model_dir, "", ""}));
  logger->Info("model loaded", {{"model", model->name},
                                {"model_dir", model->model_dir},
                                {"dtype", model->dtype},
                                {"device", model->device}});

  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<service::ServiceMetrics> service_metrics,
                         service::ServiceMetrics::Create(metrics_registry, models));
  service::ServerOptions server_options;
  server_options.host = flags.host;
  server_options.port = flags.port;
  server_options.sessions.budget_bytes = flags.session_budget_bytes;
  server_options.sessions.idle_ttl = flags.session_idle_ttl;
  server_options.sessions.max_sessions_per_tenant = flags.max_sessions_per_tenant;
  // With --session-dir, evicted sessions and, at shutdown, all of them go to disk and come back.
  server_options.sessions.session_dir = flags.session_dir;
  server_options.admission = flags.admission;
  server_options.tls = flags.tls;
  // Jobs run RunFineTune (the server's default runner) in the serving dtype and device unless a
  // request says otherwise; with --jobs-dir they survive restarts.
  server_options.jobs_dir = flags.jobs_dir;
  server_options.paths = flags.paths;
  server_options.max_request_bytes = flags.max_request_bytes;
  server_options.max_pending_jobs = flags.max_pending_jobs;
  server_options.fine_tune_dtype = flags.dtype;
  server_options.fine_tune_device = flags.device;
  LIGER_ASSIGN_OR_RETURN(
      std::unique_ptr<service::LigerServer> server,
      service::LigerServer::Start(server_options, &models, service_metrics.get(), logger.get()));
  metrics::MetricsHttpServer metrics_http(metrics_registry);
  if (flags.metrics_port >= 0) {
    LIGER_RETURN_IF_ERROR(metrics_http.Start(flags.host, flags.metrics_port));
  }
  service::http::OpenAiHttpServer http(&models, server->sessions(), service::http::WebPage(),
                                       static_cast<size_t>(flags.max_request_bytes),
                                       flags.admission.get());
  if (flags.http_port >= 0) {
    LIGER_RETURN_IF_ERROR(http.Start(flags.host, flags.http_port, flags.tls));
  }

  // The lines scripts and tests wait for, on stdout; logs go to stderr.
  std::printf("listening on %s\n", server->address().c_str());
  // IPv6 hosts in brackets, as a client would dial them.
  const bool ipv6 = flags.host.find(':') != std::string::npos && flags.host[0] != '[';
  const auto print_address = [&](const char* label, int port) {
    std::printf(ipv6 ? "%s on [%s]:%d\n" : "%s on %s:%d\n", label, flags.host.c_str(), port);
  };
  if (metrics_http.running()) print_address("metrics", metrics_http.port());
  if (http.running()) print_address("http", http.port());
  std::fflush(stdout);
  logger->Info("serving", {{"address", server->address()},
                           {"metrics_port", metrics_http.port()},
                           {"session_budget_bytes", flags.session_budget_bytes},
                           {"session_dir", flags.session_dir},
                           {"authentication", flags.admission != nullptr &&
                                                  flags.admission->authenticates()},
                           {"tls", flags.tls.enabled() ? (flags.tls.client_ca_file.empty()
                                                              ? "server"
                                                              : "mutual")
                                                       : "off"}});

  int signal_number = 0;
  sigwait(&shutdown_signals, &signal_number);
  logger->Info("shutting down", {{"signal", signal_number == SIGINT ? "SIGINT" : "SIGTERM"},
                                 {"grace_seconds", absl::ToDoubleSeconds(flags.grace)}});
  // HTTP streams are cancelled at once (their clients see the stream end); gRPC calls get the grace.
  http.Stop();
  server->Shutdown(flags.grace);
  metrics_http.Stop();
  logger->Info("stopped");
  return absl::OkStatus();
}

}  // namespace liger
