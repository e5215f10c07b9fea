// Runs Debian's Prometheus against a MetricsHttpServer and checks, through Prometheus' query API,
// that it scraped and stored the samples: the end-to-end proof that the exposition text parses.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "service/metrics/metrics_http_server.h"
#include "service/metrics/registry.h"
#include "tests/core/io/temp_dir.h"
#include "tests/service/metrics/child_process.h"

namespace liger::metrics {
namespace {

constexpr char kPrometheusBinary[] = "/usr/bin/prometheus";
constexpr auto kScrapeDeadline = std::chrono::seconds(60);

// A port that was free a moment ago: bind port 0, read the port, close. Another process could take
// it in between, which is unlikely enough for a test.
int PickFreeLocalPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// The `data.result` array of an instant query, or nullopt while Prometheus is not answering yet.
std::optional<nlohmann::json> InstantQuery(httplib::Client& client, const std::string& promql) {
  httplib::Result result = client.Get("/api/v1/query", {{"query", promql}}, httplib::Headers());
  if (!result || result->status != 200) return std::nullopt;
  nlohmann::json body = nlohmann::json::parse(result->body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || body.value("status", "") != "success") return std::nullopt;
  const nlohmann::json* data_result = nullptr;
  if (body.contains("data") && body["data"].is_object() && body["data"].contains("result")) {
    data_result = &body["data"]["result"];
  }
  if (data_result == nullptr || !data_result->is_array()) return std::nullopt;
  return *data_result;
}

// The value of the single series a query returns, as Prometheus prints it ("7"), or "" when the
// query returned no series (not scraped yet) or several.
std::string SingleSeriesValue(const std::optional<nlohmann::json>& result) {
  if (!result || result->size() != 1) return "";
  const nlohmann::json& value = (*result)[0]["value"];
  if (!value.is_array() || value.size() != 2 || !value[1].is_string()) return "";
  return value[1].get<std::string>();
}

TEST(PrometheusScrapeTest, PrometheusScrapesCountersAndHistograms) {
  ASSERT_EQ(access(kPrometheusBinary, X_OK), 0)
      << kPrometheusBinary << " is missing: install Debian's `prometheus` package (scripts/setup "
      << "does); this test needs the real server and is not skipped without it";

  Registry registry;
  absl::StatusOr<Family<Counter>*> requests = registry.AddCounter(
      "liger_test_requests_total", "Requests by method and code.", {"method", "code"});
  ASSERT_TRUE(requests.ok()) << requests.status();
  absl::StatusOr<Counter*> generate_ok = (*requests)->WithLabels({"Generate", "OK"});
  ASSERT_TRUE(generate_ok.ok()) << generate_ok.status();
  for (int i = 0; i < 7; ++i) (*generate_ok)->Inc();
  absl::StatusOr<Family<Histogram>*> latency = registry.AddHistogram(
      "liger_test_latency_seconds", "Latency \"quoted\"\nsecond line.", {}, {0.1, 1, 2.5});
  ASSERT_TRUE(latency.ok()) << latency.status();
  absl::StatusOr<Histogram*> histogram = (*latency)->WithLabels({});
  ASSERT_TRUE(histogram.ok()) << histogram.status();
  for (double v : {0.05, 0.5, 1.0, 3.0}) (*histogram)->Observe(v);

  MetricsHttpServer server(registry);
  const absl::Status started = server.Start("127.0.0.1", 0);
  ASSERT_TRUE(started.ok()) << started;

  liger::testing::TempDir dir;
  const std::string config_path = dir.File("prometheus.yml");
  {
    std::ofstream config(config_path);
    config << "global:\n"
           << "  scrape_interval: 1s\n"
           << "  evaluation_interval: 1s\n"
           << "scrape_configs:\n"
           << "  - job_name: liger_test\n"
           << "    static_configs:\n"
           << "      - targets: ['127.0.0.1:" << server.port() << "']\n";
    ASSERT_TRUE(config.good()) << "cannot write " << config_path;
  }
  const int prometheus_port = PickFreeLocalPort();
  ASSERT_GT(prometheus_port, 0) << "no free local port for prometheus";
  const std::string log_path = dir.File("prometheus.log");
  absl::StatusOr<std::unique_ptr<liger::testing::ChildProcess>> prometheus =
      liger::testing::ChildProcess::Start(
          {kPrometheusBinary, "--config.file=" + config_path,
           "--storage.tsdb.path=" + dir.File("data"),
           "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)},
          log_path);
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();

  httplib::Client client("127.0.0.1", prometheus_port);
  client.set_connection_timeout(1);
  client.set_read_timeout(5);
  std::string requests_value;
  std::string bucket_value;
  std::string count_value;
  const auto deadline = std::chrono::steady_clock::now() + kScrapeDeadline;
  while (std::chrono::steady_clock::now() < deadline) {
    ASSERT_FALSE((*prometheus)->HasExited())
        << "prometheus ended early (" << (*prometheus)->ExitDescription() << "); its log:\n"
        << ReadWholeFile(log_path);
    requests_value = SingleSeriesValue(InstantQuery(
        client, "liger_test_requests_total{job=\"liger_test\",method=\"Generate\",code=\"OK\"}"));
    bucket_value =
        SingleSeriesValue(InstantQuery(client, "liger_test_latency_seconds_bucket{le=\"1\"}"));
    count_value = SingleSeriesValue(InstantQuery(client, "liger_test_latency_seconds_count"));
    if (!requests_value.empty() && !bucket_value.empty() && !count_value.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_EQ(requests_value, "7") << "prometheus log:\n" << ReadWholeFile(log_path);
  // 0.05, 0.5 and 1.0 are <= 1 (a value equal to the bound counts in its bucket).
  EXPECT_EQ(bucket_value, "3");
  EXPECT_EQ(count_value, "4");
  // The scrape succeeded as a whole (a parse error would make `up` 0).
  EXPECT_EQ(SingleSeriesValue(InstantQuery(client, "up{job=\"liger_test\"}")), "1");
}

}  // namespace
}  // namespace liger::metrics
