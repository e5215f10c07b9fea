#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/hosting/model_registry.h"
#include "core/serving/session_codec.h"

namespace liger {

// Saves and restores session states with the model of that name in a registry (SerializeState,
// RestoreState), so parked sessions come back on whichever device and dtype the model now has.
class RegistrySessionCodec : public SessionCodec {
 public:
  // `models` must outlive the codec.
  explicit RegistrySessionCodec(const ModelRegistry* models) : models_(models) {}

  absl::StatusOr<std::string> Encode(const std::string& tenant, const std::string& model,
                                     const ModelState& state) const override;
  absl::StatusOr<std::unique_ptr<ModelState>> Decode(const std::string& tenant,
                                                     const std::string& model,
                                                     absl::string_view bytes) const override;

 private:
  // FAILED_PRECONDITION when the tenant sees no model of that name.
  absl::StatusOr<std::shared_ptr<const HostedModel>> Hosted(const std::string& tenant,
                                                            const std::string& model) const;

  const ModelRegistry* const models_;
};

}  // namespace liger
