#include "tests/integration/prometheus_instance.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <utility>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace liger::testing {
namespace {

// A loopback port that was free a moment ago; Prometheus takes no port 0, so the port is picked
// here and could, rarely, be taken in between.
int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PrometheusInstance>> PrometheusInstance::Start(
    const std::string& target, const std::string& job, const std::string& dir) {
  if (access(kBinary, X_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        kBinary, " is missing: install Debian's prometheus package (scripts/setup does)"));
  }
  const std::string config_path = dir + "/prometheus.yml";
  {
    std::ofstream config(config_path);
    config << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
           << "scrape_configs:\n  - job_name: " << job << "\n    static_configs:\n"
           << "      - targets: ['" << target << "']\n";
    if (!config.good()) return absl::InternalError(absl::StrCat("cannot write ", config_path));
  }
  const int port = FreeLoopbackPort();
  if (port <= 0) return absl::UnavailableError("no free loopback port for prometheus");
  const std::string log_path = dir + "/prometheus.log";
  absl::StatusOr<std::unique_ptr<ChildProcess>> process = ChildProcess::Start(
      {kBinary, "--config.file=" + config_path, "--storage.tsdb.path=" + dir + "/tsdb",
       "--web.listen-address=127.0.0.1:" + std::to_string(port)},
      log_path);
  if (!process.ok()) return process.status();
  return std::unique_ptr<PrometheusInstance>(
      new PrometheusInstance(std::move(*process), port, log_path));
}

std::string PrometheusInstance::QuerySingleValue(const std::string& promql) const {
  httplib::Client client("127.0.0.1", port_);
  client.set_connection_timeout(1);
  client.set_read_timeout(5);
  httplib::Result result = client.Get("/api/v1/query", {{"query", promql}}, httplib::Headers());
  if (!result || result->status != 200) return "";
  const nlohmann::json body = nlohmann::json::parse(result->body, nullptr, false);
  if (!body.is_object() || body.value("status", "") != "success") return "";
  const nlohmann::json series =
      body.value("data", nlohmann::json::object()).value("result", nlohmann::json::array());
  if (!series.is_array() || series.size() != 1) return "";
  const nlohmann::json value = series[0].value("value", nlohmann::json());
  if (!value.is_array() || value.size() != 2 || !value[1].is_string()) return "";
  return value[1].get<std::string>();
}

std::string PrometheusInstance::Log() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

}  // namespace liger::testing
