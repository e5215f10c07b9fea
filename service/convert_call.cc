#include "service/convert_call.h"

#include <utility>

#include "core/util/status_macros.h"
#include "service/conversion_translation.h"
#include "service/model_translation.h"

namespace liger::service {

void ConvertCall::Run(const v1::ConvertRequest& request, const ConversionOptions& options,
                      ModelRegistry& models, SerialExecutor& model_loads,
                      const std::function<void()>& on_models_changed) {
  absl::StatusOr<ConversionResult> result = Convert(request, options);
  if (!result.ok()) {
    End(result.status());
    return;
  }
  if (request.load_as().empty()) {
    End(LoadAndSendResult("", *result, models, on_models_changed));
    return;
  }
  model_loads.Schedule([this, load_as = request.load_as(), result = *std::move(result), &models,
                        &on_models_changed] {
    End(LoadAndSendResult(load_as, result, models, on_models_changed));
  });
}

absl::StatusOr<ConversionResult> ConvertCall::Convert(const v1::ConvertRequest& request,
                                                      const ConversionOptions& options) {
  // A client that gave up while the conversion waited in line need not cost one.
  if (client_gone()) return absl::CancelledError("the client cancelled the request");
  const ConversionProgressCallback report = [&](const ConversionProgress& progress) {
    if (client_gone()) return absl::CancelledError("the client cancelled the conversion");
    v1::ConvertResponse response;
    ConversionProgressToProto(progress, response.mutable_progress());
    Send(std::move(response));
    return absl::OkStatus();
  };
  return ConvertCheckpoint(request.model_dir(), request.output_dir(), options, report);
}

absl::Status ConvertCall::LoadAndSendResult(const std::string& load_as,
                                            const ConversionResult& result, ModelRegistry& models,
                                            const std::function<void()>& on_models_changed) {
  v1::ConvertResponse response;
  v1::ConvertResult* proto = response.mutable_result();
  ConversionResultToProto(result, proto);
  if (!load_as.empty()) {
    LIGER_ASSIGN_OR_RETURN(std::shared_ptr<const HostedModel> model,
                           models.Load({load_as, result.output_dir, "", "", scope().tenant()}));
    scope().AddLogField("model", model->name);
    on_models_changed();
    ModelInfoToProto(*model, proto->mutable_model());
  }
  Send(std::move(response));
  return absl::OkStatus();
}

}  // namespace liger::service
