#include "core/jobs/job_watch.h"

#include <utility>

namespace liger {

void JobWatch::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  queue_.clear();
}

bool JobWatch::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

void JobWatch::Enqueue(JobUpdate update) {
  absl::MutexLock lock(&mu_);
  if (!closed_) queue_.push_back(std::move(update));
}

void JobWatch::Deliver() {
  absl::MutexLock lock(&mu_);
  if (delivering_) return;
  delivering_ = true;
  while (!queue_.empty() && !closed_) {
    const JobUpdate update = std::move(queue_.front());
    queue_.pop_front();
    // Unlocked, so the callback may Close this watch or call into the manager.
    mu_.Unlock();
    callback_(update);
    mu_.Lock();
  }
  delivering_ = false;
}

}  // namespace liger
