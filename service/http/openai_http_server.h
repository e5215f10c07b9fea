#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/auth/caller_admission.h"
#include "core/hosting/model_registry.h"
#include "core/serving/session_store.h"
#include "service/metrics/http_listener.h"
#include "service/tls_options.h"

namespace httplib {
class Request;
class Response;
}  // namespace httplib

namespace liger::service::http {

class StreamedGeneration;

// The browser-facing HTTP API, in the same process as the gRPC service and on the same models and
// sessions: OpenAI-compatible POST /v1/completions and /v1/chat/completions (with "stream": true,
// server-sent events ending in "data: [DONE]", the last one carrying usage), GET /v1/models,
// sessions (POST /v1/sessions, GET and DELETE /v1/sessions/{id}) and GET / serving `web_page`
// (the streaming demo page of clients/web). A completion with the header X-Liger-Session continues
// that session, as GenerateRequest.session_id does. Errors come back
// with the HTTP status for their code and OpenAI's {"error": {...}} body.
class OpenAiHttpServer {
 public:
  // The registry, the store and `keys` must outlive the server. Request bodies over
  // max_request_bytes get 413 Payload Too Large. Every /v1 request passes `admission` (may be
  // null: all admitted, as the empty tenant): a missing or unknown `Authorization: Bearer <key>`
  // gets 401, a key over its rate 429; sessions are the key's tenant's. The page at / stays open.
  OpenAiHttpServer(ModelRegistry* models, SessionStore* sessions, std::string web_page,
                   size_t max_request_bytes, const CallerAdmission* admission = nullptr);
  ~OpenAiHttpServer();
  OpenAiHttpServer(const OpenAiHttpServer&) = delete;
  OpenAiHttpServer& operator=(const OpenAiHttpServer&) = delete;

  // Binds host:port (0 picks a free port) and serves on background threads, over TLS when `tls` is
  // enabled (requiring client certificates when it names a client CA). INVALID_ARGUMENT for a port
  // outside [0, 65535] or TLS files that do not load, FAILED_PRECONDITION when running,
  // UNAVAILABLE if it cannot bind.
  absl::Status Start(const std::string& host, int port, const TlsOptions& tls = {});
  // Stops serving: open streams are cancelled; joins the threads. A no-op when not running.
  void Stop();

  bool running() const { return listener_.running(); }
  int port() const { return listener_.port(); }

 private:
  // A /v1 handler, given the caller's tenant.
  using TenantHandler = std::function<void(const httplib::Request& request,
                                           httplib::Response& response, const std::string& tenant)>;
  // The one place /v1 requests are admitted (CallerAdmission::Admit): `handler` runs with the
  // request's tenant, or the response is the admission's error.
  std::function<void(const httplib::Request&, httplib::Response&)> Admitted(
      TenantHandler handler) const;
  void HandleCompletion(const httplib::Request& request, httplib::Response& response,
                        const std::string& tenant, bool chat);
  void HandleModels(httplib::Response& response, const std::string& tenant);
  void HandleSessions(const httplib::Request& request, httplib::Response& response,
                      const std::string& tenant);
  // Generations in flight, so that Stop can cancel them instead of waiting for their last token.
  void Track(const std::shared_ptr<StreamedGeneration>& generation);
  void Untrack(const std::shared_ptr<StreamedGeneration>& generation);

  ModelRegistry* const models_;
  SessionStore* const sessions_;
  const CallerAdmission* const admission_;
  const std::string web_page_;
  const size_t max_request_bytes_;
  metrics::HttpListener listener_;
  absl::Mutex mu_;
  std::set<std::shared_ptr<StreamedGeneration>> active_ ABSL_GUARDED_BY(mu_);
};

}  // namespace liger::service::http
