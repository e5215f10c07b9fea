#include "service/structured_logger.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "absl/strings/str_cat.h"

namespace liger::service {
namespace {

// spdlog writes time and level; the body fills in the rest. For JSON, the body is the members of
// the object after "level" (the outer braces come from the pattern).
constexpr char kTextLogPattern[] = "[%Y-%m-%dT%H:%M:%S.%eZ] [%l] %v";
constexpr char kJsonLogPattern[] = "{\"time\":\"%Y-%m-%dT%H:%M:%S.%eZ\",\"level\":\"%l\",%v}";

// Text values stay bare when that is unambiguous; anything with spaces, quotes or '=' (or an
// empty string) is written as a JSON string literal so the line can still be split on spaces.
std::string TextLogValue(const nlohmann::ordered_json& value) {
  if (!value.is_string())
    return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  const std::string& s = value.get_ref<const std::string&>();
  const bool bare = !s.empty() && s.find_first_of(" \t\r\n\"=\\") == std::string::npos;
  return bare ? s : value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log format \"", name, "\" (expected text or json)"));
}

StructuredLogger::StructuredLogger(LogFormat format, std::vector<spdlog::sink_ptr> sinks)
    : format_(format),
      logger_(std::make_shared<spdlog::logger>("liger", sinks.begin(), sinks.end())) {
  logger_->set_formatter(std::make_unique<spdlog::pattern_formatter>(
      format == LogFormat::kJson ? kJsonLogPattern : kTextLogPattern,
      spdlog::pattern_time_type::utc));
  logger_->set_level(spdlog::level::info);
  // Lines are few (one per request) and must not be lost if the process is killed.
  logger_->flush_on(spdlog::level::info);
}

std::unique_ptr<StructuredLogger> StructuredLogger::ToStderr(LogFormat format) {
  return std::make_unique<StructuredLogger>(
      format, std::vector<spdlog::sink_ptr>{std::make_shared<spdlog::sinks::stderr_sink_mt>()});
}

void StructuredLogger::Log(spdlog::level::level_enum level, absl::string_view message,
                           const LogFields& fields) {
  if (!logger_->should_log(level)) return;
  logger_->log(level, "{}", FormatBody(message, fields));
}

std::string StructuredLogger::FormatBody(absl::string_view message, const LogFields& fields) const {
  if (format_ == LogFormat::kJson) {
    nlohmann::ordered_json body = nlohmann::ordered_json::object();
    body["msg"] = std::string(message);
    for (const auto& [key, value] : fields) body[key] = value;
    // Invalid UTF-8 (a client's bytes) is replaced rather than thrown on.
    std::string dumped =
        body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    return dumped.substr(1, dumped.size() - 2);
  }
  std::string line(message);
  for (const auto& [key, value] : fields)
    absl::StrAppend(&line, " ", key, "=", TextLogValue(value));
  return line;
}

}  // namespace liger::service
