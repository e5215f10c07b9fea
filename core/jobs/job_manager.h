#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/jobs/job_snapshot.h"
#include "core/jobs/job_store.h"
#include "core/jobs/job_watch.h"
#include "core/train/fine_tune.h"

namespace liger {

// Runs one fine-tuning job: RunFineTune in production, a fake in tests.
using FineTuneRunner = std::function<absl::StatusOr<FineTuneResult>(
    const FineTuneOptions& options, const FineTuneProgressCallback& on_progress,
    const std::function<bool()>& stop_requested)>;

struct JobManagerOptions {
  FineTuneRunner runner;
  // Where job records persist across restarts; empty keeps them in memory only.
  std::string jobs_dir;
  // Progress is saved at most this often; state changes always.
  absl::Duration progress_save_interval = absl::Seconds(1);
  // Problems that do not stop the manager (a corrupt job file skipped, a record
  // that could not be saved), e.g. for the server's log. May be empty.
  std::function<void(const absl::Status&)> on_error;
  // Jobs queued or running at once (>= 1); Submit refuses more with RESOURCE_EXHAUSTED, so a
  // client cannot pile up work (and records) without bound.
  int max_pending_jobs = 16;
};

// Fine-tuning jobs, run one at a time in submission order on a thread of the
// manager's own. Jobs outlive the callers that submit and watch them. With a
// jobs directory every job is recorded there (JobStore), and a manager started
// on it queues again the jobs that were queued or interrupted, the latter
// resuming from their checkpoint (FineTuneResumeDir) when the run left one.
// Thread-safe.
class JobManager {
 public:
  // INVALID_ARGUMENT without a runner; the jobs directory's errors
  // (JobStore::Open). Corrupt job files are skipped, reported to on_error.
  static absl::StatusOr<std::unique_ptr<JobManager>> Create(JobManagerOptions options);
  // Shutdown(zero grace), then waits for the running job to return.
  ~JobManager();
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  // Checks `options` (CheckFineTuneSubmission; ALREADY_EXISTS too when an
  // unfinished job writes the same output_dir) and queues a job. UNAVAILABLE
  // after Shutdown.
  // The job belongs to `tenant`: for any other, Get, Cancel and Watch answer NOT_FOUND as for an
  // unknown id, and List leaves it out.
  absl::StatusOr<JobSnapshot> Submit(const FineTuneOptions& options, const std::string& tenant = "");
  // NOT_FOUND for an unknown id.
  absl::StatusOr<JobSnapshot> Get(const std::string& id, const std::string& tenant = "") const;
  // The tenant's jobs, newest first; only jobs in `state` when it is set.
  std::vector<JobSnapshot> List(std::optional<JobState> state = std::nullopt,
                                const std::string& tenant = "") const;
  // A queued job is CANCELLED at once; a running one is asked to stop and
  // becomes CANCELLED when its run returns (the snapshot returned is still
  // RUNNING). FAILED_PRECONDITION for a finished job, NOT_FOUND for an unknown
  // one.
  absl::StatusOr<JobSnapshot> Cancel(const std::string& id, const std::string& tenant = "");

  // Subscribes `callback` to job `id`: the current snapshot first, then one
  // after every change of state or progress, the last flagged (see JobUpdate).
  // The first is delivered before Watch returns, on the calling thread; later
  // ones on whichever thread made the change. Closing the returned watch
  // unsubscribes. NOT_FOUND for an unknown job, UNAVAILABLE after Shutdown.
  absl::StatusOr<std::shared_ptr<JobWatch>> Watch(const std::string& id, JobWatchCallback callback,
                                                  const std::string& tenant = "");

  // Jobs in `state`, and the progress of the running job if any: for metrics.
  int64_t CountInState(JobState state) const;
  std::optional<FineTuneProgress> RunningProgress() const;

  // Refuses new jobs and watches, asks the running job to stop and waits up to
  // `grace` for it: with a jobs directory it goes back to QUEUED to resume at
  // the next start, without one it ends CANCELLED. Then every watch gets its
  // last update. Queued jobs stay queued. Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  struct Job {
    JobSnapshot snapshot;
    std::vector<std::shared_ptr<JobWatch>> watches;
    absl::Time last_saved = absl::InfinitePast();
  };
  using Deliveries = std::vector<std::shared_ptr<JobWatch>>;

  JobManager(JobManagerOptions options, std::unique_ptr<JobStore> store);

  // Requeues the jobs of the jobs directory that were queued or interrupted.
  void Recover() ABSL_LOCKS_EXCLUDED(mu_);
  void WorkerLoop() ABSL_LOCKS_EXCLUDED(mu_);
  // Runs the started job `id` and records its outcome.
  void RunJob(const std::string& id, const FineTuneOptions& options) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status OnProgress(const std::string& id, const FineTuneProgress& progress)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Finish(Job& job, const absl::StatusOr<FineTuneResult>& result, Deliveries& deliveries)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Queues the job's snapshot for its watches (adding them to `deliveries`, to
  // deliver once mu_ is released) and saves it when `save` or it is terminal.
  // `last` drops the watches.
  void Publish(Job& job, bool save, bool last, Deliveries& deliveries)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Save(Job& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReportError(const absl::Status& status) const;
  static void DeliverAll(const Deliveries& deliveries);

  const JobManagerOptions options_;
  const std::unique_ptr<JobStore> store_;  // null: in memory

  mutable absl::Mutex mu_;
  std::map<std::string, Job> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> creation_order_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  std::string running_id_ ABSL_GUARDED_BY(mu_);  // empty while none runs
  bool cancel_running_ ABSL_GUARDED_BY(mu_) = false;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  // Polled by the runner between micro-batches, so it is read without mu_.
  std::atomic<bool> stop_running_{false};
  std::thread worker_;
};

}  // namespace liger
