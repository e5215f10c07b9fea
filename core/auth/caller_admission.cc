#include "core/auth/caller_admission.h"

#include "core/auth/bearer_token.h"

namespace liger {

absl::StatusOr<std::string> CallerAdmission::Admit(absl::string_view authorization) const {
  const absl::string_view key = keys_ != nullptr ? BearerToken(authorization) : absl::string_view();
  std::string tenant;
  if (keys_ != nullptr) {
    absl::StatusOr<std::string> found = keys_->TenantOf(key);
    if (!found.ok()) return found.status();
    tenant = *std::move(found);
  }
  if (limiter_ != nullptr) {
    if (absl::Status s = limiter_->Admit(key); !s.ok()) return s;
  }
  return tenant;
}

}  // namespace liger
