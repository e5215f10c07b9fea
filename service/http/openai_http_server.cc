#include "service/http/openai_http_server.h"

#include <httplib.h>

#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "core/hosting/new_session.h"
#include "service/http/openai_translation.h"
#include "service/http/streamed_generation.h"

namespace liger::service::http {
namespace {

// Each open stream holds a worker thread while it waits for tokens.
constexpr int kHttpThreads = 64;
constexpr char kJson[] = "application/json";
constexpr char kSessionHeader[] = "X-Liger-Session";

void SetError(httplib::Response& response, const absl::Status& status) {
  response.status = HttpStatusFor(status);
  if (absl::IsUnauthenticated(status)) response.set_header("WWW-Authenticate", "Bearer");
  response.set_content(ErrorJson(status), kJson);
}

std::string NewCompletionId(bool chat) {
  absl::BitGen random;
  return absl::StrFormat("%s-%016x%016x", chat ? "chatcmpl" : "cmpl", absl::Uniform<uint64_t>(random),
                         absl::Uniform<uint64_t>(random));
}

std::string Event(const std::string& data) { return absl::StrCat("data: ", data, "\n\n"); }

}  // namespace

OpenAiHttpServer::OpenAiHttpServer(ModelRegistry* models, SessionStore* sessions,
                                   std::string web_page, size_t max_request_bytes,
                                   const CallerAdmission* admission)
    : models_(models),
      sessions_(sessions),
      admission_(admission),
      web_page_(std::move(web_page)),
      max_request_bytes_(max_request_bytes),
      listener_("HTTP") {}

OpenAiHttpServer::~OpenAiHttpServer() { Stop(); }

std::function<void(const httplib::Request&, httplib::Response&)> OpenAiHttpServer::Admitted(
    TenantHandler handler) const {
  return [this, handler = std::move(handler)](const httplib::Request& request,
                                              httplib::Response& response) {
    absl::StatusOr<std::string> tenant = std::string();
    if (admission_ != nullptr) tenant = admission_->Admit(request.get_header_value("Authorization"));
    if (!tenant.ok()) return SetError(response, tenant.status());
    handler(request, response, *tenant);
  };
}

void OpenAiHttpServer::Track(const std::shared_ptr<StreamedGeneration>& generation) {
  absl::MutexLock lock(&mu_);
  active_.insert(generation);
}

void OpenAiHttpServer::Untrack(const std::shared_ptr<StreamedGeneration>& generation) {
  absl::MutexLock lock(&mu_);
  active_.erase(generation);
}

void OpenAiHttpServer::HandleModels(httplib::Response& response, const std::string& tenant) {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& model : models_->List(tenant)) {
    data.push_back({{"id", model->name},
                    {"object", "model"},
                    {"created", absl::ToUnixSeconds(model->loaded_at)},
                    {"owned_by", "liger"}});
  }
  response.set_content(nlohmann::json{{"object", "list"}, {"data", data}}.dump(), kJson);
}

void OpenAiHttpServer::HandleSessions(const httplib::Request& request, httplib::Response& response,
                                      const std::string& tenant) {
  if (request.method == "POST") {
    absl::StatusOr<std::string> name = ModelFromBody(request.body);
    if (!name.ok()) return SetError(response, name.status());
    absl::StatusOr<std::shared_ptr<const HostedModel>> model = models_->Find(*name, tenant);
    if (!model.ok()) return SetError(response, model.status());
    absl::StatusOr<SessionInfo> session = NewSession(**model, *sessions_, tenant);
    if (!session.ok()) return SetError(response, session.status());
    return response.set_content(SessionJson(*session), kJson);
  }
  const std::string id = request.matches[1];
  if (request.method == "DELETE") {
    if (absl::Status deleted = sessions_->Delete(id, tenant); !deleted.ok()) {
      return SetError(response, deleted);
    }
    return response.set_content(nlohmann::json{{"id", id}, {"deleted", true}}.dump(), kJson);
  }
  absl::StatusOr<SessionInfo> session = sessions_->Get(id, tenant);
  if (!session.ok()) return SetError(response, session.status());
  response.set_content(SessionJson(*session), kJson);
}

void OpenAiHttpServer::HandleCompletion(const httplib::Request& request,
                                        httplib::Response& response, const std::string& tenant,
                                        bool chat) {
  absl::StatusOr<CompletionRequest> parsed = ParseCompletionRequest(request.body, chat);
  if (!parsed.ok()) return SetError(response, parsed.status());
  absl::StatusOr<std::shared_ptr<const HostedModel>> model = models_->Find(parsed->model, tenant);
  if (!model.ok()) return SetError(response, model.status());
  const std::string session_id = request.get_header_value(kSessionHeader);
  absl::StatusOr<std::shared_ptr<StreamedGeneration>> started = StreamedGeneration::Start(
      **model, *sessions_, session_id, tenant, parsed->prompt, parsed->options);
  if (!started.ok()) return SetError(response, started.status());
  std::shared_ptr<StreamedGeneration> generation = *std::move(started);
  const CompletionIdentity identity{NewCompletionId(chat), (*model)->name,
                                    absl::ToUnixSeconds(absl::Now())};
  if (!session_id.empty()) response.set_header(kSessionHeader, session_id);
  Track(generation);

  if (!parsed->stream) {
    std::string text;
    GenerationEnd end;
    while (std::optional<StreamedGeneration::Event> event = generation->Next()) {
      if (event->token.has_value()) text += event->token->text_delta;
      if (event->end.has_value()) end = *event->end;
    }
    Untrack(generation);
    // A generation that failed before its first token is the request's error; a later failure
    // keeps what was generated, as the gRPC stream does.
    if (!end.status.ok() && end.usage.generated_tokens == 0) return SetError(response, end.status);
    response.set_content(CompletionJson(identity, chat, text, end), kJson);
    return;
  }

  response.set_header("Cache-Control", "no-cache");
  response.set_header("X-Accel-Buffering", "no");  // proxies must pass events on at once
  response.set_chunked_content_provider(
      "text/event-stream",
      [generation, identity, chat](size_t, httplib::DataSink& sink) {
        std::optional<StreamedGeneration::Event> event = generation->Next();
        if (!event.has_value()) {
          sink.done();
          return true;
        }
        std::string out;
        if (event->token.has_value() && !event->token->text_delta.empty()) {
          out = Event(ChunkJson(identity, chat, event->token->text_delta));
        }
        if (event->end.has_value()) {
          const GenerationEnd& end = *event->end;
          out += Event(end.status.ok() || end.usage.generated_tokens > 0 || absl::IsUnavailable(end.status)
                           ? FinalChunkJson(identity, chat, end)
                           : ErrorJson(end.status));
          out += Event("[DONE]");
        }
        if (!out.empty() && !sink.write(out.data(), out.size())) {
          generation->Cancel();  // the client went away
          return false;
        }
        if (event->end.has_value()) sink.done();
        return true;
      },
      [this, generation](bool success) {
        if (!success) generation->Cancel();
        // Drain to the end so the session's lease is back before the next request can use it.
        while (generation->Next().has_value()) {
        }
        Untrack(generation);
      });
}

absl::Status OpenAiHttpServer::Start(const std::string& host, int port, const TlsOptions& tls) {
  if (absl::Status s = tls.Validate(); !s.ok()) return s;
  std::unique_ptr<httplib::Server> server;
  if (tls.enabled()) {
    auto ssl = std::make_unique<httplib::SSLServer>(
        tls.cert_file.c_str(), tls.key_file.c_str(),
        tls.client_ca_file.empty() ? nullptr : tls.client_ca_file.c_str());
    if (!ssl->is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the HTTP port's TLS certificate ", tls.cert_file, ", key ", tls.key_file,
          tls.client_ca_file.empty() ? "" : absl::StrCat(" or client CA ", tls.client_ca_file),
          " did not load"));
    }
    server = std::move(ssl);
  } else {
    server = std::make_unique<httplib::Server>();
  }
  server->new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
  server->set_payload_max_length(max_request_bytes_);
  // Errors httplib answers itself (an oversized body, an unknown path) get the same JSON body as
  // the handlers' errors.
  server->set_error_handler([limit = max_request_bytes_](const httplib::Request& request,
                                                         httplib::Response& response) {
    if (!response.body.empty()) return;
    absl::Status error;
    if (response.status == 413) {
      error = absl::ResourceExhaustedError(
          absl::StrCat("the request body is larger than the server takes (", limit, " bytes)"));
    } else if (response.status == 404) {
      error = absl::NotFoundError(absl::StrCat("no endpoint ", request.method, " ", request.path));
    } else {
      error = absl::UnknownError(absl::StrCat("HTTP status ", response.status));
    }
    response.set_content(ErrorJson(error), "application/json");
  });
  server->Post("/v1/completions", Admitted([this](const httplib::Request& request,
                                                   httplib::Response& response,
                                                   const std::string& tenant) {
                 HandleCompletion(request, response, tenant, /*chat=*/false);
               }));
  server->Post("/v1/chat/completions", Admitted([this](const httplib::Request& request,
                                                        httplib::Response& response,
                                                        const std::string& tenant) {
                 HandleCompletion(request, response, tenant, /*chat=*/true);
               }));
  server->Get("/v1/models", Admitted([this](const httplib::Request&, httplib::Response& response,
                                            const std::string& tenant) {
                HandleModels(response, tenant);
              }));
  const httplib::Server::Handler sessions =
      Admitted([this](const httplib::Request& request, httplib::Response& response,
                      const std::string& tenant) { HandleSessions(request, response, tenant); });
  server->Post("/v1/sessions", sessions);
  server->Get(R"(/v1/sessions/([A-Za-z0-9_-]+))", sessions);
  server->Delete(R"(/v1/sessions/([A-Za-z0-9_-]+))", sessions);
  server->Get("/", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(web_page_, "text/html; charset=utf-8");
  });
  return listener_.Start(std::move(server), host, port);
}

void OpenAiHttpServer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    for (const auto& generation : active_) generation->Cancel();
  }
  listener_.Stop();
}

}  // namespace liger::service::http
