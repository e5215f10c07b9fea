#include "service/structured_logger.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace liger::service {
namespace {

// A logger writing into a string stream, and the lines it wrote.
class CapturedLog {
 public:
  explicit CapturedLog(LogFormat format)
      : logger_(format, {std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_)}) {}

  StructuredLogger& logger() { return logger_; }
  std::vector<std::string> Lines() const {
    return absl::StrSplit(stream_.str(), '\n', absl::SkipEmpty());
  }

 private:
  std::ostringstream stream_;
  StructuredLogger logger_;
};

TEST(StructuredLoggerTest, ParsesFormatNames) {
  EXPECT_EQ(*ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(ParseLogFormat("JSON").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseLogFormat("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StructuredLoggerTest, JsonLinesAreObjectsWithTypedFields) {
  CapturedLog log(LogFormat::kJson);
  log.logger().Info("rpc finished", {{"request_id", "abc"}, {"duration_ms", 1.5}, {"ok", true}});
  log.logger().Error("boom \"quoted\"\nnext", {{"code", 13}});
  const std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), 2u);

  const nlohmann::json first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["level"], "info");
  EXPECT_EQ(first["msg"], "rpc finished");
  EXPECT_EQ(first["request_id"], "abc");
  EXPECT_EQ(first["duration_ms"], 1.5);
  EXPECT_EQ(first["ok"], true);
  const std::string time = first["time"];
  EXPECT_EQ(time.size(), std::string("2024-01-02T03:04:05.678Z").size()) << time;
  EXPECT_EQ(time.back(), 'Z');

  const nlohmann::json second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(second["level"], "error");
  EXPECT_EQ(second["msg"], "boom \"quoted\"\nnext");
  EXPECT_EQ(second["code"], 13);
}

TEST(StructuredLoggerTest, JsonSurvivesInvalidUtf8) {
  CapturedLog log(LogFormat::kJson);
  log.logger().Warn("odd bytes", {{"text", std::string("a\xff\xfe"
                                                       "b")}});
  const std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), 1u);
  const nlohmann::json line = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(line["level"], "warning");
  EXPECT_TRUE(absl::StartsWith(line["text"].get<std::string>(), "a"));
}

TEST(StructuredLoggerTest, TextLinesQuoteOnlyWhatNeedsIt) {
  CapturedLog log(LogFormat::kText);
  log.logger().Info(
      "rpc finished",
      {{"method", "Tokenize"}, {"error", "no model named \"x\""}, {"empty", ""}, {"count", 3}});
  const std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(absl::StrContains(lines[0],
                                "[info] rpc finished method=Tokenize "
                                "error=\"no model named \\\"x\\\"\" empty=\"\" count=3"))
      << lines[0];
  EXPECT_EQ(lines[0][0], '[');
}

}  // namespace
}  // namespace liger::service
