// JobManager with fake runners: submission checks, ordering, cancellation,
// watches, persistence across a restart, corrupt job files and shutdown.
#include "core/jobs/job_manager.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "core/jobs/job_record_json.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

namespace fs = std::filesystem;

constexpr absl::Duration kJobTestTimeout = absl::Seconds(30);

// A runner whose behaviour each test sets; it records the options of every run.
class FakeRunner {
 public:
  using Behaviour = std::function<absl::StatusOr<FineTuneResult>(
      const FineTuneOptions&, const FineTuneProgressCallback&, const std::function<bool()>&)>;

  explicit FakeRunner(Behaviour behaviour) : behaviour_(std::move(behaviour)) {}

  FineTuneRunner AsRunner() {
    return [this](const FineTuneOptions& options, const FineTuneProgressCallback& on_progress,
                  const std::function<bool()>& stop) {
      {
        absl::MutexLock lock(&mu_);
        runs_.push_back(options);
      }
      return behaviour_(options, on_progress, stop);
    };
  }

  std::vector<FineTuneOptions> runs() {
    absl::MutexLock lock(&mu_);
    return runs_;
  }

 private:
  Behaviour behaviour_;
  absl::Mutex mu_;
  std::vector<FineTuneOptions> runs_;
};

FineTuneResult SucceededResult(const FineTuneOptions& options, int64_t steps) {
  FineTuneResult result;
  result.output_dir = options.output_dir;
  result.final_progress.step = steps;
  result.final_progress.total_steps = steps;
  return result;
}

// Reports `steps` steps and succeeds.
FakeRunner::Behaviour StepsBehaviour(int64_t steps) {
  return [steps](const FineTuneOptions& options, const FineTuneProgressCallback& on_progress,
                 const std::function<bool()>&) -> absl::StatusOr<FineTuneResult> {
    for (int64_t step = 1; step <= steps; ++step) {
      FineTuneProgress progress;
      progress.step = step;
      progress.total_steps = steps;
      progress.loss = 2.0 / static_cast<double>(step);
      if (absl::Status status = on_progress(progress); !status.ok()) return status;
    }
    return SucceededResult(options, steps);
  };
}

// Runs until asked to stop, then returns CANCELLED as RunFineTune does.
absl::StatusOr<FineTuneResult> UntilStopped(const FineTuneOptions&, const FineTuneProgressCallback&,
                                            const std::function<bool()>& stop) {
  while (!stop()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  return absl::CancelledError("stopped");
}

class JobManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("liger_job_manager_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "model");
    // Submission reads the model's config (the fake runner never loads its weights).
    fs::copy_file(liger::testing::SourceDir() + "/models/llama3-tiny/config.json",
                  root_ / "model" / "config.json");
    std::ofstream(root_ / "train.jsonl") << "{\"text\": \"hello\"}\n";
  }
  void TearDown() override { fs::remove_all(root_); }

  FineTuneOptions Options(const std::string& output_name) const {
    FineTuneOptions options;
    options.model_dir = (root_ / "model").string();
    options.train_data = (root_ / "train.jsonl").string();
    options.output_dir = (root_ / output_name).string();
    return options;
  }

  std::unique_ptr<JobManager> NewManager(FakeRunner& runner, const std::string& jobs_dir = "",
                                         int max_pending_jobs = 16) {
    JobManagerOptions options;
    options.runner = runner.AsRunner();
    options.max_pending_jobs = max_pending_jobs;
    options.jobs_dir = jobs_dir;
    options.on_error = [this](const absl::Status& status) {
      absl::MutexLock lock(&errors_mu_);
      errors_.push_back(status);
    };
    absl::StatusOr<std::unique_ptr<JobManager>> manager = JobManager::Create(std::move(options));
    EXPECT_TRUE(manager.ok()) << manager.status();
    return manager.ok() ? *std::move(manager) : nullptr;
  }

  // Waits until job `id` is in `state`.
  static JobSnapshot AwaitState(JobManager& manager, const std::string& id, JobState state,
                                const std::string& tenant = "") {
    const absl::Time deadline = absl::Now() + kJobTestTimeout;
    while (true) {
      absl::StatusOr<JobSnapshot> job = manager.Get(id, tenant);
      EXPECT_TRUE(job.ok()) << job.status();
      if (!job.ok() || job->state == state || absl::Now() > deadline) {
        EXPECT_TRUE(job.ok() && job->state == state)
            << "job " << id << " never became " << JobStateName(state);
        return job.ok() ? *job : JobSnapshot();
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
  }

  std::vector<absl::Status> Errors() {
    absl::MutexLock lock(&errors_mu_);
    return errors_;
  }

  fs::path root_;
  absl::Mutex errors_mu_;
  std::vector<absl::Status> errors_;
};

TEST_F(JobManagerTest, BadSubmissionsNeverBecomeJobs) {
  FakeRunner runner(StepsBehaviour(1));
  std::unique_ptr<JobManager> manager = NewManager(runner);
  FineTuneOptions no_model = Options("out");
  no_model.model_dir.clear();
  EXPECT_EQ(manager->Submit(no_model).status().code(), absl::StatusCode::kInvalidArgument);
  FineTuneOptions missing_model = Options("out");
  missing_model.model_dir = (root_ / "nowhere").string();
  EXPECT_EQ(manager->Submit(missing_model).status().code(), absl::StatusCode::kNotFound);
  FineTuneOptions missing_data = Options("out");
  missing_data.train_data = (root_ / "missing.jsonl").string();
  EXPECT_EQ(manager->Submit(missing_data).status().code(), absl::StatusCode::kNotFound);
  FineTuneOptions bad_rate = Options("out");
  bad_rate.learning_rate = -1;
  EXPECT_EQ(manager->Submit(bad_rate).status().code(), absl::StatusCode::kInvalidArgument);
  fs::create_directories(root_ / "taken");
  EXPECT_EQ(manager->Submit(Options("taken")).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(manager->List().empty());
  EXPECT_TRUE(runner.runs().empty());
}

TEST_F(JobManagerTest, RunsJobsOneAtATimeInSubmissionOrder) {
  absl::Notification release;
  std::atomic<int> running{0};
  std::atomic<int> most_running{0};
  FakeRunner runner([&](const FineTuneOptions& options, const FineTuneProgressCallback&,
                        const std::function<bool()>&) -> absl::StatusOr<FineTuneResult> {
    most_running = std::max(most_running.load(), ++running);
    release.WaitForNotificationWithTimeout(kJobTestTimeout);
    --running;
    return SucceededResult(options, 1);
  });
  std::unique_ptr<JobManager> manager = NewManager(runner);
  std::vector<std::string> ids;
  for (const char* name : {"a", "b", "c"}) {
    absl::StatusOr<JobSnapshot> job = manager->Submit(Options(name));
    ASSERT_TRUE(job.ok()) << job.status();
    EXPECT_EQ(job->state, JobState::kQueued);
    EXPECT_EQ(job->id.size(), 32u);
    ids.push_back(job->id);
  }
  EXPECT_NE(ids[0], ids[1]);
  AwaitState(*manager, ids[0], JobState::kRunning);
  EXPECT_EQ(manager->Get(ids[2])->state, JobState::kQueued);
  // The same output directory cannot be claimed twice while a job writes it.
  EXPECT_EQ(manager->Submit(Options("b")).status().code(), absl::StatusCode::kAlreadyExists);
  release.Notify();
  for (const std::string& id : ids) AwaitState(*manager, id, JobState::kSucceeded);

  const std::vector<FineTuneOptions> runs = runner.runs();
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].output_dir, Options("a").output_dir);
  EXPECT_EQ(runs[1].output_dir, Options("b").output_dir);
  EXPECT_EQ(runs[2].output_dir, Options("c").output_dir);
  EXPECT_EQ(most_running.load(), 1);

  const std::vector<JobSnapshot> listed = manager->List();
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[0].id, ids[2]);  // newest first
  EXPECT_EQ(listed[2].id, ids[0]);
  EXPECT_EQ(manager->List(JobState::kQueued).size(), 0u);
  EXPECT_EQ(manager->List(JobState::kSucceeded).size(), 3u);
  EXPECT_EQ(manager->CountInState(JobState::kSucceeded), 3);
  EXPECT_TRUE(listed[0].started_at.has_value());
  EXPECT_TRUE(listed[0].finished_at.has_value());
  EXPECT_EQ(manager->Get("no-such-job").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(JobManagerTest, FailedRunsRecordTheError) {
  FakeRunner runner([](const FineTuneOptions&, const FineTuneProgressCallback&,
                       const std::function<bool()>&) -> absl::StatusOr<FineTuneResult> {
    return absl::DataLossError("train.jsonl line 3: not JSON");
  });
  std::unique_ptr<JobManager> manager = NewManager(runner);
  absl::StatusOr<JobSnapshot> job = manager->Submit(Options("out"));
  ASSERT_TRUE(job.ok()) << job.status();
  const JobSnapshot failed = AwaitState(*manager, job->id, JobState::kFailed);
  EXPECT_EQ(failed.error_message, "train.jsonl line 3: not JSON");
  EXPECT_EQ(manager->Cancel(job->id).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(JobManagerTest, CancelsQueuedJobsAtOnceAndRunningOnesWhenTheyStop) {
  FakeRunner runner(UntilStopped);
  std::unique_ptr<JobManager> manager = NewManager(runner);
  absl::StatusOr<JobSnapshot> first = manager->Submit(Options("first"));
  absl::StatusOr<JobSnapshot> second = manager->Submit(Options("second"));
  ASSERT_TRUE(first.ok() && second.ok());
  AwaitState(*manager, first->id, JobState::kRunning);

  absl::StatusOr<JobSnapshot> cancelled = manager->Cancel(second->id);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->state, JobState::kCancelled);
  EXPECT_EQ(manager->Cancel(second->id).status().code(), absl::StatusCode::kFailedPrecondition);

  absl::StatusOr<JobSnapshot> stopping = manager->Cancel(first->id);
  ASSERT_TRUE(stopping.ok()) << stopping.status();
  EXPECT_EQ(stopping->state, JobState::kRunning);
  AwaitState(*manager, first->id, JobState::kCancelled);
  EXPECT_EQ(runner.runs().size(), 1u);  // the queued one never ran
  EXPECT_EQ(manager->Cancel("no-such-job").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(JobManagerTest, AJobExistsOnlyForItsTenantAcrossRestarts) {
  const std::string jobs_dir = (root_ / "jobs").string();
  std::string id;
  {
    FakeRunner runner(UntilStopped);
    std::unique_ptr<JobManager> manager = NewManager(runner, jobs_dir);
    absl::StatusOr<JobSnapshot> job = manager->Submit(Options("out"), "alpha");
    ASSERT_TRUE(job.ok()) << job.status();
    EXPECT_EQ(job->tenant, "alpha");
    id = job->id;
    AwaitState(*manager, id, JobState::kRunning, "alpha");
    manager->Shutdown(absl::Seconds(10));  // back to QUEUED, to resume at the next start
  }
  FakeRunner runner(UntilStopped);
  std::unique_ptr<JobManager> manager = NewManager(runner, jobs_dir);
  // Another tenant, and the unauthenticated one, get what an unknown id gets.
  for (const std::string tenant : {"beta", ""}) {
    EXPECT_EQ(manager->Get(id, tenant).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(manager->Cancel(id, tenant).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(manager->Watch(id, [](const JobUpdate&) {}, tenant).status().code(),
              absl::StatusCode::kNotFound);
    EXPECT_TRUE(manager->List(std::nullopt, tenant).empty());
    EXPECT_EQ(manager->Get(id, tenant).status().message(), "no job \"" + id + "\"");
  }
  // The record kept its tenant through the restart.
  absl::StatusOr<JobSnapshot> job = manager->Get(id, "alpha");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->tenant, "alpha");
  EXPECT_EQ(manager->List(std::nullopt, "alpha").size(), 1u);
  ASSERT_TRUE(manager->Cancel(id, "alpha").ok());
  AwaitState(*manager, id, JobState::kCancelled, "alpha");
}

TEST_F(JobManagerTest, PendingJobsAreLimited) {
  FakeRunner runner(UntilStopped);
  std::unique_ptr<JobManager> manager = NewManager(runner, "", /*max_pending_jobs=*/2);
  absl::StatusOr<JobSnapshot> first = manager->Submit(Options("first"));
  absl::StatusOr<JobSnapshot> second = manager->Submit(Options("second"));
  ASSERT_TRUE(first.ok() && second.ok());
  AwaitState(*manager, first->id, JobState::kRunning);
  const absl::Status third = manager->Submit(Options("third")).status();
  EXPECT_EQ(third.code(), absl::StatusCode::kResourceExhausted) << third;
  EXPECT_EQ(manager->List().size(), 2u);
  // A slot frees when a job ends, queued or running.
  ASSERT_TRUE(manager->Cancel(second->id).ok());
  EXPECT_TRUE(manager->Submit(Options("third")).ok());
  EXPECT_EQ(manager->Submit(Options("fourth")).status().code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(manager->Cancel(first->id).ok());
  AwaitState(*manager, first->id, JobState::kCancelled);

  JobManagerOptions zero;
  zero.runner = runner.AsRunner();
  zero.max_pending_jobs = 0;
  EXPECT_EQ(JobManager::Create(std::move(zero)).status().code(), absl::StatusCode::kInvalidArgument);
}

// Collects what a watch delivers.
struct WatchLog {
  absl::Mutex mu;
  std::vector<JobUpdate> updates;
  absl::Notification last;

  JobWatchCallback Callback() {
    return [this](const JobUpdate& update) {
      absl::MutexLock lock(&mu);
      updates.push_back(update);
      if (update.last) last.Notify();
    };
  }
  std::vector<JobUpdate> Updates() {
    absl::MutexLock lock(&mu);
    return updates;
  }
};

TEST_F(JobManagerTest, WatchesSeeEveryChangeAndCanReattach) {
  absl::Notification go;
  FakeRunner runner([&](const FineTuneOptions& options, const FineTuneProgressCallback& progress,
                        const std::function<bool()>& stop) -> absl::StatusOr<FineTuneResult> {
    go.WaitForNotificationWithTimeout(kJobTestTimeout);
    return StepsBehaviour(3)(options, progress, stop);
  });
  std::unique_ptr<JobManager> manager = NewManager(runner);
  absl::StatusOr<JobSnapshot> job = manager->Submit(Options("out"));
  ASSERT_TRUE(job.ok());

  WatchLog first;
  absl::StatusOr<std::shared_ptr<JobWatch>> watch = manager->Watch(job->id, first.Callback());
  ASSERT_TRUE(watch.ok()) << watch.status();
  ASSERT_FALSE(first.Updates().empty());  // the current snapshot, before Watch returned
  WatchLog second;
  ASSERT_TRUE(manager->Watch(job->id, second.Callback()).ok());
  WatchLog left;
  absl::StatusOr<std::shared_ptr<JobWatch>> leaving = manager->Watch(job->id, left.Callback());
  ASSERT_TRUE(leaving.ok());
  (*leaving)->Close();
  go.Notify();
  ASSERT_TRUE(first.last.WaitForNotificationWithTimeout(kJobTestTimeout));
  ASSERT_TRUE(second.last.WaitForNotificationWithTimeout(kJobTestTimeout));

  for (WatchLog* log : {&first, &second}) {
    const std::vector<JobUpdate> updates = log->Updates();
    // The state it was attached in (queued, or running if the runner was
    // quick), running, three steps, succeeded; only the last flagged.
    ASSERT_GE(updates.size(), 5u);
    std::vector<int64_t> steps;
    for (size_t i = 0; i < updates.size(); ++i) {
      EXPECT_EQ(updates[i].last, i + 1 == updates.size());
      if (updates[i].job.state == JobState::kRunning && updates[i].job.progress.step > 0) {
        steps.push_back(updates[i].job.progress.step);
      }
    }
    EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3}));
    EXPECT_EQ(updates.back().job.state, JobState::kSucceeded);
  }
  EXPECT_LE(left.Updates().size(),
            1u);  // only the snapshot delivered before it closed

  // Re-attaching to the finished job delivers its final snapshot, flagged last.
  WatchLog again;
  ASSERT_TRUE(manager->Watch(job->id, again.Callback()).ok());
  ASSERT_EQ(again.Updates().size(), 1u);
  EXPECT_TRUE(again.Updates()[0].last);
  EXPECT_EQ(again.Updates()[0].job.state, JobState::kSucceeded);
  EXPECT_EQ(manager->Watch("no-such-job", again.Callback()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(JobManagerTest, RestartRequeuesQueuedAndInterruptedJobs) {
  const std::string jobs_dir = (root_ / "jobs").string();
  std::string interrupted_id;
  std::string queued_id;
  std::string done_id;
  {
    FakeRunner first_run([](const FineTuneOptions& options,
                            const FineTuneProgressCallback& on_progress,
                            const std::function<bool()>& stop) -> absl::StatusOr<FineTuneResult> {
      if (options.output_dir.find("done") != std::string::npos) return SucceededResult(options, 1);
      FineTuneProgress progress;
      progress.step = 1;
      progress.total_steps = 10;
      EXPECT_TRUE(on_progress(progress).ok());
      // The checkpoint a stopped RunFineTune leaves (its contents do not matter here).
      fs::create_directories(FineTuneResumeDir(options.output_dir));
      std::ofstream(FineTuneResumeDir(options.output_dir) + "/checkpoint.safetensors") << "stub";
      return UntilStopped(options, on_progress, stop);
    });
    std::unique_ptr<JobManager> manager = NewManager(first_run, jobs_dir);
    absl::StatusOr<JobSnapshot> done = manager->Submit(Options("done"));
    ASSERT_TRUE(done.ok());
    done_id = done->id;
    AwaitState(*manager, done_id, JobState::kSucceeded);
    absl::StatusOr<JobSnapshot> interrupted = manager->Submit(Options("interrupted"));
    absl::StatusOr<JobSnapshot> queued = manager->Submit(Options("queued"));
    ASSERT_TRUE(interrupted.ok() && queued.ok());
    interrupted_id = interrupted->id;
    queued_id = queued->id;
    AwaitState(*manager, interrupted_id, JobState::kRunning);
    const absl::Time start = absl::Now();
    manager->Shutdown(absl::Seconds(20));
    EXPECT_LT(absl::Now() - start, absl::Seconds(10));
    EXPECT_EQ(manager->Get(interrupted_id)->state, JobState::kQueued);
    EXPECT_TRUE(manager->Get(interrupted_id)->options.resume);
    EXPECT_EQ(manager->Submit(Options("late")).status().code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_TRUE(fs::exists(fs::path(jobs_dir) / (interrupted_id + ".json")));

  FakeRunner second_run(StepsBehaviour(2));
  std::unique_ptr<JobManager> restarted = NewManager(second_run, jobs_dir);
  AwaitState(*restarted, interrupted_id, JobState::kSucceeded);
  AwaitState(*restarted, queued_id, JobState::kSucceeded);
  const std::vector<FineTuneOptions> runs = second_run.runs();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].output_dir, Options("interrupted").output_dir);
  EXPECT_TRUE(runs[0].resume);
  EXPECT_EQ(runs[1].output_dir, Options("queued").output_dir);
  EXPECT_FALSE(runs[1].resume);
  EXPECT_EQ(restarted->Get(done_id)->state, JobState::kSucceeded);
  EXPECT_EQ(restarted->List().size(), 3u);
  EXPECT_TRUE(Errors().empty());
}

TEST_F(JobManagerTest, AJobInterruptedBeforeItsFirstCheckpointStartsOver) {
  const std::string jobs_dir = (root_ / "jobs").string();
  fs::create_directories(jobs_dir);
  // A record left RUNNING by a process that died without a checkpoint.
  JobSnapshot record;
  record.id = "0123456789abcdef0123456789abcdef";
  record.state = JobState::kRunning;
  record.options = Options("out");
  record.created_at = absl::Now();
  record.started_at = absl::Now();
  std::ofstream(fs::path(jobs_dir) / (record.id + ".json")) << JobSnapshotToJson(record).dump();

  FakeRunner runner(StepsBehaviour(1));
  std::unique_ptr<JobManager> manager = NewManager(runner, jobs_dir);
  AwaitState(*manager, record.id, JobState::kSucceeded);
  ASSERT_EQ(runner.runs().size(), 1u);
  EXPECT_FALSE(runner.runs()[0].resume);
}

TEST_F(JobManagerTest, CorruptJobFilesAreSkippedAndReported) {
  const std::string jobs_dir = (root_ / "jobs").string();
  fs::create_directories(jobs_dir);
  std::ofstream(fs::path(jobs_dir) / "garbage.json") << "{not json";
  std::ofstream(fs::path(jobs_dir) / "partial.json") << R"({"version": 1, "id": "partial"})";
  JobSnapshot record;
  record.id = "abc";
  record.options = Options("x");
  std::ofstream(fs::path(jobs_dir) / "renamed.json") << JobSnapshotToJson(record).dump();
  std::ofstream(fs::path(jobs_dir) / ".abc.json.tmp-0123") << "half a rec";

  FakeRunner runner(StepsBehaviour(1));
  std::unique_ptr<JobManager> manager = NewManager(runner, jobs_dir);
  ASSERT_NE(manager, nullptr);
  EXPECT_TRUE(manager->List().empty());
  const std::vector<absl::Status> errors = Errors();
  ASSERT_EQ(errors.size(), 3u);
  for (const absl::Status& error : errors) {
    EXPECT_EQ(error.code(), absl::StatusCode::kDataLoss) << error;
  }
  // The manager works on.
  absl::StatusOr<JobSnapshot> job = manager->Submit(Options("out"));
  ASSERT_TRUE(job.ok()) << job.status();
  AwaitState(*manager, job->id, JobState::kSucceeded);
}

TEST_F(JobManagerTest, ShutdownWaitsNoLongerThanTheGracePeriod) {
  std::atomic<bool> finish{false};
  FakeRunner runner([&](const FineTuneOptions& options, const FineTuneProgressCallback&,
                        const std::function<bool()>&) -> absl::StatusOr<FineTuneResult> {
    // Ignores the stop request, like a step that takes long.
    while (!finish) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return SucceededResult(options, 1);
  });
  std::unique_ptr<JobManager> manager = NewManager(runner);
  absl::StatusOr<JobSnapshot> job = manager->Submit(Options("out"));
  ASSERT_TRUE(job.ok());
  AwaitState(*manager, job->id, JobState::kRunning);
  WatchLog log;
  ASSERT_TRUE(manager->Watch(job->id, log.Callback()).ok());

  const absl::Time start = absl::Now();
  manager->Shutdown(absl::Milliseconds(200));
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(190));
  EXPECT_LT(took, absl::Seconds(5));
  // Watches end with the manager, the last update saying where the job stands.
  ASSERT_TRUE(log.last.HasBeenNotified());
  EXPECT_EQ(log.Updates().back().job.state, JobState::kRunning);
  EXPECT_EQ(manager->Watch(job->id, log.Callback()).status().code(),
            absl::StatusCode::kUnavailable);
  ASSERT_EQ(Errors().size(), 1u);
  EXPECT_EQ(Errors()[0].code(), absl::StatusCode::kDeadlineExceeded);
  finish = true;
  manager.reset();  // waits for the run
}

TEST_F(JobManagerTest, InMemoryShutdownCancelsTheRunningJob) {
  FakeRunner runner(UntilStopped);
  std::unique_ptr<JobManager> manager = NewManager(runner);
  absl::StatusOr<JobSnapshot> job = manager->Submit(Options("out"));
  ASSERT_TRUE(job.ok());
  AwaitState(*manager, job->id, JobState::kRunning);
  manager->Shutdown(absl::Seconds(20));
  EXPECT_EQ(manager->Get(job->id)->state, JobState::kCancelled);
}

}  // namespace
}  // namespace liger
