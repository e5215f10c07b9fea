#include "service/metrics/http_listener.h"

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include <httplib.h>

#include "absl/strings/str_cat.h"

namespace liger::metrics {
namespace {

void SetReuseAddressOnly(socket_t sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

}  // namespace

HttpListener::HttpListener(std::string what) : what_(std::move(what)) {}

HttpListener::~HttpListener() { Stop(); }

absl::Status HttpListener::Start(std::unique_ptr<httplib::Server> server, const std::string& host,
                                 int port) {
  if (server_ != nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(what_, " server already running on port ", port_));
  }
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(what_, " port ", port, " is not in [0, 65535]"));
  }
  server->set_socket_options(SetReuseAddressOnly);
  errno = 0;
  const int bound_port = port == 0 ? server->bind_to_any_port(host)
                                   : (server->bind_to_port(host, port) ? port : -1);
  if (bound_port < 0) {
    const int error = errno;
    return absl::UnavailableError(absl::StrCat("cannot listen on ", host, ":", port,
                                               error != 0 ? ": " : "",
                                               error != 0 ? std::strerror(error) : ""));
  }
  httplib::Server* raw_server = server.get();
  listen_returned_ = false;
  listen_thread_ = std::thread([this, raw_server] {
    raw_server->listen_after_bind();
    listen_returned_ = true;
  });
  // httplib's stop() does nothing until the listen loop has marked itself running, so a Stop()
  // right after Start() could otherwise leave the thread listening forever.
  while (!raw_server->is_running()) {
    if (listen_returned_) {
      listen_thread_.join();
      return absl::InternalError(absl::StrCat(what_, " server on ", host, ":", bound_port,
                                              " stopped listening at once"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  server_ = std::move(server);
  port_ = bound_port;
  return absl::OkStatus();
}

void HttpListener::Stop() {
  if (server_ == nullptr) return;
  server_->stop();
  listen_thread_.join();
  server_.reset();
  port_ = 0;
}

}  // namespace liger::metrics
