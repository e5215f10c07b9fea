#pragma once

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace liger::service {

// Admits calls until draining starts and counts those in flight, so that shutdown can refuse new
// work (UNAVAILABLE, which clients retry elsewhere) while the calls already running finish. gRPC's
// own Server::Shutdown cannot do this alone: it also waits for idle client connections to close,
// which a client may never do within the grace period. Thread-safe.
class DrainGate {
 public:
  DrainGate() = default;
  DrainGate(const DrainGate&) = delete;
  DrainGate& operator=(const DrainGate&) = delete;

  // Counts a new call in and returns true, or returns false once draining has started.
  bool TryEnter();
  // Counts an admitted call out.
  void Leave();

  // Stops admitting calls and waits until none is in flight or `deadline` passes. Returns whether
  // every call ended.
  bool Drain(absl::Time deadline);

 private:
  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; }

  mutable absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace liger::service
