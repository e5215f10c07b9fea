#include "core/jobs/job_manager.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"
#include "core/jobs/fine_tune_submission_check.h"
#include "core/serving/session_id.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

// Also the answer for another tenant's job, so that ids reveal nothing across tenants.
absl::Status JobNotFoundError(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("no job \"", id, "\""));
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobManager>> JobManager::Create(JobManagerOptions options) {
  if (!options.runner) return absl::InvalidArgumentError("the job manager needs a runner");
  if (options.max_pending_jobs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_pending_jobs = ", options.max_pending_jobs, " must be >= 1"));
  }
  std::unique_ptr<JobStore> store;
  if (!options.jobs_dir.empty()) {
    LIGER_ASSIGN_OR_RETURN(store, JobStore::Open(options.jobs_dir));
  }
  std::unique_ptr<JobManager> manager(new JobManager(std::move(options), std::move(store)));
  manager->Recover();
  manager->worker_ = std::thread([raw = manager.get()] { raw->WorkerLoop(); });
  return manager;
}

JobManager::JobManager(JobManagerOptions options, std::unique_ptr<JobStore> store)
    : options_(std::move(options)), store_(std::move(store)) {}

JobManager::~JobManager() {
  Shutdown(absl::ZeroDuration());
  // A run that ignored the stop request past the grace period is still waited
  // for: the runner uses this manager's callbacks.
  if (worker_.joinable()) worker_.join();
}

void JobManager::Recover() {
  if (store_ == nullptr) return;
  std::vector<JobSnapshot> records =
      store_->LoadAll([this](const absl::Status& status) { ReportError(status); });
  absl::MutexLock lock(&mu_);
  for (JobSnapshot& record : records) {
    const std::string id = record.id;
    Job& job = jobs_[id];
    job.snapshot = std::move(record);
    creation_order_.push_back(id);
    JobSnapshot& snapshot = job.snapshot;
    if (IsTerminalJobState(snapshot.state)) continue;
    // RUNNING on disk: the process stopped mid-run without recording it (a
    // crash, a kill).
    if (snapshot.state == JobState::kRunning) snapshot.options.resume = true;
    if (snapshot.options.resume) {
      // Without a checkpoint (a run stopped before writing one) the job starts
      // over.
      absl::StatusOr<bool> checkpoint = HasFineTuneCheckpoint(snapshot.options.output_dir);
      snapshot.options.resume = checkpoint.ok() && *checkpoint;
    }
    snapshot.state = JobState::kQueued;
    snapshot.started_at.reset();
    Save(job);
    queue_.push_back(id);
  }
}

absl::StatusOr<JobSnapshot> JobManager::Submit(const FineTuneOptions& options,
                                               const std::string& tenant) {
  LIGER_RETURN_IF_ERROR(CheckFineTuneSubmission(options));
  LIGER_ASSIGN_OR_RETURN(std::string id, NewSessionId());
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return absl::UnavailableError("the job manager is shutting down");
  const size_t pending = queue_.size() + (running_id_.empty() ? 0 : 1);
  if (pending >= static_cast<size_t>(options_.max_pending_jobs)) {
    return absl::ResourceExhaustedError(
        absl::StrCat(pending, " fine-tuning jobs are already queued or running, as many as the "
                              "server takes (--max-pending-jobs); retry when one has ended"));
  }
  for (const auto& [other_id, other] : jobs_) {
    if (!IsTerminalJobState(other.snapshot.state) &&
        other.snapshot.options.output_dir == options.output_dir) {
      return absl::AlreadyExistsError(
          absl::StrCat("job ", other_id, " already writes output_dir ", options.output_dir));
    }
  }
  Job job;
  job.snapshot.id = id;
  job.snapshot.tenant = tenant;
  job.snapshot.state = JobState::kQueued;
  job.snapshot.options = options;
  job.snapshot.created_at = absl::Now();
  // A job the record of which cannot be written would be lost at a restart:
  // refuse it.
  if (store_ != nullptr) LIGER_RETURN_IF_ERROR(store_->Save(job.snapshot));
  job.last_saved = absl::Now();
  const JobSnapshot snapshot = job.snapshot;
  jobs_.emplace(id, std::move(job));
  creation_order_.push_back(id);
  queue_.push_back(id);
  return snapshot;
}

absl::StatusOr<JobSnapshot> JobManager::Get(const std::string& id, const std::string& tenant) const {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second.snapshot.tenant != tenant) return JobNotFoundError(id);
  return it->second.snapshot;
}

std::vector<JobSnapshot> JobManager::List(std::optional<JobState> state,
                                          const std::string& tenant) const {
  absl::MutexLock lock(&mu_);
  std::vector<JobSnapshot> out;
  for (auto it = creation_order_.rbegin(); it != creation_order_.rend(); ++it) {
    const JobSnapshot& snapshot = jobs_.at(*it).snapshot;
    if (snapshot.tenant == tenant && (!state.has_value() || snapshot.state == *state)) {
      out.push_back(snapshot);
    }
  }
  return out;
}

absl::StatusOr<JobSnapshot> JobManager::Cancel(const std::string& id, const std::string& tenant) {
  Deliveries deliveries;
  JobSnapshot snapshot;
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.snapshot.tenant != tenant) return JobNotFoundError(id);
    Job& job = it->second;
    if (IsTerminalJobState(job.snapshot.state)) {
      return absl::FailedPreconditionError(absl::StrCat("job ", id, " has already finished (",
                                                        JobStateName(job.snapshot.state), ")"));
    }
    if (id == running_id_) {
      cancel_running_ = true;
      stop_running_ = true;
    } else {
      queue_.erase(std::remove(queue_.begin(), queue_.end(), id), queue_.end());
      job.snapshot.state = JobState::kCancelled;
      job.snapshot.finished_at = absl::Now();
      job.snapshot.error_message = "cancelled before it started";
      Publish(job, /*save=*/true, /*last=*/true, deliveries);
    }
    snapshot = job.snapshot;
  }
  DeliverAll(deliveries);
  return snapshot;
}

absl::StatusOr<std::shared_ptr<JobWatch>> JobManager::Watch(const std::string& id,
                                                            JobWatchCallback callback,
                                                            const std::string& tenant) {
  auto watch = std::make_shared<JobWatch>(std::move(callback));
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return absl::UnavailableError("the job manager is shutting down");
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.snapshot.tenant != tenant) return JobNotFoundError(id);
    Job& job = it->second;
    const bool last = IsTerminalJobState(job.snapshot.state);
    watch->Enqueue({job.snapshot, last});
    if (!last) job.watches.push_back(watch);
  }
  watch->Deliver();
  return watch;
}

int64_t JobManager::CountInState(JobState state) const {
  absl::MutexLock lock(&mu_);
  return std::count_if(jobs_.begin(), jobs_.end(),
                       [state](const auto& entry) { return entry.second.snapshot.state == state; });
}

std::optional<FineTuneProgress> JobManager::RunningProgress() const {
  absl::MutexLock lock(&mu_);
  if (running_id_.empty()) return std::nullopt;
  return jobs_.at(running_id_).snapshot.progress;
}

void JobManager::Shutdown(absl::Duration grace) {
  Deliveries deliveries;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return;
    shutting_down_ = true;
    stop_running_ = true;
    auto run_ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_id_.empty(); };
    if (!mu_.AwaitWithTimeout(absl::Condition(&run_ended), grace)) {
      ReportError(absl::DeadlineExceededError(
          absl::StrCat("job ", running_id_, " did not stop within the shutdown grace period of ",
                       absl::FormatDuration(grace))));
    }
    for (auto& [id, job] : jobs_) {
      if (!job.watches.empty()) Publish(job, /*save=*/false, /*last=*/true, deliveries);
    }
  }
  DeliverAll(deliveries);
}

void JobManager::WorkerLoop() {
  while (true) {
    Deliveries deliveries;
    std::string id;
    FineTuneOptions options;
    {
      absl::MutexLock lock(&mu_);
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return shutting_down_ || !queue_.empty();
      };
      mu_.Await(absl::Condition(&has_work));
      if (shutting_down_) return;
      // Started under the same lock as the pop, so a Shutdown or Cancel from
      // now on sees it run.
      id = queue_.front();
      queue_.pop_front();
      running_id_ = id;
      cancel_running_ = false;
      stop_running_ = false;
      Job& job = jobs_.at(id);
      job.snapshot.state = JobState::kRunning;
      job.snapshot.started_at = absl::Now();
      job.snapshot.error_message.clear();
      options = job.snapshot.options;
      Publish(job, /*save=*/true, /*last=*/false, deliveries);
    }
    DeliverAll(deliveries);
    RunJob(id, options);
  }
}

void JobManager::RunJob(const std::string& id, const FineTuneOptions& options) {
  absl::StatusOr<FineTuneResult> result;
  try {
    result = options_.runner(
        options, [this, &id](const FineTuneProgress& progress) { return OnProgress(id, progress); },
        [this] { return stop_running_.load(); });
  } catch (const std::exception& e) {
    // The runner turns LibTorch errors into statuses; anything escaping it
    // still must not take the server down.
    result = absl::InternalError(absl::StrCat("the fine-tuning run threw: ", e.what()));
  }
  Deliveries deliveries;
  {
    absl::MutexLock lock(&mu_);
    Finish(jobs_.at(id), result, deliveries);
    running_id_.clear();
  }
  DeliverAll(deliveries);
}

absl::Status JobManager::OnProgress(const std::string& id, const FineTuneProgress& progress) {
  Deliveries deliveries;
  {
    absl::MutexLock lock(&mu_);
    Job& job = jobs_.at(id);
    job.snapshot.progress = progress;
    const bool save = absl::Now() - job.last_saved >= options_.progress_save_interval;
    Publish(job, save, /*last=*/false, deliveries);
  }
  DeliverAll(deliveries);
  return absl::OkStatus();
}

void JobManager::Finish(Job& job, const absl::StatusOr<FineTuneResult>& result,
                        Deliveries& deliveries) {
  JobSnapshot& snapshot = job.snapshot;
  if (result.ok()) {
    snapshot.state = JobState::kSucceeded;
    snapshot.progress = result->final_progress;
  } else if (cancel_running_) {
    snapshot.state = JobState::kCancelled;
    snapshot.error_message = "cancelled while running";
  } else if (shutting_down_ && store_ != nullptr) {
    // The run left a checkpoint; the next manager on this jobs directory
    // continues from it.
    snapshot.state = JobState::kQueued;
    snapshot.options.resume = true;
    snapshot.started_at.reset();
  } else if (shutting_down_) {
    snapshot.state = JobState::kCancelled;
    snapshot.error_message = "the server shut down while the job ran";
  } else {
    snapshot.state = JobState::kFailed;
    snapshot.error_message = std::string(result.status().message());
  }
  if (IsTerminalJobState(snapshot.state)) snapshot.finished_at = absl::Now();
  Publish(job, /*save=*/true, /*last=*/IsTerminalJobState(snapshot.state), deliveries);
}

void JobManager::Publish(Job& job, bool save, bool last, Deliveries& deliveries) {
  for (const std::shared_ptr<JobWatch>& watch : job.watches) {
    watch->Enqueue({job.snapshot, last});
    deliveries.push_back(watch);
  }
  if (last) {
    job.watches.clear();
  } else {
    job.watches.erase(std::remove_if(job.watches.begin(), job.watches.end(),
                                     [](const auto& watch) { return watch->closed(); }),
                      job.watches.end());
  }
  if (save || IsTerminalJobState(job.snapshot.state)) Save(job);
}

void JobManager::Save(Job& job) {
  job.last_saved = absl::Now();
  if (store_ == nullptr) return;
  if (absl::Status status = store_->Save(job.snapshot); !status.ok()) {
    ReportError(absl::Status(status.code(), absl::StrCat("cannot record job ", job.snapshot.id,
                                                         ": ", status.message())));
  }
}

void JobManager::ReportError(const absl::Status& status) const {
  if (options_.on_error) options_.on_error(status);
}

void JobManager::DeliverAll(const Deliveries& deliveries) {
  for (const std::shared_ptr<JobWatch>& watch : deliveries) watch->Deliver();
}

}  // namespace liger
