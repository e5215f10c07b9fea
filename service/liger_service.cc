#include "service/liger_service.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/hosting/new_session.h"
#include "core/model/transformer.h"
#include "core/util/status_macros.h"
#include "service/conversion_translation.h"
#include "service/convert_call.h"
#include "service/export_session_call.h"
#include "service/finished_write_reactor.h"
#include "service/generate_call.h"
#include "service/import_session_call.h"
#include "service/model_translation.h"
#include "service/job_translation.h"
#include "service/session_translation.h"
#include "service/watch_job_call.h"

namespace liger::service {

LigerServiceImpl::LigerServiceImpl(ModelRegistry* models, SessionStore* sessions, JobManager* jobs,
                                   FineTuneDefaults fine_tune_defaults, PathConfinement paths,
                                   DrainGate* gate, const CallerAdmission* admission,
                                   ServiceMetrics* metrics, StructuredLogger* logger,
                                   std::function<void()> on_models_changed)
    : models_(models),
      sessions_(sessions),
      jobs_(jobs),
      fine_tune_defaults_(std::move(fine_tune_defaults)),
      paths_(std::move(paths)),
      gate_(gate),
      admission_(admission),
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
  if (spec.ok()) {
    if (absl::Status confined = Confine(spec->model_dir); !confined.ok()) spec = confined;
  }
  if (!call->scope().admitted() || !spec.ok()) {
    call->FinishWith(call->scope().admitted() ? spec.status() : call->scope().rejection());
    return call;
  }
  ScheduleModelWork(context, call, [this, response, spec = *std::move(spec)](RpcScope& scope) {
    return DoLoadModel(spec, scope, response);
  });
  return call;
}

absl::Status LigerServiceImpl::DoLoadModel(const ModelLoadSpec& spec, RpcScope& scope,
                                           v1::LoadModelResponse* response) {
  scope.AddLogField("model_dir", spec.model_dir);
  ModelLoadSpec owned = spec;
  owned.tenant = scope.tenant();  // the caller's tenant alone sees the model
  LIGER_ASSIGN_OR_RETURN(std::shared_ptr<const HostedModel> model, models_->Load(owned));
  scope.AddLogField("model", model->name);
  on_models_changed_();
  ModelInfoToProto(*model, response->mutable_model());
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* LigerServiceImpl::UnloadModel(grpc::CallbackServerContext* context,
                                                        const v1::UnloadModelRequest* request,
                                                        v1::UnloadModelResponse* /*response*/) {
  auto* call = new UnaryCall(NewScope(context, "UnloadModel"));
  if (!call->scope().admitted() || request->name().empty()) {
    call->FinishWith(call->scope().admitted() ? absl::InvalidArgumentError("name is required")
                                              : call->scope().rejection());
    return call;
  }
  // Unloading waits for the model's generations to drain, which a callback thread must not.
  ScheduleModelWork(context, call, [this, name = request->name()](RpcScope& scope) {
    return DoUnloadModel(name, scope);
  });
  return call;
}

absl::Status LigerServiceImpl::DoUnloadModel(const std::string& name, RpcScope& scope) {
  scope.AddLogField("model", name);
  LIGER_RETURN_IF_ERROR(models_->Unload(name, scope.tenant()));
  on_models_changed_();
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* LigerServiceImpl::ListModels(grpc::CallbackServerContext* context,
                                                       const v1::ListModelsRequest* /*request*/,
                                                       v1::ListModelsResponse* response) {
  return RunUnary(context, "ListModels", [&](RpcScope& scope) {
    for (const std::shared_ptr<const HostedModel>& model : models_->List(scope.tenant())) {
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
  LIGER_ASSIGN_OR_RETURN(std::shared_ptr<const HostedModel> model,
                         models_->Find(request.model(), scope.tenant()));
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
  LIGER_ASSIGN_OR_RETURN(std::shared_ptr<const HostedModel> model,
                         models_->Find(request.model(), scope.tenant()));
  scope.AddLogField("model", model->name);
  const std::vector<int32_t> ids(request.token_ids().begin(), request.token_ids().end());
  LIGER_ASSIGN_OR_RETURN(std::string text,
                         model->tokenizer->Decode(ids, request.skip_special_tokens()));
  response->set_text(std::move(text));
  response->set_model(model->name);
  return absl::OkStatus();
}

// --- Generation
// -----------------------------------------------------------------------------------

grpc::ServerWriteReactor<v1::GenerateResponse>* LigerServiceImpl::Generate(
    grpc::CallbackServerContext* context, const v1::GenerateRequest* request) {
  std::unique_ptr<RpcScope> scope = NewScope(context, "Generate");
  if (!scope->admitted()) {
    absl::Status rejection = scope->rejection();
    return new FinishedWriteReactor<v1::GenerateResponse>(std::move(scope), rejection);
  }
  return GenerateCall::Start(context, *request, std::move(scope), models_, sessions_,
                             stream_writers_.Next());
}

// --- Sessions
// -------------------------------------------------------------------------------------

grpc::ServerUnaryReactor* LigerServiceImpl::CreateSession(grpc::CallbackServerContext* context,
                                                          const v1::CreateSessionRequest* request,
                                                          v1::CreateSessionResponse* response) {
  return RunUnary(context, "CreateSession", [&](RpcScope& scope) {
    return DoCreateSession(*request, scope, response);
  });
}

absl::Status LigerServiceImpl::DoCreateSession(const v1::CreateSessionRequest& request,
                                               RpcScope& scope,
                                               v1::CreateSessionResponse* response) {
  LIGER_ASSIGN_OR_RETURN(std::shared_ptr<const HostedModel> model,
                         models_->Find(request.model(), scope.tenant()));
  scope.AddLogField("model", model->name);
  LIGER_ASSIGN_OR_RETURN(SessionInfo info, NewSession(*model, *sessions_, scope.tenant()));
  scope.AddLogField("session_id", info.id);
  SessionInfoToProto(info, response->mutable_session());
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* LigerServiceImpl::GetSession(grpc::CallbackServerContext* context,
                                                       const v1::GetSessionRequest* request,
                                                       v1::GetSessionResponse* response) {
  return RunUnary(context, "GetSession", [&](RpcScope& scope) -> absl::Status {
    scope.AddLogField("session_id", request->session_id());
    LIGER_ASSIGN_OR_RETURN(SessionInfo info, sessions_->Get(request->session_id(), scope.tenant()));
    SessionInfoToProto(info, response->mutable_session());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* LigerServiceImpl::DeleteSession(grpc::CallbackServerContext* context,
                                                          const v1::DeleteSessionRequest* request,
                                                          v1::DeleteSessionResponse* /*response*/) {
  return RunUnary(context, "DeleteSession", [&](RpcScope& scope) -> absl::Status {
    scope.AddLogField("session_id", request->session_id());
    LIGER_RETURN_IF_ERROR(sessions_->Delete(request->session_id(), scope.tenant()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* LigerServiceImpl::ForkSession(grpc::CallbackServerContext* context,
                                                        const v1::ForkSessionRequest* request,
                                                        v1::ForkSessionResponse* response) {
  return RunUnary(context, "ForkSession", [&](RpcScope& scope) -> absl::Status {
    scope.AddLogField("session_id", request->session_id());
    LIGER_ASSIGN_OR_RETURN(SessionInfo info, sessions_->Fork(request->session_id(), scope.tenant()));
    scope.AddLogField("fork_id", info.id);
    SessionInfoToProto(info, response->mutable_session());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* LigerServiceImpl::ListSessions(grpc::CallbackServerContext* context,
                                                         const v1::ListSessionsRequest* request,
                                                         v1::ListSessionsResponse* response) {
  return RunUnary(context, "ListSessions",
                  [&](RpcScope& scope) { return DoListSessions(*request, scope, response); });
}

absl::Status LigerServiceImpl::DoListSessions(const v1::ListSessionsRequest& request,
                                              RpcScope& scope,
                                              v1::ListSessionsResponse* response) {
  for (const SessionInfo& info : sessions_->List(scope.tenant())) {
    if (request.model().empty() || info.model == request.model()) {
      SessionInfoToProto(info, response->add_sessions());
    }
  }
  const SessionStoreStats stats = sessions_->Stats();
  response->set_state_bytes_used(stats.used_bytes);
  response->set_state_bytes_budget(stats.budget_bytes);
  return absl::OkStatus();
}

grpc::ServerWriteReactor<v1::ExportSessionResponse>* LigerServiceImpl::ExportSession(
    grpc::CallbackServerContext* context, const v1::ExportSessionRequest* request) {
  std::unique_ptr<RpcScope> scope = NewScope(context, "ExportSession");
  if (!scope->admitted()) {
    const absl::Status rejection = scope->rejection();
    return new FinishedWriteReactor<v1::ExportSessionResponse>(std::move(scope), rejection);
  }
  scope->AddLogField("session_id", request->session_id());
  absl::StatusOr<std::string> exported = sessions_->Export(request->session_id(), scope->tenant());
  if (!exported.ok()) {
    return new FinishedWriteReactor<v1::ExportSessionResponse>(std::move(scope),
                                                               exported.status());
  }
  return ExportSessionCall::Start(std::move(scope), *std::move(exported));
}

grpc::ServerReadReactor<v1::ImportSessionRequest>* LigerServiceImpl::ImportSession(
    grpc::CallbackServerContext* context, v1::ImportSessionResponse* response) {
  return new ImportSessionCall(NewScope(context, "ImportSession"), sessions_, response);
}

// --- Conversion
// -----------------------------------------------------------------------------------

grpc::ServerWriteReactor<v1::ConvertResponse>* LigerServiceImpl::Convert(
    grpc::CallbackServerContext* context, const v1::ConvertRequest* request) {
  std::unique_ptr<RpcScope> scope = NewScope(context, "Convert");
  absl::Status refused = scope->rejection();
  absl::StatusOr<ConversionOptions> options = ConversionOptionsFromProto(*request);
  if (refused.ok()) refused = options.status();
  v1::ConvertRequest confined = *request;
  if (refused.ok()) refused = Confine(*confined.mutable_model_dir());
  if (refused.ok()) refused = Confine(*confined.mutable_output_dir());
  if (refused.ok() && !request->load_as().empty()) {
    refused = ModelRegistry::ValidateModelName(request->load_as());
  }
  if (!refused.ok()) {
    return new FinishedWriteReactor<v1::ConvertResponse>(std::move(scope), refused);
  }
  scope->AddLogField("model_dir", confined.model_dir());
  scope->AddLogField("output_dir", confined.output_dir());
  auto* call = new ConvertCall(std::move(scope));
  conversions_.Schedule([this, call, request = std::move(confined), options = *std::move(options)] {
    call->Run(request, options, *models_, model_loads_, on_models_changed_);
  });
  return call;
}

// --- Fine-tuning jobs
// ------------------------------------------------------------------------------

grpc::ServerUnaryReactor* LigerServiceImpl::FineTune(grpc::CallbackServerContext* context,
                                                     const v1::FineTuneRequest* request,
                                                     v1::FineTuneResponse* response) {
  return RunUnary(context, "FineTune",
                  [&](RpcScope& scope) { return DoFineTune(*request, scope, response); });
}

absl::Status LigerServiceImpl::DoFineTune(const v1::FineTuneRequest& request, RpcScope& scope,
                                          v1::FineTuneResponse* response) {
  scope.AddLogField("model_dir", request.model_dir());
  scope.AddLogField("output_dir", request.output_dir());
  LIGER_ASSIGN_OR_RETURN(
      FineTuneOptions options,
      FineTuneOptionsFromProto(request, fine_tune_defaults_.dtype, fine_tune_defaults_.device));
  for (std::string* path :
       {&options.model_dir, &options.output_dir, &options.train_data, &options.eval_data}) {
    if (!path->empty()) LIGER_RETURN_IF_ERROR(Confine(*path));
  }
  LIGER_ASSIGN_OR_RETURN(JobSnapshot job, jobs_->Submit(options, scope.tenant()));
  scope.AddLogField("job_id", job.id);
  JobSnapshotToProto(job, response->mutable_job());
  return absl::OkStatus();
}

grpc::ServerWriteReactor<v1::WatchJobResponse>* LigerServiceImpl::WatchJob(
    grpc::CallbackServerContext* context, const v1::WatchJobRequest* request) {
  std::unique_ptr<RpcScope> scope = NewScope(context, "WatchJob");
  if (!scope->admitted()) {
    absl::Status rejection = scope->rejection();
    return new FinishedWriteReactor<v1::WatchJobResponse>(std::move(scope), rejection);
  }
  return WatchJobCall::Start(std::move(scope), *jobs_, request->job_id());
}

grpc::ServerUnaryReactor* LigerServiceImpl::GetJob(grpc::CallbackServerContext* context,
                                                   const v1::GetJobRequest* request,
                                                   v1::GetJobResponse* response) {
  return RunUnary(context, "GetJob", [&](RpcScope& scope) -> absl::Status {
    scope.AddLogField("job_id", request->job_id());
    LIGER_ASSIGN_OR_RETURN(JobSnapshot job, jobs_->Get(request->job_id(), scope.tenant()));
    JobSnapshotToProto(job, response->mutable_job());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* LigerServiceImpl::ListJobs(grpc::CallbackServerContext* context,
                                                     const v1::ListJobsRequest* request,
                                                     v1::ListJobsResponse* response) {
  return RunUnary(context, "ListJobs", [&](RpcScope& scope) -> absl::Status {
    LIGER_ASSIGN_OR_RETURN(std::optional<JobState> state,
                           JobStateFilterFromProto(request->state()));
    for (const JobSnapshot& job : jobs_->List(state, scope.tenant())) {
      JobSnapshotToProto(job, response->add_jobs());
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* LigerServiceImpl::CancelJob(grpc::CallbackServerContext* context,
                                                      const v1::CancelJobRequest* request,
                                                      v1::CancelJobResponse* response) {
  return RunUnary(context, "CancelJob", [&](RpcScope& scope) -> absl::Status {
    scope.AddLogField("job_id", request->job_id());
    LIGER_ASSIGN_OR_RETURN(JobSnapshot job, jobs_->Cancel(request->job_id(), scope.tenant()));
    JobSnapshotToProto(job, response->mutable_job());
    return absl::OkStatus();
  });
}

// --- Helpers
// --------------------------------------------------------------------------------------

std::unique_ptr<RpcScope> LigerServiceImpl::NewScope(grpc::CallbackServerContext* context,
                                                     absl::string_view method) {
  return std::make_unique<RpcScope>(method, context, gate_, admission_, metrics_, logger_);
}

template <typename Work>
grpc::ServerUnaryReactor* LigerServiceImpl::RunUnary(grpc::CallbackServerContext* context,
                                                     absl::string_view method, Work work) {
  auto* call = new UnaryCall(NewScope(context, method));
  call->FinishWith(call->scope().admitted() ? work(call->scope()) : call->scope().rejection());
  return call;
}

template <typename Work>
void LigerServiceImpl::ScheduleModelWork(grpc::CallbackServerContext* context, UnaryCall* call,
                                         Work work) {
  model_loads_.Schedule([context, call, work = std::move(work)] {
    // A client that gave up while the work waited in line need not cost it.
    call->FinishWith(context->IsCancelled()
                         ? absl::CancelledError("the client cancelled the request")
                         : work(call->scope()));
  });
}

absl::Status LigerServiceImpl::Confine(std::string& path) const {
  LIGER_ASSIGN_OR_RETURN(path, paths_.Resolve(path));
  return absl::OkStatus();
}

}  // namespace liger::service
