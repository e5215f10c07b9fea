#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/service/metrics/child_process.h"

namespace liger::testing {

// Debian's Prometheus server, run for a test: it scrapes one target every second and answers
// PromQL queries over its HTTP API.
class PrometheusInstance {
 public:
  static constexpr char kBinary[] = "/usr/bin/prometheus";

  // Scrapes `target` ("host:port", path /metrics) as job `job`; data and log live in `dir`.
  static absl::StatusOr<std::unique_ptr<PrometheusInstance>> Start(const std::string& target,
                                                                   const std::string& job,
                                                                   const std::string& dir);

  // The value of the single series an instant query returns, as Prometheus prints it ("3"), or ""
  // when the query returns no series (nothing scraped yet), several, or Prometheus is not ready.
  std::string QuerySingleValue(const std::string& promql) const;

  bool HasExited() { return process_->HasExited(); }
  std::string Log() const;

 private:
  PrometheusInstance(std::unique_ptr<ChildProcess> process, int port, std::string log_path)
      : process_(std::move(process)), port_(port), log_path_(std::move(log_path)) {}

  std::unique_ptr<ChildProcess> process_;
  int port_;
  std::string log_path_;
};

}  // namespace liger::testing
