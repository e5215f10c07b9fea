#include "service/rpc_scope.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "service/status_conversion.h"

namespace liger::service {
namespace {

constexpr char kRequestIdMetadataKey[] = "x-request-id";
constexpr size_t kMaxClientRequestIdLength = 128;
constexpr char kAuthorizationMetadataKey[] = "authorization";

// A client's id is kept only if it cannot garble a log line or a metadata header.
bool IsUsableRequestId(absl::string_view id) {
  return !id.empty() && id.size() <= kMaxClientRequestIdLength &&
         std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

// 16 random bytes as 32 hex digits: unique in practice, and free of any meaning.
std::string NewRandomRequestId() {
  thread_local absl::BitGen generator;
  std::string bytes(16, '\0');
  for (char& c : bytes) c = static_cast<char>(absl::Uniform<uint8_t>(generator));
  return absl::BytesToHexString(bytes);
}

}  // namespace

RpcScope::RpcScope(absl::string_view method, grpc::CallbackServerContext* context, DrainGate* gate,
                   const CallerAdmission* admission, ServiceMetrics* metrics, StructuredLogger* logger)
    : method_(method),
      peer_(context->peer()),
      start_(absl::Now()),
      gate_(gate),
      entered_gate_(gate->TryEnter()),
      metrics_(metrics),
      logger_(logger) {
  const auto& client_metadata = context->client_metadata();
  auto it = client_metadata.find(kRequestIdMetadataKey);
  if (it != client_metadata.end()) {
    const absl::string_view client_id(it->second.data(), it->second.size());
    if (IsUsableRequestId(client_id)) request_id_ = std::string(client_id);
  }
  if (request_id_.empty()) request_id_ = NewRandomRequestId();
  context->AddInitialMetadata(kRequestIdMetadataKey, request_id_);
  if (!entered_gate_) {
    rejection_ = absl::UnavailableError("the server is shutting down; retry on another instance");
  } else if (admission != nullptr) {
    auto header = client_metadata.find(kAuthorizationMetadataKey);
    const absl::string_view authorization =
        header == client_metadata.end() ? absl::string_view()
                                        : absl::string_view(header->second.data(), header->second.size());
    absl::StatusOr<std::string> tenant = admission->Admit(authorization);
    if (tenant.ok()) {
      tenant_ = *std::move(tenant);
    } else {
      rejection_ = tenant.status();
    }
  }
}

RpcScope::~RpcScope() {
  if (entered_gate_) gate_->Leave();
}

void RpcScope::AddLogField(std::string key, nlohmann::ordered_json value) {
  extra_fields_.emplace_back(std::move(key), std::move(value));
}

grpc::Status RpcScope::Finish(const absl::Status& status) {
  const absl::Duration latency = absl::Now() - start_;
  metrics_->RecordRequest(method_, status.code(), latency);
  LogFields fields = {{"request_id", request_id_},
                      {"method", method_},
                      {"code", absl::StatusCodeToString(status.code())},
                      {"duration_ms", absl::ToDoubleMilliseconds(latency)},
                      {"peer", peer_}};
  if (!tenant_.empty()) fields.emplace_back("tenant", tenant_);
  for (auto& field : extra_fields_) fields.push_back(std::move(field));
  if (!status.ok()) fields.emplace_back("error", std::string(status.message()));
  // Server-side faults are errors; a client's bad request is worth a warning at most.
  const bool server_fault = status.code() == absl::StatusCode::kInternal ||
                            status.code() == absl::StatusCode::kUnknown ||
                            status.code() == absl::StatusCode::kDataLoss;
  logger_->Log(server_fault ? spdlog::level::err : spdlog::level::info, "rpc finished", fields);
  return ToGrpcStatus(status);
}

}  // namespace liger::service
