// The learning-rate plan, option validation, the options a resume must match, and the checkpoint
// file.
#include <cmath>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/train/fine_tune_validation.h"
#include "core/train/learning_rate_plan.h"
#include "core/train/resume_options.h"
#include "core/train/training_checkpoint.h"
#include "tests/core/io/temp_dir.h"

namespace liger {
namespace {

using ::liger::testing::TempDir;

TEST(LearningRatePlanTest, ConstantWithWarmup) {
  LearningRatePlan plan(1e-3, LearningRateSchedule::kConstant, 4, 10);
  EXPECT_DOUBLE_EQ(plan.At(1), 0.25e-3);
  EXPECT_DOUBLE_EQ(plan.At(2), 0.5e-3);
  EXPECT_DOUBLE_EQ(plan.At(4), 1e-3);
  EXPECT_DOUBLE_EQ(plan.At(5), 1e-3);
  EXPECT_DOUBLE_EQ(plan.At(10), 1e-3);
  LearningRatePlan no_warmup(2e-3, LearningRateSchedule::kConstant, 0, 10);
  EXPECT_DOUBLE_EQ(no_warmup.At(1), 2e-3);
}

TEST(LearningRatePlanTest, CosineDecaysAfterWarmup) {
  // Warm-up 2 of 10 steps: steps 3..10 decay over 8 steps from the base.
  LearningRatePlan plan(1.0, LearningRateSchedule::kCosine, 2, 10);
  EXPECT_DOUBLE_EQ(plan.At(1), 0.5);
  EXPECT_DOUBLE_EQ(plan.At(2), 1.0);
  EXPECT_DOUBLE_EQ(plan.At(3), 1.0);
  EXPECT_NEAR(plan.At(7), 0.5, 1e-12);  // halfway: progress 4/8
  EXPECT_NEAR(plan.At(10), 0.5 * (1 + std::cos(M_PI * 7.0 / 8.0)), 1e-12);
  EXPECT_GT(plan.At(10), 0);
  for (int64_t step = 3; step < 10; ++step) EXPECT_GT(plan.At(step), plan.At(step + 1));
  LearningRatePlan no_warmup(1.0, LearningRateSchedule::kCosine, 0, 4);
  EXPECT_DOUBLE_EQ(no_warmup.At(1), 1.0);
  EXPECT_NEAR(no_warmup.At(3), 0.5, 1e-12);
}

FineTuneOptions ValidOptions() {
  FineTuneOptions o;
  o.model_dir = "m";
  o.output_dir = "o";
  o.train_data = "d.jsonl";
  return o;
}

void ExpectBadOption(const FineTuneOptions& o, const std::string& name) {
  absl::Status s = ValidateFineTuneOptions(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name;
  EXPECT_NE(s.message().find(name), std::string::npos) << s.message();
}

TEST(FineTuneValidationTest, NamesTheBadOption) {
  EXPECT_TRUE(ValidateFineTuneOptions(ValidOptions()).ok());
  FineTuneOptions o = ValidOptions();
  o.model_dir.clear();
  ExpectBadOption(o, "model_dir");
  o = ValidOptions();
  o.output_dir.clear();
  ExpectBadOption(o, "output_dir");
  o = ValidOptions();
  o.train_data.clear();
  ExpectBadOption(o, "train_data");
  o = ValidOptions();
  o.lora.rank = 0;
  ExpectBadOption(o, "rank");
  o = ValidOptions();
  o.lora.target_modules = {"nope"};
  ExpectBadOption(o, "target_modules");
  o = ValidOptions();
  o.learning_rate = 0;
  ExpectBadOption(o, "learning_rate");
  o.learning_rate = NAN;
  ExpectBadOption(o, "learning_rate");
  o = ValidOptions();
  o.warmup_steps = -1;
  ExpectBadOption(o, "warmup_steps");
  o = ValidOptions();
  o.adam_beta1 = 1;
  ExpectBadOption(o, "adam_beta1");
  o = ValidOptions();
  o.adam_beta2 = -0.1;
  ExpectBadOption(o, "adam_beta2");
  o = ValidOptions();
  o.weight_decay = -1;
  ExpectBadOption(o, "weight_decay");
  o = ValidOptions();
  o.max_grad_norm = -1;
  ExpectBadOption(o, "max_grad_norm");
  o = ValidOptions();
  o.epochs = 0;
  ExpectBadOption(o, "epochs");
  o.max_steps = 5;  // 0 epochs: as many as max_steps needs
  EXPECT_TRUE(ValidateFineTuneOptions(o).ok());
  o = ValidOptions();
  o.max_steps = -1;
  ExpectBadOption(o, "max_steps");
  o = ValidOptions();
  o.micro_batch_size = 0;
  ExpectBadOption(o, "micro_batch_size");
  o = ValidOptions();
  o.gradient_accumulation_steps = 0;
  ExpectBadOption(o, "gradient_accumulation_steps");
  o = ValidOptions();
  o.sequence_length = 0;
  ExpectBadOption(o, "sequence_length");
  o = ValidOptions();
  o.eval_every_steps = -1;
  ExpectBadOption(o, "eval_every_steps");
  o = ValidOptions();
  o.save_every_steps = -1;
  ExpectBadOption(o, "save_every_steps");
}

TEST(ResumeOptionsTest, MismatchNamesTheOption) {
  const FineTuneOptions base = ValidOptions();
  const nlohmann::json saved = ResumeOptionsJson(base);
  EXPECT_TRUE(CheckResumeOptions(saved, base).ok());
  // Where to evaluate, save or run may change.
  FineTuneOptions o = base;
  o.eval_data = "e.jsonl";
  o.eval_every_steps = 3;
  o.save_every_steps = 2;
  o.device = "cuda";
  EXPECT_TRUE(CheckResumeOptions(saved, o).ok());
  o = base;
  o.learning_rate = 2e-3;
  absl::Status s = CheckResumeOptions(saved, o);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("learning_rate"), std::string::npos) << s.message();
  o = base;
  o.lora.target_modules = {"q_proj"};
  s = CheckResumeOptions(saved, o);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("lora.target_modules"), std::string::npos) << s.message();
  o = base;
  o.seed = 9;
  EXPECT_NE(CheckResumeOptions(saved, o).message().find("seed"), std::string::npos);
  // The saved JSON goes through a checkpoint file as text.
  EXPECT_TRUE(CheckResumeOptions(nlohmann::json::parse(saved.dump()), base).ok());
}

TEST(TrainingCheckpointTest, RoundTripsExactly) {
  TempDir dir;
  TrainingCheckpoint c;
  c.step = 12;
  c.epoch = 1;
  c.next_sequence = 3;
  c.tokens_processed = 4096;
  c.eval_perplexity = 17.25;
  c.data_checksum = 0xDEADBEEF;
  c.options = ResumeOptionsJson(ValidOptions());
  torch::Tensor a = torch::randn({4, 8});
  torch::Tensor b = torch::randn({16, 4});
  c.adapter = {{"layers.0.q_proj.lora_A.weight", a}, {"layers.0.q_proj.lora_B.weight", b}};
  c.optimizer["layers.0.q_proj.lora_A.weight"] = {12, torch::randn({4, 8}), torch::rand({4, 8})};
  c.cpu_rng_state = at::detail::getDefaultCPUGenerator().get_state();
  const std::string path = dir.File("run.resume");
  ASSERT_TRUE(SaveTrainingCheckpoint(path, c).ok());
  // Saving again replaces it in place.
  c.step = 13;
  ASSERT_TRUE(SaveTrainingCheckpoint(path, c).ok());
  auto loaded = LoadTrainingCheckpoint(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 13);
  EXPECT_EQ(loaded->epoch, 1);
  EXPECT_EQ(loaded->next_sequence, 3);
  EXPECT_EQ(loaded->tokens_processed, 4096);
  EXPECT_EQ(loaded->eval_perplexity, 17.25);
  EXPECT_EQ(loaded->data_checksum, 0xDEADBEEFu);
  EXPECT_EQ(loaded->options, c.options);
  ASSERT_EQ(loaded->adapter.size(), 2u);
  EXPECT_EQ(loaded->adapter[0].first, c.adapter[0].first);
  EXPECT_TRUE(loaded->adapter[0].second.equal(a));
  EXPECT_TRUE(loaded->adapter[1].second.equal(b));
  ASSERT_EQ(loaded->optimizer.size(), 1u);
  const AdamMoments& m = loaded->optimizer.at("layers.0.q_proj.lora_A.weight");
  EXPECT_EQ(m.steps, 12);
  EXPECT_TRUE(m.exp_avg.equal(c.optimizer.begin()->second.exp_avg));
  EXPECT_TRUE(m.exp_avg_sq.equal(c.optimizer.begin()->second.exp_avg_sq));
  EXPECT_TRUE(loaded->cpu_rng_state.equal(c.cpu_rng_state));
  EXPECT_FALSE(loaded->device_rng_state.defined());
  // Only the checkpoint file is left: no temporary files.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(path),
                          std::filesystem::directory_iterator()),
            1);
}

TEST(TrainingCheckpointTest, MissingIsNotFoundAndCorruptIsDataLoss) {
  TempDir dir;
  EXPECT_EQ(LoadTrainingCheckpoint(dir.File("none")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(LoadTrainingCheckpoint(dir.path()).status().code(), absl::StatusCode::kNotFound);
  std::ofstream(dir.File("checkpoint.safetensors")) << "garbage";
  EXPECT_EQ(LoadTrainingCheckpoint(dir.path()).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace liger
