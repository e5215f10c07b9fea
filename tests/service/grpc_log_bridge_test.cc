#include "service/grpc_log_bridge.h"

#include <grpc/support/log.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/match.h"

namespace liger::service {
namespace {

TEST(GrpcLogBridgeTest, GrpcLogLinesBecomeStructuredLines) {
  std::ostringstream stream;
  StructuredLogger logger(LogFormat::kJson,
                          {std::make_shared<spdlog::sinks::ostream_sink_mt>(stream)});
  {
    GrpcLogBridge bridge(&logger);
    gpr_log(GPR_ERROR, "bind failed on port %d", 4242);
  }
  const nlohmann::json line = nlohmann::json::parse(stream.str());
  EXPECT_EQ(line["level"], "error");
  EXPECT_EQ(line["msg"], "bind failed on port 4242");
  EXPECT_EQ(line["source"], "grpc");
  EXPECT_TRUE(absl::EndsWith(line["file"].get<std::string>(), "grpc_log_bridge_test.cc"));

  // Once the bridge is gone, gRPC logs its own way again, and not into our logger.
  const std::string before = stream.str();
  gpr_log(GPR_INFO, "after the bridge");
  EXPECT_EQ(stream.str(), before);
}

}  // namespace
}  // namespace liger::service
