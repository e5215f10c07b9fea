#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "core/convert/converter.h"
#include "core/hosting/model_registry.h"
#include "liger/v1/liger.pb.h"
#include "service/queued_write_reactor.h"
#include "service/rpc_scope.h"

namespace liger::service {

// The reactor of one Convert call: streams the converter's progress, then the result, and loads
// the converted checkpoint when the request names it (`load_as`). A client that goes away stops
// the conversion at its next progress report, which removes the partial output.
class ConvertCall final : public QueuedWriteReactor<v1::ConvertResponse> {
 public:
  explicit ConvertCall(std::unique_ptr<RpcScope> scope) : QueuedWriteReactor(std::move(scope)) {}

  // Converts and ends the call. Blocks for the whole conversion, so it must run off gRPC's
  // threads. `on_models_changed` runs after the result is loaded.
  void Run(const v1::ConvertRequest& request, const ConversionOptions& options,
           ModelRegistry& models, const std::function<void()>& on_models_changed);

 private:
  absl::Status Convert(const v1::ConvertRequest& request, const ConversionOptions& options,
                       ModelRegistry& models, const std::function<void()>& on_models_changed);

  void OnClientGone() override { client_gone_.store(true, std::memory_order_release); }

  std::atomic<bool> client_gone_{false};
};

}  // namespace liger::service
