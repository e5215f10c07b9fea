// The job store on a file system that fills up (a small tmpfs): a record that cannot be written is
// RESOURCE_EXHAUSTED naming the file, the job's previous record stays readable and no temporary
// file is left; JobManager refuses a job it could not record. Skipped without the privilege to
// mount.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "core/jobs/job_manager.h"
#include "core/jobs/job_store.h"
#include "tests/core/io/temp_dir.h"
#include "tests/support/tmpfs_mount.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

namespace fs = std::filesystem;
using ::liger::testing::TempDir;
using ::liger::testing::TmpfsMount;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

void ExpectNoSpace(const absl::Status& status, const std::string& file) {
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(status.message(), HasSubstr(file));
  EXPECT_THAT(status.message(), HasSubstr("No space left on device"));
}

TEST(JobStoreFullDiskTest, ARecordThatCannotBeWrittenKeepsThePreviousOne) {
  auto mounted = TmpfsMount::Create(1 << 20);
  if (absl::IsPermissionDenied(mounted.status())) GTEST_SKIP() << mounted.status();
  ASSERT_TRUE(mounted.ok()) << mounted.status();
  TmpfsMount& disk = **mounted;
  auto store = JobStore::Open(disk.File("jobs"));
  ASSERT_TRUE(store.ok()) << store.status();

  JobSnapshot job;
  job.id = "0123456789abcdef0123456789abcdef";
  job.state = JobState::kRunning;
  job.options.model_dir = "/models/m";
  job.options.output_dir = "/out/tuned";
  job.options.train_data = "/data/train.jsonl";
  job.progress.step = 3;
  job.progress.total_steps = 10;
  job.created_at = absl::FromUnixSeconds(1700000000);
  ASSERT_TRUE((*store)->Save(job).ok());
  ASSERT_TRUE(disk.Fill().ok());

  JobSnapshot later = job;
  later.state = JobState::kFailed;
  later.progress.step = 4;
  later.error_message = "out of space";
  ExpectNoSpace((*store)->Save(later), disk.File("jobs/" + job.id + ".json"));
  EXPECT_THAT(ListDir(disk.File("jobs")), ElementsAre(job.id + ".json"));  // no temporary file

  std::vector<absl::Status> errors;
  std::vector<JobSnapshot> loaded =
      (*store)->LoadAll([&errors](const absl::Status& status) { errors.push_back(status); });
  EXPECT_THAT(errors, IsEmpty());
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].id, job.id);
  EXPECT_EQ(loaded[0].state, JobState::kRunning);
  EXPECT_EQ(loaded[0].progress.step, 3);

  // With room again the record is written.
  disk.Free();
  ASSERT_TRUE((*store)->Save(later).ok());
  loaded = (*store)->LoadAll([](const absl::Status& status) { ADD_FAILURE() << status; });
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].state, JobState::kFailed);
  EXPECT_EQ(loaded[0].progress.step, 4);
}

TEST(JobStoreFullDiskTest, TheManagerRefusesAJobItCannotRecord) {
  auto mounted = TmpfsMount::Create(1 << 20);
  if (absl::IsPermissionDenied(mounted.status())) GTEST_SKIP() << mounted.status();
  ASSERT_TRUE(mounted.ok()) << mounted.status();
  TmpfsMount& disk = **mounted;
  TempDir root;
  // Submission reads the model's config; the runner never runs.
  fs::create_directories(root.File("model"));
  fs::copy_file(liger::testing::SourceDir() + "/models/llama3-tiny/config.json",
                root.File("model/config.json"));
  std::ofstream(root.File("train.jsonl")) << "{\"text\": \"hello\"}\n";

  JobManagerOptions options;
  options.jobs_dir = disk.File("jobs");
  options.runner = [](const FineTuneOptions&, const FineTuneProgressCallback&,
                      const std::function<bool()>&) -> absl::StatusOr<FineTuneResult> {
    ADD_FAILURE() << "a job that was refused ran";
    return absl::InternalError("refused job ran");
  };
  auto manager = JobManager::Create(std::move(options));
  ASSERT_TRUE(manager.ok()) << manager.status();
  ASSERT_TRUE(disk.Fill().ok());

  FineTuneOptions job;
  job.model_dir = root.File("model");
  job.train_data = root.File("train.jsonl");
  job.output_dir = root.File("out");
  absl::StatusOr<JobSnapshot> submitted = (*manager)->Submit(job);
  ExpectNoSpace(submitted.status(), disk.File("jobs/"));
  EXPECT_THAT((*manager)->List(), IsEmpty());
  EXPECT_THAT(ListDir(disk.File("jobs")), IsEmpty());
}

}  // namespace
}  // namespace liger
