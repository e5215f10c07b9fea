#include "service/drain_gate.h"

namespace liger::service {

bool DrainGate::TryEnter() {
  absl::MutexLock lock(&mu_);
  if (draining_) return false;
  ++in_flight_;
  return true;
}

void DrainGate::Leave() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

bool DrainGate::Drain(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  return mu_.AwaitWithDeadline(absl::Condition(this, &DrainGate::Idle), deadline);
}

}  // namespace liger::service
