#pragma once

#include <deque>
#include <functional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/jobs/job_snapshot.h"

namespace liger {

// What a watcher of a job is told: the job's snapshot after a change, and
// whether it is the last one it will get (the job reached a terminal state, or
// the manager shut down).
struct JobUpdate {
  JobSnapshot job;
  bool last = false;
};

using JobWatchCallback = std::function<void(const JobUpdate& update)>;

// One subscription to a job's updates (see JobManager::Watch). The manager
// queues updates in the order of the changes, under its own lock, and delivers
// them after releasing it, one at a time, so the callback may call back into
// the manager. Thread-safe.
class JobWatch {
 public:
  explicit JobWatch(JobWatchCallback callback) : callback_(std::move(callback)) {}
  JobWatch(const JobWatch&) = delete;
  JobWatch& operator=(const JobWatch&) = delete;

  // Unsubscribes: no delivery starts after this returns, though one already
  // running on another thread may still finish. The job is unaffected.
  // Idempotent; may be called from the callback.
  void Close();
  bool closed() const;

  // For JobManager: queues an update (dropped once closed), then delivers the
  // queue unless another thread is delivering it already (which then delivers
  // this one too, in order).
  void Enqueue(JobUpdate update);
  void Deliver();

 private:
  const JobWatchCallback callback_;
  mutable absl::Mutex mu_;
  std::deque<JobUpdate> queue_ ABSL_GUARDED_BY(mu_);
  bool delivering_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace liger
