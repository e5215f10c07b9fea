#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/common.h>
#include <spdlog/logger.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace liger::service {

enum class LogFormat {
  kText,  // [time] [level] message key=value ...
  kJson,  // one JSON object per line: {"time", "level", "msg", fields...}
};

// "text" or "json"; INVALID_ARGUMENT otherwise.
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name);

// A log line's fields, in the order they are written. Values are strings, numbers or booleans.
using LogFields = std::vector<std::pair<std::string, nlohmann::ordered_json>>;

// Log lines of a message plus key-value fields, written through spdlog in text or JSON, so that
// log collectors can index fields such as request_id without parsing prose. Thread-safe.
class StructuredLogger {
 public:
  // Writes to `sinks` (thread-safe sinks, e.g. spdlog's *_mt ones); times are UTC.
  StructuredLogger(LogFormat format, std::vector<spdlog::sink_ptr> sinks);
  // Writes to stderr, leaving stdout to the program's own output.
  static std::unique_ptr<StructuredLogger> ToStderr(LogFormat format);

  StructuredLogger(const StructuredLogger&) = delete;
  StructuredLogger& operator=(const StructuredLogger&) = delete;

  void Log(spdlog::level::level_enum level, absl::string_view message,
           const LogFields& fields = {});
  void Info(absl::string_view message, const LogFields& fields = {}) {
    Log(spdlog::level::info, message, fields);
  }
  void Warn(absl::string_view message, const LogFields& fields = {}) {
    Log(spdlog::level::warn, message, fields);
  }
  void Error(absl::string_view message, const LogFields& fields = {}) {
    Log(spdlog::level::err, message, fields);
  }

  LogFormat format() const { return format_; }

 private:
  // The part of the line after spdlog's time and level: "message k=v ..." or the JSON members.
  std::string FormatBody(absl::string_view message, const LogFields& fields) const;

  const LogFormat format_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace liger::service
