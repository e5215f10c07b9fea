#include "core/hosting/new_session.h"

#include <memory>
#include <utility>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace liger {

absl::StatusOr<SessionInfo> NewSession(const HostedModel& model, SessionStore& store,
                                       const std::string& tenant) {
  std::unique_ptr<ModelState> state;
  try {
    state = model.model->NewState();
  } catch (const c10::Error& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot allocate a session state: ", e.what_without_backtrace()));
  }
  return store.Create(model.name, std::move(state), tenant);
}

}  // namespace liger
