// Data parallelism on c10d with ranks as threads of the test process (Gloo on the CPU): the
// environment a launcher sets, gradient buckets summed over ranks, and whole fine-tuning runs on
// two ranks that take the steps one process takes, stop together and resume.
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "absl/status/status.h"
#include "core/jobs/job_record_json.h"
#include "core/train/distributed_environment.h"
#include "core/train/fine_tune.h"
#include "core/train/gradient_buckets.h"
#include "core/train/process_group_collectives.h"
#include "nlohmann/json.hpp"
#include "tests/core/io/temp_dir.h"
#include "tests/core/train/gla_fine_tune_fixture.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

namespace fs = std::filesystem;
using ::liger::testing::TempDir;

absl::StatusOr<DistributedEnvironment> EnvironmentOf(std::map<std::string, std::string> vars) {
  return DistributedEnvironmentFromEnv([&vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

TEST(DistributedEnvironmentTest, WithoutWorldSizeTheRunIsOneProcess) {
  auto env = EnvironmentOf({{"RANK", "3"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_FALSE(env->distributed());
  EXPECT_EQ(env->rank, 0);
}

TEST(DistributedEnvironmentTest, ReadsTorchrunsVariables) {
  auto env = EnvironmentOf({{"WORLD_SIZE", "4"}, {"RANK", "3"}, {"LOCAL_RANK", "1"},
                            {"MASTER_ADDR", "trainer-0.trainers"}, {"MASTER_PORT", "29600"},
                            {"LIGER_DIST_TIMEOUT_SECONDS", "30"},
                            {"TORCHELASTIC_USE_AGENT_STORE", "True"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_TRUE(env->distributed());
  EXPECT_EQ(env->world_size, 4);
  EXPECT_EQ(env->rank, 3);
  EXPECT_EQ(env->local_rank, 1);
  EXPECT_EQ(env->master_addr, "trainer-0.trainers");
  EXPECT_EQ(env->master_port, 29600);
  EXPECT_EQ(env->timeout_seconds, 30);
  EXPECT_TRUE(env->agent_store);
}

TEST(DistributedEnvironmentTest, AnIndexedJobsCompletionIndexIsTheRank) {
  auto env = EnvironmentOf(
      {{"WORLD_SIZE", "2"}, {"JOB_COMPLETION_INDEX", "1"}, {"MASTER_ADDR", "job-0.job"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->rank, 1);
  EXPECT_EQ(env->master_port, 29500);
  EXPECT_FALSE(env->agent_store);
}

TEST(DistributedEnvironmentTest, BadValuesNameTheirVariable) {
  const std::vector<std::pair<std::map<std::string, std::string>, std::string>> cases = {
      {{{"WORLD_SIZE", "two"}}, "WORLD_SIZE"},
      {{{"WORLD_SIZE", "0"}}, "WORLD_SIZE"},
      {{{"WORLD_SIZE", "2"}}, "RANK"},
      {{{"WORLD_SIZE", "2"}, {"RANK", "2"}, {"MASTER_ADDR", "h"}}, "RANK"},
      {{{"WORLD_SIZE", "2"}, {"RANK", "-1"}, {"MASTER_ADDR", "h"}}, "RANK"},
      {{{"WORLD_SIZE", "2"}, {"RANK", "1"}}, "MASTER_ADDR"},
      {{{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_PORT", "70000"}}, "MASTER_PORT"},
      {{{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"LOCAL_RANK", "x"}}, "LOCAL_RANK"},
  };
  for (const auto& [vars, variable] : cases) {
    auto env = EnvironmentOf(vars);
    ASSERT_EQ(env.status().code(), absl::StatusCode::kInvalidArgument) << variable;
    EXPECT_NE(env.status().message().find(variable), std::string::npos) << env.status();
  }
}

// Runs `body(rank, group)` on `world_size` threads, each joined to one in-process group.
void OnRanks(int world_size, const std::function<void(int, CollectiveGroup&)>& body) {
  auto rendezvous = ProcessGroupCollectives::NewRendezvous(std::chrono::seconds(30));
  std::vector<std::thread> threads;
  for (int rank = 0; rank < world_size; ++rank) {
    threads.emplace_back([&, rank] {
      auto group = ProcessGroupCollectives::JoinInProcess(rendezvous, rank, world_size,
                                                          torch::kCPU, std::chrono::seconds(30));
      ASSERT_TRUE(group.ok()) << group.status();
      body(rank, **group);
    });
  }
  for (std::thread& thread : threads) thread.join();
}

std::vector<torch::Tensor> BucketTestParameters() {
  return {torch::zeros({3, 4}).requires_grad_(), torch::zeros({5}).requires_grad_(),
          torch::zeros({2, 2}).requires_grad_(), torch::zeros({7}).requires_grad_()};
}

// Backward of Σ_i weight · (i + 1) · sum(p_i): p_i's gradient is weight · (i + 1) everywhere.
void Backward(const std::vector<torch::Tensor>& parameters, double weight,
              const std::vector<bool>& used) {
  torch::Tensor loss = torch::zeros({});
  for (size_t i = 0; i < parameters.size(); ++i) {
    if (used[i]) loss = loss + weight * static_cast<double>(i + 1) * parameters[i].sum();
  }
  loss.backward();
}

TEST(GradientBucketsTest, SumsAccumulatedGradientsOverRanksInSeveralBuckets) {
  if (!ProcessGroupCollectives::Supports(torch::kCPU)) GTEST_SKIP() << "no Gloo in this build";
  std::vector<std::vector<torch::Tensor>> grads(2);
  OnRanks(2, [&](int rank, CollectiveGroup& group) {
    std::vector<torch::Tensor> parameters = BucketTestParameters();
    GradientBuckets buckets(parameters, group, /*bucket_bytes=*/32);
    EXPECT_EQ(buckets.bucket_count(), 4);
    const std::vector<bool> all(parameters.size(), true);
    for (int step = 0; step < 2; ++step) {  // buckets are reused across steps
      for (torch::Tensor& p : parameters) p.mutable_grad() = torch::Tensor();
      // Rank r's two micro-batches weigh (r + 1) and 10 (r + 1); the second starts the sums.
      Backward(parameters, rank + 1.0, all);
      buckets.Arm();
      Backward(parameters, 10.0 * (rank + 1), all);
      ASSERT_TRUE(buckets.Finish().ok());
    }
    for (torch::Tensor& p : parameters) grads[rank].push_back(p.grad().clone());
  });
  for (size_t i = 0; i < grads[0].size(); ++i) {
    // Σ over ranks and micro-batches: (1 + 10 + 2 + 20) · (i + 1).
    const double expected = 33.0 * static_cast<double>(i + 1);
    EXPECT_TRUE(torch::allclose(grads[0][i], torch::full_like(grads[0][i], expected))) << i;
    EXPECT_TRUE(torch::equal(grads[0][i], grads[1][i])) << i;
  }
}

TEST(GradientBucketsTest, ARankWithoutMicroBatchesOrAParameterWithoutGradientCountsZero) {
  if (!ProcessGroupCollectives::Supports(torch::kCPU)) GTEST_SKIP() << "no Gloo in this build";
  std::vector<std::vector<torch::Tensor>> grads(2);
  OnRanks(2, [&](int rank, CollectiveGroup& group) {
    std::vector<torch::Tensor> parameters = BucketTestParameters();
    GradientBuckets buckets(parameters, group, /*bucket_bytes=*/64);
    if (rank == 0) {  // rank 1 got no micro-batch this step; parameter 2 is not used
      buckets.Arm();
      Backward(parameters, 1.0, {true, true, false, true});
    }
    ASSERT_TRUE(buckets.Finish().ok());
    for (torch::Tensor& p : parameters) grads[rank].push_back(p.grad().clone());
  });
  for (size_t i = 0; i < grads[0].size(); ++i) {
    const double expected = i == 2 ? 0.0 : static_cast<double>(i + 1);
    EXPECT_TRUE(torch::allclose(grads[1][i], torch::full_like(grads[1][i], expected))) << i;
    EXPECT_TRUE(torch::equal(grads[0][i], grads[1][i])) << i;
  }
}

TEST(ProcessGroupCollectivesTest, ARankThatLeavesIsAnErrorForTheOthersNotAHang) {
  if (!ProcessGroupCollectives::Supports(torch::kCPU)) GTEST_SKIP() << "no Gloo in this build";
  auto rendezvous = ProcessGroupCollectives::NewRendezvous(std::chrono::seconds(30));
  absl::Status status;
  std::thread leaver([&] {
    auto group = ProcessGroupCollectives::JoinInProcess(rendezvous, 1, 2, torch::kCPU,
                                                        std::chrono::seconds(5));
    ASSERT_TRUE(group.ok()) << group.status();
  });  // destroys its group without taking part in anything
  auto group = ProcessGroupCollectives::JoinInProcess(rendezvous, 0, 2, torch::kCPU,
                                                      std::chrono::seconds(5));
  ASSERT_TRUE(group.ok()) << group.status();
  leaver.join();
  const auto start = std::chrono::steady_clock::now();
  status = (*group)->SumAcross({1.0}).status();
  EXPECT_TRUE(status.code() == absl::StatusCode::kUnavailable ||
              status.code() == absl::StatusCode::kDeadlineExceeded)
      << status;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

const testing::GlaFineTuneFixture& Fixture() {
  static const testing::GlaFineTuneFixture fixture(/*train_documents=*/2, /*train_chars=*/1500,
                                                   /*eval_chars=*/500);
  return fixture;
}

class DataParallelFineTuneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ProcessGroupCollectives::Supports(torch::kCPU)) GTEST_SKIP() << "no Gloo in this build";
  }

  // Three micro-batches a step: two ranks get two and one of them.
  FineTuneOptions Options(const std::string& output_name) const {
    FineTuneOptions o;
    o.model_dir = Fixture().model;
    o.train_data = Fixture().train;
    o.eval_data = Fixture().eval;
    o.output_dir = dir_.File(output_name);
    o.sequence_length = 32;
    o.micro_batch_size = 1;
    o.gradient_accumulation_steps = 3;
    o.learning_rate = 5e-3;
    o.schedule = LearningRateSchedule::kCosine;
    o.max_grad_norm = 0.5;
    o.epochs = 0;
    o.max_steps = 6;
    o.eval_every_steps = 3;
    o.seed = 5;
    return o;
  }

  struct RankOutcome {
    absl::Status status;
    std::vector<FineTuneProgress> steps;
  };

  // Runs `options` as `world_size` ranks; `stop_on_rank_after` asks that rank to stop after that
  // many steps (0: never).
  std::vector<RankOutcome> RunOnRanks(const FineTuneOptions& options, int world_size,
                                      int stop_rank = -1, int stop_after = 0,
                                      const std::string& rank1_train_data = "") {
    std::vector<RankOutcome> outcomes(world_size);
    OnRanks(world_size, [&](int rank, CollectiveGroup& group) {
      FineTuneOptions o = options;
      if (rank == 1 && !rank1_train_data.empty()) o.train_data = rank1_train_data;
      RankOutcome& outcome = outcomes[rank];
      auto result = RunFineTune(
          o,
          [&](const FineTuneProgress& p) {
            outcome.steps.push_back(p);
            return absl::OkStatus();
          },
          [&] { return rank == stop_rank && static_cast<int>(outcome.steps.size()) >= stop_after; },
          &group);
      outcome.status = result.status();
    });
    return outcomes;
  }

  std::vector<FineTuneProgress> RunAlone(const FineTuneOptions& options) {
    std::vector<FineTuneProgress> steps;
    auto result = RunFineTune(options, [&](const FineTuneProgress& p) {
      steps.push_back(p);
      return absl::OkStatus();
    });
    EXPECT_TRUE(result.ok()) << result.status();
    return steps;
  }

  static void ExpectSameSteps(const std::vector<FineTuneProgress>& actual,
                              const std::vector<FineTuneProgress>& expected) {
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(actual[i].step, expected[i].step);
      EXPECT_NEAR(actual[i].loss, expected[i].loss, 1e-4) << "step " << i + 1;
      EXPECT_EQ(actual[i].tokens_processed, expected[i].tokens_processed);
      ASSERT_EQ(actual[i].eval_perplexity.has_value(), expected[i].eval_perplexity.has_value());
      if (expected[i].eval_perplexity) {
        EXPECT_NEAR(*actual[i].eval_perplexity, *expected[i].eval_perplexity,
                    1e-4 * *expected[i].eval_perplexity);
      }
    }
  }

  TempDir dir_;
};

TEST_F(DataParallelFineTuneTest, TwoRanksTakeTheStepsOfOneProcess) {
  const std::vector<FineTuneProgress> alone = RunAlone(Options("alone"));
  ASSERT_EQ(alone.size(), 6u);
  std::vector<RankOutcome> ranks = RunOnRanks(Options("parallel"), 2);
  for (int rank = 0; rank < 2; ++rank) {
    ASSERT_TRUE(ranks[rank].status.ok()) << "rank " << rank << ": " << ranks[rank].status;
    ExpectSameSteps(ranks[rank].steps, alone);
  }
  EXPECT_TRUE(fs::exists(dir_.File("parallel") + "/adapter_model.safetensors"));
  EXPECT_FALSE(fs::exists(FineTuneResumeDir(dir_.File("parallel"))));
}

TEST_F(DataParallelFineTuneTest, OneRanksStopStopsAllAndTheRunResumesWhereItStopped) {
  const std::vector<FineTuneProgress> alone = RunAlone(Options("alone"));
  FineTuneOptions o = Options("parallel");
  std::vector<RankOutcome> stopped = RunOnRanks(o, 2, /*stop_rank=*/1, /*stop_after=*/2);
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_EQ(stopped[rank].status.code(), absl::StatusCode::kCancelled) << stopped[rank].status;
    EXPECT_EQ(stopped[rank].steps.size(), 2u) << "rank " << rank;
  }
  EXPECT_TRUE(fs::exists(FineTuneResumeDir(o.output_dir) + "/checkpoint.safetensors"));
  EXPECT_FALSE(fs::exists(o.output_dir));
  o.resume = true;
  std::vector<RankOutcome> resumed = RunOnRanks(o, 2);
  ASSERT_TRUE(resumed[0].status.ok()) << resumed[0].status;
  std::vector<FineTuneProgress> steps = stopped[0].steps;
  steps.insert(steps.end(), resumed[0].steps.begin(), resumed[0].steps.end());
  ExpectSameSteps(steps, alone);
}

TEST_F(DataParallelFineTuneTest, RanksInThisProcessTakeTheStepsOfOneRank) {
  const std::vector<FineTuneProgress> alone = RunAlone(Options("alone"));
  FineTuneOptions o = Options("local");
  o.data_parallel_ranks = 2;  // what a FineTune job with data_parallel_ranks runs
  ExpectSameSteps(RunAlone(o), alone);
  EXPECT_TRUE(fs::exists(o.output_dir + "/adapter_model.safetensors"));
}

TEST_F(DataParallelFineTuneTest, LocalRanksNeedAnUnindexedDeviceAndEnoughGpus) {
  FineTuneOptions o = Options("local");
  o.data_parallel_ranks = 0;
  EXPECT_EQ(RunFineTune(o, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  o.data_parallel_ranks = 2;
  o.device = "cuda:1";
  EXPECT_EQ(RunFineTune(o, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  if (torch::cuda::device_count() < 64) {
    o.data_parallel_ranks = 64;
    o.device = "cuda";
    absl::Status status = RunFineTune(o, nullptr).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  }
  // A process that is already one rank of a launched run cannot start ranks of its own.
  DistributedEnvironment env;
  env.world_size = 2;
  o.device = "cpu";
  o.data_parallel_ranks = 2;
  EXPECT_EQ(RunFineTuneRank(o, env, nullptr, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(o.output_dir));
}

TEST_F(DataParallelFineTuneTest, ARankThatCannotStartEndsTheRunOnEveryRank) {
  std::vector<RankOutcome> ranks =
      RunOnRanks(Options("parallel"), 2, -1, 0, dir_.File("missing.jsonl"));
  EXPECT_EQ(ranks[1].status.code(), absl::StatusCode::kNotFound) << ranks[1].status;
  EXPECT_EQ(ranks[0].status.code(), absl::StatusCode::kFailedPrecondition) << ranks[0].status;
  EXPECT_NE(ranks[0].status.message().find("could not start"), std::string::npos)
      << ranks[0].status;
  EXPECT_TRUE(ranks[0].steps.empty());
  EXPECT_FALSE(fs::exists(dir_.File("parallel")));
}

TEST(DataParallelJobRecordTest, KeepsTheRanksAndOlderRecordsHaveOne) {
  JobSnapshot job;
  job.id = "j1";
  job.options.model_dir = "m";
  job.options.output_dir = "o";
  job.options.train_data = "d.jsonl";
  job.options.data_parallel_ranks = 2;
  nlohmann::json record = nlohmann::json::parse(JobSnapshotToJson(job).dump());
  auto back = JobSnapshotFromJson(record, "j1.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->options.data_parallel_ranks, 2);
  record["options"].erase("data_parallel_ranks");
  back = JobSnapshotFromJson(record, "j1.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->options.data_parallel_ranks, 1);
}

}  // namespace
}  // namespace liger
