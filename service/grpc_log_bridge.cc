#include "service/grpc_log_bridge.h"

#include <grpc/support/log.h>

#include <atomic>
#include <string>

namespace liger::service {
namespace {

// gRPC's hook is a plain function pointer, so the logger it forwards to lives here.
std::atomic<StructuredLogger*> g_grpc_log_target{nullptr};

void ForwardGrpcLog(gpr_log_func_args* args) {
  StructuredLogger* logger = g_grpc_log_target.load(std::memory_order_acquire);
  if (logger == nullptr) return;
  spdlog::level::level_enum level = spdlog::level::info;
  if (args->severity == GPR_LOG_SEVERITY_ERROR) level = spdlog::level::err;
  if (args->severity == GPR_LOG_SEVERITY_DEBUG) level = spdlog::level::debug;
  logger->Log(level, args->message != nullptr ? args->message : "",
              {{"source", "grpc"},
               {"file", args->file != nullptr ? args->file : ""},
               {"line", args->line}});
}

}  // namespace

GrpcLogBridge::GrpcLogBridge(StructuredLogger* logger) {
  g_grpc_log_target.store(logger, std::memory_order_release);
  gpr_set_log_function(&ForwardGrpcLog);
  // gRPC reads its verbosity (GRPC_VERBOSITY, errors by default) in grpc_init; until then it
  // drops every line, including those of a server that fails to start.
  gpr_log_verbosity_init();
}

GrpcLogBridge::~GrpcLogBridge() {
  // A null function restores gRPC's default logger.
  gpr_set_log_function(nullptr);
  g_grpc_log_target.store(nullptr, std::memory_order_release);
}

}  // namespace liger::service
