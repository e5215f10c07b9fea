#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/model/model_state.h"

namespace liger {

// Turns a session's state into bytes and back, for the model (by name, as the session's tenant sees
// it) the session belongs to.
// The session store parks states with it without knowing the models; the hosting layer, which
// does, implements it.
class SessionCodec {
 public:
  virtual ~SessionCodec() = default;

  // FAILED_PRECONDITION when the model is not loaded or the state is inconsistent.
  virtual absl::StatusOr<std::string> Encode(const std::string& tenant, const std::string& model,
                                             const ModelState& state) const = 0;
  // FAILED_PRECONDITION when the model is not loaded or is not the one that saved the state;
  // DATA_LOSS for damaged bytes; RESOURCE_EXHAUSTED when the state cannot be allocated.
  virtual absl::StatusOr<std::unique_ptr<ModelState>> Decode(const std::string& tenant,
                                                             const std::string& model,
                                                             absl::string_view bytes) const = 0;
};

}  // namespace liger
