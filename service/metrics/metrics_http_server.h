#pragma once

#include <string>

#include "absl/status/status.h"
#include "service/metrics/http_listener.h"
#include "service/metrics/registry.h"

namespace liger::metrics {

// Serves a Registry for Prometheus to scrape: GET /metrics returns the text exposition format
// 0.0.4, GET /healthz returns "ok", any other path 404. Requests are handled on a small pool of
// background threads. Start and Stop are meant to be called from one thread; the registry must
// outlive the server.
class MetricsHttpServer {
 public:
  explicit MetricsHttpServer(const Registry& registry);
  // Stops the server if it is running.
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Binds host:port and starts serving; port 0 picks a free port (see port()). Errors:
  // INVALID_ARGUMENT for a port outside [0, 65535], FAILED_PRECONDITION when already running,
  // UNAVAILABLE when the address cannot be bound (port in use, unknown host).
  absl::Status Start(const std::string& host, int port);

  // Stops serving and joins the threads; a no-op when not running. Start may be called again.
  void Stop();

  bool running() const { return listener_.running(); }
  // The bound port while running, 0 otherwise.
  int port() const { return listener_.port(); }

 private:
  const Registry& registry_;
  HttpListener listener_;
};

}  // namespace liger::metrics
