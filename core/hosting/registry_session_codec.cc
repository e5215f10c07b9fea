#include "core/hosting/registry_session_codec.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/model/state_serializer.h"
#include "core/util/status_macros.h"

namespace liger {

absl::StatusOr<std::shared_ptr<const HostedModel>> RegistrySessionCodec::Hosted(
    const std::string& tenant, const std::string& model) const {
  absl::StatusOr<std::shared_ptr<const HostedModel>> hosted = models_->Find(model, tenant);
  if (absl::IsNotFound(hosted.status())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the session belongs to model \"", model, "\", which this server has not loaded"));
  }
  return hosted;
}

absl::StatusOr<std::string> RegistrySessionCodec::Encode(const std::string& tenant,
                                                         const std::string& model,
                                                         const ModelState& state) const {
  LIGER_ASSIGN_OR_RETURN(std::shared_ptr<const HostedModel> hosted, Hosted(tenant, model));
  return SerializeState(*hosted->model, state);
}

absl::StatusOr<std::unique_ptr<ModelState>> RegistrySessionCodec::Decode(
    const std::string& tenant, const std::string& model, absl::string_view bytes) const {
  LIGER_ASSIGN_OR_RETURN(std::shared_ptr<const HostedModel> hosted, Hosted(tenant, model));
  return RestoreState(*hosted->model, bytes);
}

}  // namespace liger
