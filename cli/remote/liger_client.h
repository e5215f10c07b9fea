#pragma once

#include <functional>
#include <memory>
#include <string>

#include <grpcpp/channel.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "liger/v1/liger.grpc.pb.h"

namespace liger::cli {

// The CLI's connection to a `liger serve`: the generated stub behind absl::Status results. Errors
// keep the server's code and carry its name in the message ("NOT_FOUND: session ... not found"),
// so the one line the CLI prints says both. Calls carry the API key in LIGER_API_KEY, if set, as
// `authorization: Bearer <key>` metadata; LIGER_TLS_CA (and LIGER_TLS_CERT, LIGER_TLS_KEY for
// mutual TLS) connect over TLS.
class LigerClient {
 public:
  static constexpr char kApiKeyEnvironmentVariable[] = "LIGER_API_KEY";

  // How long Connect waits for the server to accept the connection.
  static constexpr absl::Duration kDefaultConnectTimeout = absl::Seconds(5);

  // Connects to HOST:PORT; UNAVAILABLE naming the address when no server answers in time,
  // INVALID_ARGUMENT for an empty address.
  static absl::StatusOr<std::unique_ptr<LigerClient>> Connect(
      const std::string& address, absl::Duration connect_timeout = kDefaultConnectTimeout);

  const std::string& address() const { return address_; }

  // OK when grpc.health.v1 reports the server SERVING; UNAVAILABLE when it is NOT_SERVING
  // (starting, draining, no model loaded).
  absl::Status CheckHealth();

  absl::StatusOr<v1::TokenizeResponse> Tokenize(const v1::TokenizeRequest& request);
  absl::StatusOr<v1::DetokenizeResponse> Detokenize(const v1::DetokenizeRequest& request);

  // Calls `on_response` for every streamed message as it arrives; a non-OK status from it
  // cancels the call and is returned.
  absl::Status Generate(const v1::GenerateRequest& request,
                        const std::function<absl::Status(const v1::GenerateResponse&)>& on_response);

  absl::StatusOr<v1::Session> CreateSession(const v1::CreateSessionRequest& request);
  absl::StatusOr<v1::Session> GetSession(const std::string& session_id);
  absl::Status DeleteSession(const std::string& session_id);
  absl::StatusOr<v1::Session> ForkSession(const std::string& session_id);
  absl::StatusOr<v1::ListSessionsResponse> ListSessions(const v1::ListSessionsRequest& request);

  // Streams the conversion's progress to `on_progress`; returns the final result. INTERNAL if the
  // stream ends without one.
  absl::StatusOr<v1::ConvertResult> Convert(
      const v1::ConvertRequest& request,
      const std::function<void(const v1::ConvertProgress&)>& on_progress);

  absl::StatusOr<v1::Job> FineTune(const v1::FineTuneRequest& request);
  // Streams snapshots of the job to `on_update` until the server ends the stream.
  absl::Status WatchJob(const std::string& job_id,
                        const std::function<void(const v1::Job&)>& on_update);

 private:
  LigerClient(std::string address, std::shared_ptr<grpc::Channel> channel);
  // Adds the API key, if any, to a call's metadata.
  void Authorize(grpc::ClientContext* context) const;

  // The client's view of a failed call: the status with its code name and, for an unreachable
  // server, the address.
  absl::Status FromGrpc(const grpc::Status& status) const;

  const std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string api_key_;  // empty: calls carry none
  std::unique_ptr<v1::LigerService::Stub> stub_;
};

}  // namespace liger::cli
