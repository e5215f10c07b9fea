#include "cli/remote/liger_client.h"

#include <chrono>
#include <cstdlib>
#include <optional>
#include <utility>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "core/io/file_util.h"
#include "service/status_conversion.h"

namespace liger::cli {
namespace {

// Unary calls are quick on a healthy server; this only keeps a stuck one from hanging the CLI.
constexpr absl::Duration kClientUnaryDeadline = absl::Seconds(60);

void SetUnaryDeadline(grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + kClientUnaryDeadline));
}

// Plaintext, or TLS when LIGER_TLS_CA names the CA that signed the server's certificate; with
// LIGER_TLS_CERT and LIGER_TLS_KEY the client presents that certificate (mutual TLS).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials() {
  const auto env = [](const char* name) -> std::string {
    const char* value = std::getenv(name);
    return value == nullptr ? "" : value;
  };
  const std::string ca = env("LIGER_TLS_CA"), cert = env("LIGER_TLS_CERT"), key = env("LIGER_TLS_KEY");
  if (ca.empty()) {
    if (!cert.empty() || !key.empty()) {
      return absl::InvalidArgumentError("LIGER_TLS_CERT and LIGER_TLS_KEY need LIGER_TLS_CA");
    }
    return grpc::InsecureChannelCredentials();
  }
  if (cert.empty() != key.empty()) {
    return absl::InvalidArgumentError("LIGER_TLS_CERT and LIGER_TLS_KEY go together");
  }
  grpc::SslCredentialsOptions options;
  absl::StatusOr<std::string> root = ReadFileToString(ca, 1 << 20);
  if (!root.ok()) return root.status();
  options.pem_root_certs = *std::move(root);
  if (!cert.empty()) {
    absl::StatusOr<std::string> chain = ReadFileToString(cert, 1 << 20);
    if (!chain.ok()) return chain.status();
    absl::StatusOr<std::string> private_key = ReadFileToString(key, 1 << 20);
    if (!private_key.ok()) return private_key.status();
    options.pem_cert_chain = *std::move(chain);
    options.pem_private_key = *std::move(private_key);
  }
  return grpc::SslCredentials(options);
}

}  // namespace

absl::StatusOr<std::unique_ptr<LigerClient>> LigerClient::Connect(const std::string& address,
                                                                  absl::Duration connect_timeout) {
  if (address.empty()) return absl::InvalidArgumentError("flag --server must not be empty");
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials = ChannelCredentials();
  if (!credentials.ok()) return credentials.status();
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(address, *credentials);
  if (!channel->WaitForConnected(absl::ToChronoTime(absl::Now() + connect_timeout))) {
    return absl::UnavailableError(absl::StrCat("UNAVAILABLE: no liger server answered at ", address,
                                               " within ", absl::FormatDuration(connect_timeout)));
  }
  return std::unique_ptr<LigerClient>(new LigerClient(address, std::move(channel)));
}

LigerClient::LigerClient(std::string address, std::shared_ptr<grpc::Channel> channel)
    : address_(std::move(address)),
      channel_(std::move(channel)),
      stub_(v1::LigerService::NewStub(channel_)) {
  if (const char* key = std::getenv(kApiKeyEnvironmentVariable); key != nullptr) api_key_ = key;
}

void LigerClient::Authorize(grpc::ClientContext* context) const {
  if (!api_key_.empty()) context->AddMetadata("authorization", absl::StrCat("Bearer ", api_key_));
}

absl::Status LigerClient::FromGrpc(const grpc::Status& status) const {
  const absl::Status converted = service::ToAbslStatus(status);
  if (converted.ok()) return converted;
  std::string message = absl::StrCat(absl::StatusCodeToString(converted.code()), ": ",
                                     converted.message());
  if (absl::IsUnavailable(converted)) absl::StrAppend(&message, " (server ", address_, ")");
  return absl::Status(converted.code(), message);
}

absl::StatusOr<v1::TokenizeResponse> LigerClient::Tokenize(const v1::TokenizeRequest& request) {
  grpc::ClientContext context;
  Authorize(&context);
  SetUnaryDeadline(&context);
  v1::TokenizeResponse response;
  const grpc::Status status = stub_->Tokenize(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

absl::StatusOr<v1::DetokenizeResponse> LigerClient::Detokenize(
    const v1::DetokenizeRequest& request) {
  grpc::ClientContext context;
  Authorize(&context);
  SetUnaryDeadline(&context);
  v1::DetokenizeResponse response;
  const grpc::Status status = stub_->Detokenize(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

absl::Status LigerClient::Generate(
    const v1::GenerateRequest& request,
    const std::function<absl::Status(const v1::GenerateResponse&)>& on_response) {
  // No deadline: a long generation is legitimate, and the server ends the stream.
  grpc::ClientContext context;
  Authorize(&context);
  std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader =
      stub_->Generate(&context, request);
  v1::GenerateResponse response;
  absl::Status handled;
  while (handled.ok() && reader->Read(&response)) handled = on_response(response);
  if (!handled.ok()) context.TryCancel();
  const grpc::Status status = reader->Finish();
  if (!handled.ok()) return handled;
  return FromGrpc(status);
}

absl::Status LigerClient::CheckHealth() {
  grpc::ClientContext context;
  Authorize(&context);
  SetUnaryDeadline(&context);
  const std::unique_ptr<grpc::health::v1::Health::Stub> health =
      grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = health->Check(&context, grpc::health::v1::HealthCheckRequest(), &response);
  if (!status.ok()) return FromGrpc(status);
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(absl::StrCat(
        address_, " is ", grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status())));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Session> LigerClient::CreateSession(const v1::CreateSessionRequest& request) {
  grpc::ClientContext context;
  Authorize(&context);
  SetUnaryDeadline(&context);
  v1::CreateSessionResponse response;
  const grpc::Status status = stub_->CreateSession(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response.session();
}

absl::StatusOr<v1::Session> LigerClient::GetSession(const std::string& session_id) {
  grpc::ClientContext context;
  Authorize(&context);
  SetUnaryDeadline(&context);
  v1::GetSessionRequest request;
  request.set_session_id(session_id);
  v1::GetSessionResponse response;
  const grpc::Status status = stub_->GetSession(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response.session();
}

absl::Status LigerClient::DeleteSession(const std::string& session_id) {
  grpc::ClientContext context;
  Authorize(&context);
  SetUnaryDeadline(&context);
  v1::DeleteSessionRequest request;
  request.set_session_id(session_id);
  v1::DeleteSessionResponse response;
  return FromGrpc(stub_->DeleteSession(&context, request, &response));
}

absl::StatusOr<v1::Session> LigerClient::ForkSession(const std::string& session_id) {
  grpc::ClientContext context;
  Authorize(&context);
  SetUnaryDeadline(&context);
  v1::ForkSessionRequest request;
  request.set_session_id(session_id);
  v1::ForkSessionResponse response;
  const grpc::Status status = stub_->ForkSession(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response.session();
}

absl::StatusOr<v1::ListSessionsResponse> LigerClient::ListSessions(
    const v1::ListSessionsRequest& request) {
  grpc::ClientContext context;
  Authorize(&context);
  SetUnaryDeadline(&context);
  v1::ListSessionsResponse response;
  const grpc::Status status = stub_->ListSessions(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

absl::StatusOr<v1::ConvertResult> LigerClient::Convert(
    const v1::ConvertRequest& request,
    const std::function<void(const v1::ConvertProgress&)>& on_progress) {
  grpc::ClientContext context;
  Authorize(&context);
  std::unique_ptr<grpc::ClientReader<v1::ConvertResponse>> reader =
      stub_->Convert(&context, request);
  v1::ConvertResponse response;
  std::optional<v1::ConvertResult> result;
  while (reader->Read(&response)) {
    if (response.has_progress()) on_progress(response.progress());
    if (response.has_result()) result = response.result();
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) return FromGrpc(status);
  if (!result.has_value()) {
    return absl::InternalError(
        absl::StrCat("INTERNAL: the server at ", address_, " ended the conversion without a result"));
  }
  return *std::move(result);
}

absl::StatusOr<v1::Job> LigerClient::FineTune(const v1::FineTuneRequest& request) {
  grpc::ClientContext context;
  Authorize(&context);
  SetUnaryDeadline(&context);
  v1::FineTuneResponse response;
  const grpc::Status status = stub_->FineTune(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response.job();
}

absl::Status LigerClient::WatchJob(const std::string& job_id,
                                   const std::function<void(const v1::Job&)>& on_update) {
  grpc::ClientContext context;
  Authorize(&context);
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  std::unique_ptr<grpc::ClientReader<v1::WatchJobResponse>> reader =
      stub_->WatchJob(&context, request);
  v1::WatchJobResponse response;
  while (reader->Read(&response)) on_update(response.job());
  return FromGrpc(reader->Finish());
}

}  // namespace liger::cli
