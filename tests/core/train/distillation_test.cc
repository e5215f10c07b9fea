// Distillation's parts: the softmax teacher of a converted model, the summed KL and its gradient,
// and the distill_weight option through validation, the resume check and job records.
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/jobs/job_record_json.h"
#include "core/model/model_loader.h"
#include "core/train/distillation_kl.h"
#include "core/train/fine_tune_validation.h"
#include "core/train/resume_options.h"
#include "nlohmann/json.hpp"
#include "tests/core/io/temp_dir.h"
#include "tests/core/train/lora_test_models.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

using ::liger::testing::FixtureModel;
using ::liger::testing::TempDir;

TEST(DistillTeacherTest, IsTheOriginalModelOverTheSameTensors) {
  TempDir dir;
  const std::string converted = dir.File("gla");
  // A hybrid (layer 2 keeps softmax) whose other layers the teacher must all turn back.
  testing::WriteLigerCheckpoint(FixtureModel("llama3-tiny"), converted, "gla", {2});
  auto student = LoadModel(converted, ModelLoadOptions());
  ASSERT_TRUE(student.ok()) << student.status();
  auto original = LoadModel(FixtureModel("llama3-tiny"), ModelLoadOptions());
  ASSERT_TRUE(original.ok()) << original.status();
  const std::unique_ptr<Transformer> teacher = (*student)->WithSoftmaxAttention();
  EXPECT_FALSE(teacher->config().liger.has_value());
  EXPECT_TRUE((*student)->config().liger.has_value());

  const std::vector<torch::Tensor> shared = testing::BaseWeights(*teacher);
  const std::vector<torch::Tensor> own = testing::BaseWeights(**student);
  ASSERT_EQ(shared.size(), own.size());
  for (size_t i = 0; i < own.size(); ++i) EXPECT_TRUE(shared[i].is_same(own[i])) << i;

  const torch::Tensor ids = testing::LoraTestTokens(2, 80, 11);
  auto teacher_logits = teacher->Forward(ids);
  ASSERT_TRUE(teacher_logits.ok()) << teacher_logits.status();
  auto original_logits = (*original)->Forward(ids);
  ASSERT_TRUE(original_logits.ok()) << original_logits.status();
  auto student_logits = (*student)->Forward(ids);
  ASSERT_TRUE(student_logits.ok()) << student_logits.status();
  ASSERT_EQ(teacher_logits->scalar_type(), torch::kFloat32);
  EXPECT_LE((*teacher_logits - *original_logits).abs().max().item<double>(), 1e-5);
  // The conversion does change the outputs, so a teacher that ran the student's mixers would fail.
  EXPECT_GT((*student_logits - *original_logits).abs().max().item<double>(), 1e-2);
}

TEST(DistillationKlTest, SumsTheTrainedRowsAndDifferentiatesTheStudentOnly) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(7);
  const torch::Tensor teacher = torch::randn({6, 50}, generator, torch::kFloat32) * 3;
  const torch::Tensor student =
      (torch::randn({6, 50}, generator, torch::kFloat32) * 3).requires_grad_(true);
  const torch::Tensor trained = torch::tensor({true, false, true, true, false, true});
  torch::Tensor teacher_copy = teacher.clone();
  torch::Tensor kl = SummedDistillationKl(teacher_copy, torch::log_softmax(student, -1), trained);

  const torch::Tensor t64 = teacher.to(torch::kFloat64);
  const torch::Tensor s64 = student.detach().to(torch::kFloat64);
  const torch::Tensor p = torch::softmax(t64, -1);
  const torch::Tensor rows =
      (p * (torch::log_softmax(t64, -1) - torch::log_softmax(s64, -1))).sum(-1);
  const torch::Tensor mask = trained.to(torch::kFloat64);
  const double expected = (rows * mask).sum().item<double>();
  EXPECT_GT(expected, 0.1);
  EXPECT_NEAR(kl.item<double>(), expected, 1e-5 * expected);

  // d KL / d student logits = softmax(student) - p on trained rows, zero elsewhere.
  kl.backward();
  const torch::Tensor expected_grad = (torch::softmax(s64, -1) - p) * mask.unsqueeze(1);
  EXPECT_LE((student.grad().to(torch::kFloat64) - expected_grad).abs().max().item<double>(), 1e-6);

  // Identical distributions diverge by nothing.
  const torch::Tensor all = torch::ones({6}, torch::kBool);
  torch::Tensor same = student.detach().clone();
  EXPECT_NEAR(SummedDistillationKl(same, torch::log_softmax(student.detach(), -1), all)
                  .item<double>(),
              0, 1e-5);
}

FineTuneOptions DistillTestOptions(double weight) {
  FineTuneOptions o;
  o.model_dir = "m";
  o.output_dir = "o";
  o.train_data = "d.jsonl";
  o.sequence_length = 64;
  o.distill_weight = weight;
  return o;
}

TEST(DistillOptionsTest, WeightMustBeFiniteAndNonNegative) {
  EXPECT_TRUE(ValidateFineTuneOptions(DistillTestOptions(0)).ok());
  EXPECT_TRUE(ValidateFineTuneOptions(DistillTestOptions(0.5)).ok());
  for (double bad : {-0.1, std::numeric_limits<double>::quiet_NaN(),
                     std::numeric_limits<double>::infinity()}) {
    absl::Status s = ValidateFineTuneOptions(DistillTestOptions(bad));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("distill_weight"), std::string::npos) << s;
  }
}

TEST(DistillOptionsTest, NeedsAConvertedModel) {
  ModelConfig config;
  config.max_position_embeddings = 4096;
  EXPECT_TRUE(ValidateFineTuneModel(DistillTestOptions(0), config).ok());
  absl::Status s = ValidateFineTuneModel(DistillTestOptions(0.5), config);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("distill needs a converted model"), std::string::npos) << s;
  config.liger = LigerConfig();
  EXPECT_TRUE(ValidateFineTuneModel(DistillTestOptions(0.5), config).ok());
  config.max_position_embeddings = 32;
  EXPECT_EQ(ValidateFineTuneModel(DistillTestOptions(0.5), config).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DistillOptionsTest, AResumeMustKeepTheWeight) {
  const nlohmann::json saved = ResumeOptionsJson(DistillTestOptions(0.5));
  EXPECT_TRUE(CheckResumeOptions(saved, DistillTestOptions(0.5)).ok());
  for (double other : {0.25, 0.0}) {
    absl::Status s = CheckResumeOptions(saved, DistillTestOptions(other));
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << other;
    EXPECT_NE(s.message().find("distill_weight"), std::string::npos) << s;
  }
  // A checkpoint written before the option existed trained without distillation.
  nlohmann::json older = ResumeOptionsJson(DistillTestOptions(0));
  older.erase("distill_weight");
  EXPECT_TRUE(CheckResumeOptions(older, DistillTestOptions(0)).ok());
  EXPECT_EQ(CheckResumeOptions(older, DistillTestOptions(0.5)).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(DistillJobRecordTest, KeepsTheWeightAndTheKl) {
  JobSnapshot job;
  job.id = "j1";
  job.options = DistillTestOptions(0.5);
  job.progress.step = 3;
  job.progress.distill_kl = 0.125;
  const nlohmann::json record = nlohmann::json::parse(JobSnapshotToJson(job).dump());
  auto back = JobSnapshotFromJson(record, "j1.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->options.distill_weight, 0.5);
  ASSERT_TRUE(back->progress.distill_kl.has_value());
  EXPECT_EQ(*back->progress.distill_kl, 0.125);

  job.progress.distill_kl.reset();
  back = JobSnapshotFromJson(nlohmann::json::parse(JobSnapshotToJson(job).dump()), "j1.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(back->progress.distill_kl.has_value());

  // Records written before the option existed load as runs without distillation.
  nlohmann::json older = record;
  older["options"].erase("distill_weight");
  back = JobSnapshotFromJson(older, "j1.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->options.distill_weight, 0);
}

}  // namespace
}  // namespace liger
