#include "service/metrics/metrics_http_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <string>

#include "service/metrics/registry.h"

namespace liger::metrics {
namespace {

constexpr char kExpectedContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// GETs a path from the server on 127.0.0.1:port; a null result means no HTTP response at all.
httplib::Result GetFromLocalPort(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  client.set_read_timeout(5);
  return client.Get(path.c_str());
}

class MetricsHttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<Family<Counter>*> family =
        registry_.AddCounter("http_test_requests_total", "Requests.", {"method"});
    ASSERT_TRUE(family.ok()) << family.status();
    absl::StatusOr<Counter*> counter = (*family)->WithLabels({"Generate"});
    ASSERT_TRUE(counter.ok()) << counter.status();
    counter_ = *counter;
  }

  Registry registry_;
  Counter* counter_ = nullptr;
};

TEST_F(MetricsHttpServerTest, ServesTheExpositionOnAPickedPort) {
  counter_->Inc();
  MetricsHttpServer server(registry_);
  ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
  ASSERT_TRUE(server.running());
  ASSERT_GT(server.port(), 0);

  httplib::Result result = GetFromLocalPort(server.port(), "/metrics");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->get_header_value("Content-Type"), kExpectedContentType);
  EXPECT_EQ(result->body,
            "# HELP http_test_requests_total Requests.\n"
            "# TYPE http_test_requests_total counter\n"
            "http_test_requests_total{method=\"Generate\"} 1\n");

  // Every scrape renders the current values.
  counter_->Inc();
  result = GetFromLocalPort(server.port(), "/metrics");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->body, registry_.ExpositionText());
  EXPECT_NE(result->body.find("{method=\"Generate\"} 2\n"), std::string::npos) << result->body;
}

TEST_F(MetricsHttpServerTest, HealthzAnswersOkAndOtherPathsAre404) {
  MetricsHttpServer server(registry_);
  ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
  httplib::Result health = GetFromLocalPort(server.port(), "/healthz");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");
  for (const char* path : {"/", "/metricsx", "/metrics/extra", "/favicon.ico"}) {
    httplib::Result missing = GetFromLocalPort(server.port(), path);
    ASSERT_TRUE(missing) << path << ": " << httplib::to_string(missing.error());
    EXPECT_EQ(missing->status, 404) << path;
  }
}

TEST_F(MetricsHttpServerTest, StopIsIdempotentAndRestartServesAgain) {
  MetricsHttpServer server(registry_);
  server.Stop();  // never started: a no-op
  ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
  const int port = server.port();
  ASSERT_TRUE(GetFromLocalPort(port, "/metrics"));
  server.Stop();
  server.Stop();
  EXPECT_FALSE(server.running());
  EXPECT_EQ(server.port(), 0);
  EXPECT_FALSE(GetFromLocalPort(port, "/metrics")) << "still serving after Stop";

  // The same port again, right away: connections in TIME_WAIT must not block it.
  ASSERT_TRUE(server.Start("127.0.0.1", port).ok());
  EXPECT_EQ(server.port(), port);
  httplib::Result result = GetFromLocalPort(port, "/metrics");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
}

TEST_F(MetricsHttpServerTest, StopRightAfterStartDoesNotHang) {
  MetricsHttpServer server(registry_);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
    server.Stop();
  }
}

TEST_F(MetricsHttpServerTest, StartWhileRunningIsAPreconditionError) {
  MetricsHttpServer server(registry_);
  ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
  const int port = server.port();
  EXPECT_EQ(server.Start("127.0.0.1", 0).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(server.port(), port);
  EXPECT_TRUE(GetFromLocalPort(port, "/metrics"));
}

TEST_F(MetricsHttpServerTest, PortInUseIsUnavailable) {
  MetricsHttpServer first(registry_);
  ASSERT_TRUE(first.Start("127.0.0.1", 0).ok());
  MetricsHttpServer second(registry_);
  const absl::Status status = second.Start("127.0.0.1", first.port());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_NE(status.message().find(std::to_string(first.port())), absl::string_view::npos) << status;
  EXPECT_FALSE(second.running());
}

TEST_F(MetricsHttpServerTest, UnbindableAddressIsUnavailable) {
  MetricsHttpServer server(registry_);
  // 192.0.2.0/24 is reserved for documentation, so no local interface has it.
  EXPECT_EQ(server.Start("192.0.2.1", 0).code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(server.running());
}

TEST_F(MetricsHttpServerTest, PortOutOfRangeIsInvalid) {
  MetricsHttpServer server(registry_);
  EXPECT_EQ(server.Start("127.0.0.1", -1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.Start("127.0.0.1", 65536).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace liger::metrics
