#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/convert/converter.h"
#include "core/hosting/model_registry.h"
#include "liger/v1/liger.pb.h"
#include "service/queued_write_reactor.h"
#include "service/rpc_scope.h"
#include "service/serial_executor.h"

namespace liger::service {

// The reactor of one Convert call: streams the converter's progress, then the result, and loads
// the converted checkpoint when the request names it (`load_as`). A client that goes away stops
// the conversion at its next progress report, which removes the partial output.
class ConvertCall final : public QueuedWriteReactor<v1::ConvertResponse> {
 public:
  explicit ConvertCall(std::unique_ptr<RpcScope> scope) : QueuedWriteReactor(std::move(scope)) {}

  // Converts and ends the call, or hands the load of the result to `model_loads` (so it never
  // overlaps another model load), which then ends it. Blocks for the whole conversion, so it must
  // run off gRPC's threads. `models`, `model_loads` and `on_models_changed` must outlive the call;
  // `on_models_changed` runs after the result is loaded.
  void Run(const v1::ConvertRequest& request, const ConversionOptions& options,
           ModelRegistry& models, SerialExecutor& model_loads,
           const std::function<void()>& on_models_changed);

 private:
  absl::StatusOr<ConversionResult> Convert(const v1::ConvertRequest& request,
                                           const ConversionOptions& options);
  // Loads the result as `load_as` unless that is empty, then sends the result.
  absl::Status LoadAndSendResult(const std::string& load_as, const ConversionResult& result,
                                 ModelRegistry& models,
                                 const std::function<void()>& on_models_changed);
};

}  // namespace liger::service
