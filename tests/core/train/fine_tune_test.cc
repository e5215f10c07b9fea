// RunFineTune end to end on the llama3-tiny fixture converted to GLA: a short run whose loss
// falls and whose output loads, a stopped-and-resumed run that matches an uninterrupted one, and
// the errors a run reports before training.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "core/model/model_loader.h"
#include "core/train/fine_tune.h"
#include "core/train/lora_adapters.h"
#include "tests/core/io/temp_dir.h"
#include "tests/core/train/gla_fine_tune_fixture.h"

namespace liger {
namespace {

namespace fs = std::filesystem;
using ::liger::testing::TempDir;

// Made once per test binary.
const testing::GlaFineTuneFixture& Fixture() {
  static const testing::GlaFineTuneFixture fixture(/*train_documents=*/2, /*train_chars=*/1000,
                                                   /*eval_chars=*/500);
  return fixture;
}

class FineTuneTest : public ::testing::Test {
 protected:
  FineTuneOptions Options(const std::string& output_name) const {
    FineTuneOptions o;
    o.model_dir = Fixture().model;
    o.train_data = Fixture().train;
    o.output_dir = dir_.File(output_name);
    o.sequence_length = 64;
    o.micro_batch_size = 2;
    o.gradient_accumulation_steps = 1;
    o.seed = 3;
    return o;
  }

  TempDir dir_;
};

TEST_F(FineTuneTest, LossFallsAndTheOutputLoads) {
  FineTuneOptions o = Options("out");
  o.eval_data = Fixture().eval;
  o.eval_every_steps = 10;
  o.learning_rate = 5e-3;
  o.epochs = 6;
  std::vector<FineTuneProgress> steps;
  auto result = RunFineTune(o, [&](const FineTuneProgress& p) {
    steps.push_back(p);
    return absl::OkStatus();
  });
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_GE(steps.size(), 20u);
  const int64_t total = steps.front().total_steps;
  EXPECT_EQ(static_cast<int64_t>(steps.size()), total);
  const int64_t per_epoch = total / 6;
  EXPECT_EQ(total, per_epoch * 6);
  std::string losses;
  for (size_t i = 0; i < steps.size(); ++i) {
    const FineTuneProgress& p = steps[i];
    EXPECT_EQ(p.step, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(p.epoch, static_cast<int32_t>(i / per_epoch) + 1);
    EXPECT_DOUBLE_EQ(p.learning_rate, 5e-3);
    EXPECT_GT(p.tokens_per_second, 0);
    EXPECT_EQ(p.eval_perplexity.has_value(), p.step >= 10) << p.step;
    absl::StrAppend(&losses, " ", p.loss);
  }
  std::printf("losses:%s\neval perplexity: %.3f (step 10) %.3f (step %lld)\n", losses.c_str(),
              *steps[9].eval_perplexity, *steps.back().eval_perplexity,
              static_cast<long long>(total));
  // The last epoch's loss is well below the first's, and so is the held-out perplexity.
  double first = 0, last = 0;
  for (int64_t i = 0; i < per_epoch; ++i) {
    first += steps[i].loss;
    last += steps[total - 1 - i].loss;
  }
  EXPECT_LT(last, 0.9 * first);
  EXPECT_LT(*steps.back().eval_perplexity, *steps[9].eval_perplexity);
  EXPECT_EQ(result->final_progress.step, total);
  EXPECT_EQ(result->output_dir, o.output_dir);

  // The output is a model like any other, plus the adapter; the checkpoint is gone.
  EXPECT_FALSE(fs::exists(FineTuneResumeDir(o.output_dir)));
  auto model = LoadModel(o.output_dir, ModelLoadOptions());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE((*model)->config().liger.has_value());
  auto adapter = LoraAdapters::LoadAdapter(o.output_dir, (*model)->config(), torch::kCPU);
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  EXPECT_EQ((*adapter)->options().target_modules, o.lora.target_modules);
  // Trained: B is no longer zero.
  double b_norm = 0;
  for (const auto& [name, tensor] : (*adapter)->NamedParameters()) {
    if (name.find("lora_B") != std::string::npos) b_norm += tensor.norm().item<double>();
  }
  EXPECT_GT(b_norm, 0);
  // An output that exists is never overwritten.
  auto again = RunFineTune(o, nullptr);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
}

// The progress of every step, by running `o` to the end, optionally stopping at poll `stop_at`
// first and then resuming.
std::vector<FineTuneProgress> TrainSteps(FineTuneOptions o, int stop_at) {
  std::vector<FineTuneProgress> steps;
  auto record = [&](const FineTuneProgress& p) {
    EXPECT_EQ(p.step, static_cast<int64_t>(steps.size()) + 1);
    steps.push_back(p);
    return absl::OkStatus();
  };
  if (stop_at > 0) {
    int polls = 0;
    auto stopped = RunFineTune(o, record, [&] { return ++polls >= stop_at; });
    EXPECT_EQ(stopped.status().code(), absl::StatusCode::kCancelled) << stopped.status();
    EXPECT_FALSE(fs::exists(o.output_dir));
    EXPECT_TRUE(fs::exists(FineTuneResumeDir(o.output_dir) + "/checkpoint.safetensors"));
    // A fresh run may not clobber the checkpoint, and a resume must keep the options.
    EXPECT_EQ(RunFineTune(o, nullptr).status().code(), absl::StatusCode::kAlreadyExists);
    FineTuneOptions changed = o;
    changed.resume = true;
    changed.learning_rate *= 2;
    absl::Status mismatch = RunFineTune(changed, nullptr).status();
    EXPECT_EQ(mismatch.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(mismatch.message().find("learning_rate"), std::string::npos) << mismatch;
    o.resume = true;
  }
  auto result = RunFineTune(o, record);
  EXPECT_TRUE(result.ok()) << result.status();
  return steps;
}

TEST_F(FineTuneTest, StoppedAndResumedRunMatchesAnUninterruptedOne) {
  FineTuneOptions o = Options("whole");
  // Dropout, a cosine schedule with warm-up, clipping and weight decay all carry state or
  // randomness that the checkpoint must restore; 8 steps cross an epoch boundary.
  o.micro_batch_size = 1;
  o.gradient_accumulation_steps = 2;
  o.lora.dropout = 0.1;
  o.schedule = LearningRateSchedule::kCosine;
  o.warmup_steps = 2;
  o.weight_decay = 0.01;
  o.max_grad_norm = 0.5;
  o.epochs = 0;
  o.max_steps = 8;
  o.save_every_steps = 2;
  const std::vector<FineTuneProgress> whole = TrainSteps(o, 0);
  o.output_dir = dir_.File("resumed");
  // Two micro-batches a step: poll 8 is the second micro-batch of step 4, so the checkpoint
  // holds step 3 and the resumed run redoes step 4.
  const std::vector<FineTuneProgress> resumed = TrainSteps(o, 8);
  ASSERT_EQ(whole.size(), 8u);
  ASSERT_EQ(resumed.size(), 3u + 5u);
  std::string line;
  for (size_t i = 0; i < whole.size(); ++i) {
    EXPECT_NEAR(resumed[i].loss, whole[i].loss, 1e-4) << "step " << i + 1;
    EXPECT_EQ(resumed[i].epoch, whole[i].epoch) << "step " << i + 1;
    absl::StrAppend(&line, " ", whole[i].loss, "/", resumed[i].loss);
  }
  EXPECT_EQ(whole.front().epoch, 1);
  EXPECT_GE(whole.back().epoch, 2);
  std::printf("uninterrupted/resumed losses:%s\n", line.c_str());
  EXPECT_FALSE(fs::exists(FineTuneResumeDir(o.output_dir)));
}

TEST_F(FineTuneTest, FailingCallbackStopsWithItsStatusAndLeavesACheckpoint) {
  FineTuneOptions o = Options("out");
  o.max_steps = 2;
  auto result = RunFineTune(o, [](const FineTuneProgress& p) {
    return p.step == 1 ? absl::UnavailableError("client gone") : absl::OkStatus();
  });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(fs::exists(o.output_dir));
  o.resume = true;
  std::vector<int64_t> steps;
  result = RunFineTune(o, [&](const FineTuneProgress& p) {
    steps.push_back(p.step);
    return absl::OkStatus();
  });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(steps, std::vector<int64_t>{2});
}

// kill -9 between creating the resume directory and committing the first checkpoint leaves the
// directory without one (perhaps with the atomic writer's hidden temporary file): nothing to resume,
// and no reason to refuse a fresh run.
TEST_F(FineTuneTest, AResumeDirectoryWithoutACheckpointDoesNotBlockAFreshRun) {
  FineTuneOptions o = Options("out");
  o.max_steps = 1;
  const std::string resume_dir = FineTuneResumeDir(o.output_dir);
  fs::create_directory(resume_dir);
  std::ofstream(resume_dir + "/.checkpoint.safetensors.tmp-0123456789abcdef") << "torn";
  EXPECT_FALSE(*HasFineTuneCheckpoint(o.output_dir));
  auto result = RunFineTune(o, nullptr);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(fs::exists(o.output_dir + "/config.json"));
  EXPECT_FALSE(fs::exists(resume_dir));
}

TEST_F(FineTuneTest, ReportsBadInputsBeforeTraining) {
  FineTuneOptions o = Options("out");
  o.sequence_length = 5000;  // llama3-tiny: max_position_embeddings 4096
  absl::Status s = RunFineTune(o, nullptr).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("sequence_length"), std::string::npos) << s;

  o = Options("out");
  o.train_data = dir_.File("bad.jsonl");
  std::ofstream(o.train_data) << "{\"text\": \"fine\"}\n{\"text\": 1}\n";
  s = RunFineTune(o, nullptr).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(o.train_data + ":2:"), std::string::npos) << s;

  o = Options("out");
  o.sequence_length = 4000;  // more tokens than the data holds
  s = RunFineTune(o, nullptr).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(o.train_data), std::string::npos) << s;

  o = Options("out");
  o.resume = true;
  EXPECT_EQ(RunFineTune(o, nullptr).status().code(), absl::StatusCode::kNotFound);

  o = Options("missing-parent/out");
  EXPECT_EQ(RunFineTune(o, nullptr).status().code(), absl::StatusCode::kNotFound);

  o = Options("out");
  o.dtype = "float8";
  EXPECT_EQ(RunFineTune(o, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(dir_.List().empty() || dir_.List() == std::vector<std::string>{"bad.jsonl"});
}

}  // namespace
}  // namespace liger
