#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace httplib {
class Server;
}

namespace liger::metrics {

// Runs a configured httplib::Server's accept loop on a thread of its own: binds host:port (0 picks
// a free port) with SO_REUSEADDR only (httplib's default SO_REUSEPORT would let a second server
// share a port in use), and Stop stops and joins. The metrics endpoint and the HTTP API use it.
class HttpListener {
 public:
  // `what` names the server in errors ("metrics", "HTTP").
  explicit HttpListener(std::string what);
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // INVALID_ARGUMENT for a port outside [0, 65535], FAILED_PRECONDITION when already running,
  // UNAVAILABLE when the address cannot be bound (port in use, unknown host).
  absl::Status Start(std::unique_ptr<httplib::Server> server, const std::string& host, int port);
  // A no-op when not running; Start may be called again.
  void Stop();

  bool running() const { return server_ != nullptr; }
  int port() const { return port_; }  // the bound port while running, 0 otherwise

 private:
  const std::string what_;
  std::unique_ptr<httplib::Server> server_;
  std::thread listen_thread_;
  std::atomic<bool> listen_returned_{false};
  int port_ = 0;
};

}  // namespace liger::metrics
