#include "service/metrics/metrics_http_server.h"

#include <memory>
#include <utility>

#include <httplib.h>


namespace liger::metrics {
namespace {

constexpr char kExpositionContentType[] = "text/plain; version=0.0.4; charset=utf-8";
// Scrapes are rare and cheap; httplib's default pool would start a thread per core.
constexpr size_t kMetricsHttpThreads = 2;

}  // namespace

MetricsHttpServer::MetricsHttpServer(const Registry& registry)
    : registry_(registry), listener_("metrics") {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

absl::Status MetricsHttpServer::Start(const std::string& host, int port) {
  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] { return new httplib::ThreadPool(kMetricsHttpThreads); };
  server->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(registry_.ExpositionText(), kExpositionContentType);
  });
  server->Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("ok\n", "text/plain; charset=utf-8");
  });
  return listener_.Start(std::move(server), host, port);
}

void MetricsHttpServer::Stop() { listener_.Stop(); }

}  // namespace liger::metrics
