#include "service/http/openai_translation.h"

#include <cctype>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace liger::service::http {
namespace {

using Json = nlohmann::json;

constexpr int64_t kDefaultCompletionTokens = 16;
constexpr int64_t kDefaultChatTokens = 256;

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("\"", field, "\" ", what));
}

// A number field (absent: `fallback`), within [lo, hi].
absl::StatusOr<double> Number(const Json& body, const char* field, double fallback, double lo,
                              double hi) {
  if (!body.contains(field) || body[field].is_null()) return fallback;
  if (!body[field].is_number()) return Invalid(field, "must be a number");
  const double value = body[field].get<double>();
  if (!(value >= lo && value <= hi)) {
    return Invalid(field, absl::StrCat("must be in [", lo, ", ", hi, "], got ", value));
  }
  return value;
}

absl::StatusOr<int64_t> Integer(const Json& body, const char* field, int64_t fallback, int64_t lo,
                                int64_t hi) {
  if (!body.contains(field) || body[field].is_null()) return fallback;
  if (!body[field].is_number_integer()) return Invalid(field, "must be an integer");
  const int64_t value = body[field].get<int64_t>();
  if (value < lo || value > hi) {
    return Invalid(field, absl::StrCat("must be in [", lo, ", ", hi, "], got ", value));
  }
  return value;
}

absl::StatusOr<std::string> ChatTranscript(const Json& messages) {
  if (!messages.is_array() || messages.empty()) {
    return Invalid("messages", "must be a non-empty list");
  }
  std::string transcript;
  for (const Json& message : messages) {
    if (!message.is_object() || !message.contains("role") || !message["role"].is_string() ||
        !message.contains("content") || !message["content"].is_string()) {
      return Invalid("messages", "must hold {\"role\": string, \"content\": string} objects");
    }
    std::string role = message["role"].get<std::string>();
    if (role.empty()) return Invalid("messages", "must not have an empty role");
    role[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(role[0])));
    absl::StrAppend(&transcript, role, ": ", message["content"].get<std::string>(), "\n");
  }
  return absl::StrCat(transcript, "Assistant:");
}

std::string FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kLength:
      return "length";
    case FinishReason::kStop:
    case FinishReason::kEos:
      return "stop";
    case FinishReason::kCancelled:
      return "cancelled";
  }
  return "stop";
}

Json Usage(const GenerationEnd& end) {
  return {{"prompt_tokens", end.usage.prompt_tokens},
          {"completion_tokens", end.usage.generated_tokens},
          {"total_tokens", end.usage.prompt_tokens + end.usage.generated_tokens}};
}

Json Envelope(const CompletionIdentity& identity, const char* object) {
  return {{"id", identity.id},
          {"object", object},
          {"created", identity.created},
          {"model", identity.model}};
}

}  // namespace

absl::StatusOr<CompletionRequest> ParseCompletionRequest(absl::string_view body, bool chat) {
  const Json json = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError("the request body must be a JSON object");
  }
  CompletionRequest request;
  request.chat = chat;
  if (json.contains("model")) {
    if (!json["model"].is_string()) return Invalid("model", "must be a string");
    request.model = json["model"].get<std::string>();
  }
  if (chat) {
    if (!json.contains("messages")) return Invalid("messages", "is required");
    absl::StatusOr<std::string> transcript = ChatTranscript(json["messages"]);
    if (!transcript.ok()) return transcript.status();
    request.prompt = *std::move(transcript);
  } else {
    if (!json.contains("prompt") || !json["prompt"].is_string()) {
      return Invalid("prompt", "is required and must be a string");
    }
    request.prompt = json["prompt"].get<std::string>();
    if (request.prompt.empty()) return Invalid("prompt", "must not be empty");
  }
  if (json.contains("stream")) {
    if (!json["stream"].is_boolean()) return Invalid("stream", "must be true or false");
    request.stream = json["stream"].get<bool>();
  }
  if (json.contains("n") && !(json["n"].is_number_integer() && json["n"].get<int64_t>() == 1)) {
    return Invalid("n", "must be 1");
  }
  const char* tokens_field = json.contains("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  absl::StatusOr<int64_t> max_tokens =
      Integer(json, tokens_field, chat ? kDefaultChatTokens : kDefaultCompletionTokens, 0,
              std::numeric_limits<int32_t>::max());
  if (!max_tokens.ok()) return max_tokens.status();
  request.options.max_new_tokens = static_cast<int>(*max_tokens);

  SamplingParams& s = request.options.sampling;
  absl::StatusOr<double> temperature = Number(json, "temperature", 1.0, 0.0, 2.0);
  absl::StatusOr<double> top_p = Number(json, "top_p", 1.0, 0.0, 1.0);
  absl::StatusOr<double> presence = Number(json, "presence_penalty", 0.0, -2.0, 2.0);
  absl::StatusOr<double> frequency = Number(json, "frequency_penalty", 0.0, -2.0, 2.0);
  absl::StatusOr<int64_t> seed = Integer(json, "seed", 0, 0, std::numeric_limits<int64_t>::max());
  for (const absl::Status& status : {temperature.status(), top_p.status(), presence.status(),
                                     frequency.status(), seed.status()}) {
    if (!status.ok()) return status;
  }
  // Checked as the float sampling uses: a positive double below float's range (1e-50) rounds to 0.
  if (static_cast<float>(*top_p) <= 0) return Invalid("top_p", "must be greater than 0");
  s.temperature = static_cast<float>(*temperature);
  s.top_p = static_cast<float>(*top_p);
  s.presence_penalty = static_cast<float>(*presence);
  s.frequency_penalty = static_cast<float>(*frequency);
  s.seed = static_cast<uint64_t>(*seed);

  if (json.contains("stop") && !json["stop"].is_null()) {
    const Json& stop = json["stop"];
    if (stop.is_string()) {
      request.options.stop.push_back(stop.get<std::string>());
    } else if (stop.is_array()) {
      for (const Json& s : stop) {
        if (!s.is_string()) return Invalid("stop", "must be a string or a list of strings");
        request.options.stop.push_back(s.get<std::string>());
      }
    } else {
      return Invalid("stop", "must be a string or a list of strings");
    }
  }
  return request;
}

std::string ChunkJson(const CompletionIdentity& identity, bool chat, const std::string& delta) {
  Json json = Envelope(identity, chat ? "chat.completion.chunk" : "text_completion");
  Json choice = {{"index", 0}, {"finish_reason", nullptr}};
  if (chat) {
    choice["delta"] = {{"role", "assistant"}, {"content", delta}};
  } else {
    choice["text"] = delta;
    choice["logprobs"] = nullptr;
  }
  json["choices"] = Json::array({choice});
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string FinalChunkJson(const CompletionIdentity& identity, bool chat, const GenerationEnd& end) {
  Json json = Envelope(identity, chat ? "chat.completion.chunk" : "text_completion");
  Json choice = {{"index", 0}, {"finish_reason", FinishReasonName(end.finish_reason)}};
  if (chat) {
    choice["delta"] = Json::object();
  } else {
    choice["text"] = "";
    choice["logprobs"] = nullptr;
  }
  json["choices"] = Json::array({choice});
  json["usage"] = Usage(end);
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string CompletionJson(const CompletionIdentity& identity, bool chat, const std::string& text,
                           const GenerationEnd& end) {
  Json json = Envelope(identity, chat ? "chat.completion" : "text_completion");
  Json choice = {{"index", 0}, {"finish_reason", FinishReasonName(end.finish_reason)}};
  if (chat) {
    choice["message"] = {{"role", "assistant"}, {"content", text}};
  } else {
    choice["text"] = text;
    choice["logprobs"] = nullptr;
  }
  json["choices"] = Json::array({choice});
  json["usage"] = Usage(end);
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string SessionJson(const SessionInfo& session) {
  return Json{{"id", session.id},
              {"object", "session"},
              {"model", session.model},
              {"tokens", session.tokens},
              {"state_bytes", session.state_bytes}}
      .dump(-1, ' ', false, Json::error_handler_t::replace);
}

absl::StatusOr<std::string> ModelFromBody(absl::string_view body) {
  if (body.empty()) return std::string();
  const Json json = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError("the request body must be a JSON object");
  }
  if (!json.contains("model")) return std::string();
  if (!json["model"].is_string()) return Invalid("model", "must be a string");
  return json["model"].get<std::string>();
}

int HttpStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string ErrorJson(const absl::Status& status) {
  const int http = HttpStatusFor(status);
  const char* type = http == 400 || http == 404 || http == 409 ? "invalid_request_error"
                     : http == 429                             ? "rate_limit_error"
                                                               : "server_error";
  const Json json = {{"error",
                      {{"message", std::string(status.message())},
                       {"type", type},
                       {"code", absl::StatusCodeToString(status.code())}}}};
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace liger::service::http
