#include "service/liger_service.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"
#include "service/finished_write_reactor.h"
#include "service/model_translation.h"
#include "service/unary_call.h"

namespace liger::service {
namespace {

absl::Status NotOfferedYet(absl::string_view method) {
  return absl::UnimplementedError(
      absl::StrCat("liger.v1.LigerService/", method, " is not available on this server yet"));
}

}  // namespace

LigerServiceImpl::LigerServiceImpl(ModelRegistry* models, DrainGate* gate, ServiceMetrics* metrics,
                                   StructuredLogger* logger,
                                   std::function<void()> on_models_changed)
    : models_(models),
      gate_(gate),
      metrics_(metrics),
      logger_(logger),
      on_models_changed_(std::move(on_models_changed)) {}

// --- Models
// ---------------------------------------------------------------------------------------

grpc::ServerUnaryReactor* LigerServiceImpl::LoadModel(grpc::CallbackServerContext* context,
                                                      const v1::LoadModelRequest* request,
                                                      v1::LoadModelResponse* response) {
  auto* call = new UnaryCall(NewScope(context, "LoadModel"));
  absl::StatusOr<ModelLoadSpec> spec = LoadSpecFromProto(*request);
  if (!call->scope().admitted() || !spec.ok()) {
    call->FinishWith(call->scope().admitted() ? spec.status() : RpcScope::Rejection());
    return call;
  }
  model_loads_.Schedule([this, context, call, response, spec = *std::move(spec)] {
    // A client that gave up while the load waited in line need not cost a load.
    call->FinishWith(context->IsCancelled()
                         ? absl::CancelledError("the client cancelled the request")
                         : DoLoadModel(spec, call->scope(), response));
  });
  return call;
}

absl::Status LigerServiceImpl::DoLoadModel(const ModelLoadSpec& spec, RpcScope& scope,
                                           v1::LoadModelResponse* response) {
  scope.AddLogField("model_dir", spec.model_dir);
  LIGER_ASSIGN_OR_RETURN(std::shared_ptr<const HostedModel> model, models_->Load(spec));
  scope.AddLogField("model", model->name);
  on_models_changed_();
  ModelInfoToProto(*model, response->mutable_model());
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* LigerServiceImpl::UnloadModel(grpc::CallbackServerContext* context,
                                                        const v1::UnloadModelRequest* request,
                                                        v1::UnloadModelResponse* /*response*/) {
  return RunUnary(context, "UnloadModel",
                  [&](RpcScope& scope) { return DoUnloadModel(*request, scope); });
}

absl::Status LigerServiceImpl::DoUnloadModel(const v1::UnloadModelRequest& request,
                                             RpcScope& scope) {
  if (request.name().empty()) return absl::InvalidArgumentError("name is required");
  scope.AddLogField("model", request.name());
  LIGER_RETURN_IF_ERROR(models_->Unload(request.name()));
  on_models_changed_();
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* LigerServiceImpl::ListModels(grpc::CallbackServerContext* context,
                                                       const v1::ListModelsRequest* /*request*/,
                                                       v1::ListModelsResponse* response) {
  return RunUnary(context, "ListModels", [&](RpcScope& /*scope*/) {
    for (const std::shared_ptr<const HostedModel>& model : models_->List()) {
      ModelInfoToProto(*model, response->add_models());
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* LigerServiceImpl::Tokenize(grpc::CallbackServerContext* context,
                                                     const v1::TokenizeRequest* request,
                                                     v1::TokenizeResponse* response) {
  return RunUnary(context, "Tokenize",
                  [&](RpcScope& scope) { return DoTokenize(*request, scope, response); });
}

absl::Status LigerServiceImpl::DoTokenize(const v1::TokenizeRequest& request, RpcScope& scope,
                                          v1::TokenizeResponse* response) {
  LIGER_ASSIGN_OR_RETURN(std::shared_ptr<const HostedModel> model, models_->Find(request.model()));
  scope.AddLogField("model", model->name);
  const bool add_special = request.has_add_special_tokens() ? request.add_special_tokens() : true;
  LIGER_ASSIGN_OR_RETURN(std::vector<int32_t> ids,
                         model->tokenizer->Encode(request.text(), add_special));
  response->mutable_token_ids()->Add(ids.begin(), ids.end());
  response->set_model(model->name);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* LigerServiceImpl::Detokenize(grpc::CallbackServerContext* context,
                                                       const v1::DetokenizeRequest* request,
                                                       v1::DetokenizeResponse* response) {
  return RunUnary(context, "Detokenize",
                  [&](RpcScope& scope) { return DoDetokenize(*request, scope, response); });
}

absl::Status LigerServiceImpl::DoDetokenize(const v1::DetokenizeRequest& request, RpcScope& scope,
                                            v1::DetokenizeResponse* response) {
  LIGER_ASSIGN_OR_RETURN(std::shared_ptr<const HostedModel> model, models_->Find(request.model()));
  scope.AddLogField("model", model->name);
  const std::vector<int32_t> ids(request.token_ids().begin(), request.token_ids().end());
  LIGER_ASSIGN_OR_RETURN(std::string text,
                         model->tokenizer->Decode(ids, request.skip_special_tokens()));
  response->set_text(std::move(text));
  response->set_model(model->name);
  return absl::OkStatus();
}

// --- Not offered yet
// ------------------------------------------------------------------------------

grpc::ServerWriteReactor<v1::GenerateResponse>* LigerServiceImpl::Generate(
    grpc::CallbackServerContext* context, const v1::GenerateRequest* /*request*/) {
  return UnimplementedStream<v1::GenerateResponse>(context, "Generate");
}

grpc::ServerUnaryReactor* LigerServiceImpl::CreateSession(
    grpc::CallbackServerContext* context, const v1::CreateSessionRequest* /*request*/,
    v1::CreateSessionResponse* /*response*/) {
  return UnimplementedUnary(context, "CreateSession");
}

grpc::ServerUnaryReactor* LigerServiceImpl::GetSession(grpc::CallbackServerContext* context,
                                                       const v1::GetSessionRequest* /*request*/,
                                                       v1::GetSessionResponse* /*response*/) {
  return UnimplementedUnary(context, "GetSession");
}

grpc::ServerUnaryReactor* LigerServiceImpl::DeleteSession(
    grpc::CallbackServerContext* context, const v1::DeleteSessionRequest* /*request*/,
    v1::DeleteSessionResponse* /*response*/) {
  return UnimplementedUnary(context, "DeleteSession");
}

grpc::ServerUnaryReactor* LigerServiceImpl::ForkSession(grpc::CallbackServerContext* context,
                                                        const v1::ForkSessionRequest* /*request*/,
                                                        v1::ForkSessionResponse* /*response*/) {
  return UnimplementedUnary(context, "ForkSession");
}

grpc::ServerUnaryReactor* LigerServiceImpl::ListSessions(grpc::CallbackServerContext* context,
                                                         const v1::ListSessionsRequest* /*request*/,
                                                         v1::ListSessionsResponse* /*response*/) {
  return UnimplementedUnary(context, "ListSessions");
}

grpc::ServerWriteReactor<v1::ConvertResponse>* LigerServiceImpl::Convert(
    grpc::CallbackServerContext* context, const v1::ConvertRequest* /*request*/) {
  return UnimplementedStream<v1::ConvertResponse>(context, "Convert");
}

grpc::ServerUnaryReactor* LigerServiceImpl::FineTune(grpc::CallbackServerContext* context,
                                                     const v1::FineTuneRequest* /*request*/,
                                                     v1::FineTuneResponse* /*response*/) {
  return UnimplementedUnary(context, "FineTune");
}

grpc::ServerWriteReactor<v1::WatchJobResponse>* LigerServiceImpl::WatchJob(
    grpc::CallbackServerContext* context, const v1::WatchJobRequest* /*request*/) {
  return UnimplementedStream<v1::WatchJobResponse>(context, "WatchJob");
}

grpc::ServerUnaryReactor* LigerServiceImpl::GetJob(grpc::CallbackServerContext* context,
                                                   const v1::GetJobRequest* /*request*/,
                                                   v1::GetJobResponse* /*response*/) {
  return UnimplementedUnary(context, "GetJob");
}

grpc::ServerUnaryReactor* LigerServiceImpl::ListJobs(grpc::CallbackServerContext* context,
                                                     const v1::ListJobsRequest* /*request*/,
                                                     v1::ListJobsResponse* /*response*/) {
  return UnimplementedUnary(context, "ListJobs");
}

grpc::ServerUnaryReactor* LigerServiceImpl::CancelJob(grpc::CallbackServerContext* context,
                                                      const v1::CancelJobRequest* /*request*/,
                                                      v1::CancelJobResponse* /*response*/) {
  return UnimplementedUnary(context, "CancelJob");
}

// --- Helpers
// --------------------------------------------------------------------------------------

std::unique_ptr<RpcScope> LigerServiceImpl::NewScope(grpc::CallbackServerContext* context,
                                                     absl::string_view method) {
  return std::make_unique<RpcScope>(method, context, gate_, metrics_, logger_);
}

template <typename Work>
grpc::ServerUnaryReactor* LigerServiceImpl::RunUnary(grpc::CallbackServerContext* context,
                                                     absl::string_view method, Work work) {
  auto* call = new UnaryCall(NewScope(context, method));
  call->FinishWith(call->scope().admitted() ? work(call->scope()) : RpcScope::Rejection());
  return call;
}

grpc::ServerUnaryReactor* LigerServiceImpl::UnimplementedUnary(grpc::CallbackServerContext* context,
                                                               absl::string_view method) {
  return RunUnary(context, method, [method](RpcScope& /*scope*/) { return NotOfferedYet(method); });
}

template <typename Response>
grpc::ServerWriteReactor<Response>* LigerServiceImpl::UnimplementedStream(
    grpc::CallbackServerContext* context, absl::string_view method) {
  std::unique_ptr<RpcScope> scope = NewScope(context, method);
  const absl::Status status = scope->admitted() ? NotOfferedYet(method) : RpcScope::Rejection();
  return new FinishedWriteReactor<Response>(std::move(scope), status);
}

}  // namespace liger::service
