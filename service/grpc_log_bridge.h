#pragma once

#include "service/structured_logger.h"

namespace liger::service {

// While alive, sends gRPC's own log lines (gpr_log: bind failures, transport errors) through a
// StructuredLogger, so that with JSON logs every line on stderr is JSON. gRPC's log hook is
// process-wide: keep at most one bridge at a time. The destructor restores gRPC's default logger.
class GrpcLogBridge {
 public:
  // `logger` must outlive the bridge.
  explicit GrpcLogBridge(StructuredLogger* logger);
  ~GrpcLogBridge();
  GrpcLogBridge(const GrpcLogBridge&) = delete;
  GrpcLogBridge& operator=(const GrpcLogBridge&) = delete;
};

}  // namespace liger::service
