#pragma once

#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/auth/caller_admission.h"
#include "core/hosting/model_registry.h"
#include "core/io/path_confinement.h"
#include "core/jobs/job_manager.h"
#include "core/serving/session_store.h"
#include "liger/v1/liger.grpc.pb.h"
#include "service/drain_gate.h"
#include "service/rpc_scope.h"
#include "service/serial_executor.h"
#include "service/service_metrics.h"
#include "service/structured_logger.h"
#include "service/unary_call.h"
#include "service/write_executor_pool.h"

namespace liger::service {

// The dtype and device of FineTune requests that leave them unset.
struct FineTuneDefaults {
  std::string dtype;
  std::string device;
};

// liger.v1.LigerService on gRPC's callback API. It translates protobuf to core calls and statuses
// back, and records every call (RpcScope); the work itself is core's. Model loads and unloads (an
// unload waits for the model's generations to drain) run one at a time on a thread of their own,
// conversions on another that hands their loads to the first (SerialExecutor); generations run on
// their model's scheduler (GenerateCall), everything else inline: those calls are quick. Calls pass
// through a DrainGate, so a shutting-down server refuses new ones with UNAVAILABLE. Fine-tuning
// jobs run on the JobManager's thread; their RPCs only submit, read or cancel them, and WatchJob
// streams the manager's updates (WatchJobCall).
class LigerServiceImpl final : public v1::LigerService::CallbackService {
 public:
  // Threads writing Generate streams: a write takes tens of microseconds, and a decode step of a
  // large batch every couple of milliseconds brings one per stream.
  static constexpr int kStreamWriterThreads = 4;

  // Every pointer must outlive the service. `on_models_changed` runs after each successful
  // LoadModel or UnloadModel, e.g. to update the health status.
  // `paths` confines the directories and files requests name. `admission` (may be null: every call
  // admitted, as the anonymous tenant) authenticates and rate-limits every call; sessions and jobs
  // are the caller's tenant's.
  LigerServiceImpl(ModelRegistry* models, SessionStore* sessions, JobManager* jobs,
                   FineTuneDefaults fine_tune_defaults, PathConfinement paths, DrainGate* gate,
                   const CallerAdmission* admission, ServiceMetrics* metrics, StructuredLogger* logger,
                   std::function<void()> on_models_changed);

  grpc::ServerUnaryReactor* LoadModel(grpc::CallbackServerContext* context,
                                      const v1::LoadModelRequest* request,
                                      v1::LoadModelResponse* response) override;
  grpc::ServerUnaryReactor* UnloadModel(grpc::CallbackServerContext* context,
                                        const v1::UnloadModelRequest* request,
                                        v1::UnloadModelResponse* response) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) override;
  grpc::ServerUnaryReactor* Tokenize(grpc::CallbackServerContext* context,
                                     const v1::TokenizeRequest* request,
                                     v1::TokenizeResponse* response) override;
  grpc::ServerUnaryReactor* Detokenize(grpc::CallbackServerContext* context,
                                       const v1::DetokenizeRequest* request,
                                       v1::DetokenizeResponse* response) override;

  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* context, const v1::GenerateRequest* request) override;

  grpc::ServerUnaryReactor* CreateSession(grpc::CallbackServerContext* context,
                                          const v1::CreateSessionRequest* request,
                                          v1::CreateSessionResponse* response) override;
  grpc::ServerUnaryReactor* GetSession(grpc::CallbackServerContext* context,
                                       const v1::GetSessionRequest* request,
                                       v1::GetSessionResponse* response) override;
  grpc::ServerUnaryReactor* DeleteSession(grpc::CallbackServerContext* context,
                                          const v1::DeleteSessionRequest* request,
                                          v1::DeleteSessionResponse* response) override;
  grpc::ServerUnaryReactor* ForkSession(grpc::CallbackServerContext* context,
                                        const v1::ForkSessionRequest* request,
                                        v1::ForkSessionResponse* response) override;
  grpc::ServerUnaryReactor* ListSessions(grpc::CallbackServerContext* context,
                                         const v1::ListSessionsRequest* request,
                                         v1::ListSessionsResponse* response) override;
  grpc::ServerWriteReactor<v1::ExportSessionResponse>* ExportSession(
      grpc::CallbackServerContext* context, const v1::ExportSessionRequest* request) override;
  grpc::ServerReadReactor<v1::ImportSessionRequest>* ImportSession(
      grpc::CallbackServerContext* context, v1::ImportSessionResponse* response) override;

  grpc::ServerWriteReactor<v1::ConvertResponse>* Convert(
      grpc::CallbackServerContext* context, const v1::ConvertRequest* request) override;

  grpc::ServerUnaryReactor* FineTune(grpc::CallbackServerContext* context,
                                     const v1::FineTuneRequest* request,
                                     v1::FineTuneResponse* response) override;
  grpc::ServerWriteReactor<v1::WatchJobResponse>* WatchJob(
      grpc::CallbackServerContext* context, const v1::WatchJobRequest* request) override;
  grpc::ServerUnaryReactor* GetJob(grpc::CallbackServerContext* context,
                                   const v1::GetJobRequest* request,
                                   v1::GetJobResponse* response) override;
  grpc::ServerUnaryReactor* ListJobs(grpc::CallbackServerContext* context,
                                     const v1::ListJobsRequest* request,
                                     v1::ListJobsResponse* response) override;
  grpc::ServerUnaryReactor* CancelJob(grpc::CallbackServerContext* context,
                                      const v1::CancelJobRequest* request,
                                      v1::CancelJobResponse* response) override;

 private:
  absl::Status DoLoadModel(const ModelLoadSpec& spec, RpcScope& scope,
                           v1::LoadModelResponse* response);
  absl::Status DoUnloadModel(const std::string& name, RpcScope& scope);
  absl::Status DoTokenize(const v1::TokenizeRequest& request, RpcScope& scope,
                          v1::TokenizeResponse* response);
  absl::Status DoDetokenize(const v1::DetokenizeRequest& request, RpcScope& scope,
                            v1::DetokenizeResponse* response);
  absl::Status DoCreateSession(const v1::CreateSessionRequest& request, RpcScope& scope,
                               v1::CreateSessionResponse* response);
  absl::Status DoListSessions(const v1::ListSessionsRequest& request, RpcScope& scope,
                              v1::ListSessionsResponse* response);
  absl::Status DoFineTune(const v1::FineTuneRequest& request, RpcScope& scope,
                          v1::FineTuneResponse* response);

  std::unique_ptr<RpcScope> NewScope(grpc::CallbackServerContext* context,
                                     absl::string_view method);
  // A unary call that runs `work(scope)` inline (unless the server is draining) and finishes with
  // its status.
  template <typename Work>
  grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context, absl::string_view method,
                                     Work work);
  // Finishes `call` with `work(scope)` run on model_loads_, or CANCELLED if the client gave up
  // while it waited in line.
  template <typename Work>
  void ScheduleModelWork(grpc::CallbackServerContext* context, UnaryCall* call, Work work);

  // Replaces a path that a request names with the one to use (PathConfinement::Resolve).
  absl::Status Confine(std::string& path) const;

  ModelRegistry* const models_;
  SessionStore* const sessions_;
  JobManager* const jobs_;
  const FineTuneDefaults fine_tune_defaults_;
  const PathConfinement paths_;
  DrainGate* const gate_;
  const CallerAdmission* const admission_;
  ServiceMetrics* const metrics_;
  StructuredLogger* const logger_;
  const std::function<void()> on_models_changed_;
  // Last, so they are destroyed first: their queued tasks use everything above. Loads (Convert's
  // too) and unloads go through model_loads_, so no two ever overlap. conversions_ comes after it,
  // so it is destroyed first: its remaining tasks may still hand loads to model_loads_.
  SerialExecutor model_loads_;
  SerialExecutor conversions_;
  // Write Generate's token messages, so that the schedulers' decode loops never do. By the time the
  // service is destroyed every call has ended, so no task is left to use the rest.
  WriteExecutorPool stream_writers_{kStreamWriterThreads};
};

}  // namespace liger::service
