// RunFineTune with distill_weight on the llama3-tiny fixture converted to GLA: λ = 0 trains on
// plain cross-entropy, λ > 0 adds λ times the KL from the original softmax model over the trained
// labels (checked against both models computed independently), resuming keeps λ, and an
// unconverted model is refused.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/convert/converter.h"
#include "core/eval/text_corpus.h"
#include "core/model/model_loader.h"
#include "core/tokenizer/tokenizer_loader.h"
#include "core/train/epoch_order.h"
#include "core/train/fine_tune.h"
#include "core/train/packed_sequences.h"
#include "core/train/training_documents.h"
#include "nlohmann/json.hpp"
#include "tests/core/io/temp_dir.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

using ::liger::testing::FixtureModel;
using ::liger::testing::SharedDir;
using ::liger::testing::TempDir;

constexpr uint64_t kDistillRunSeed = 5;
constexpr int64_t kDistillRunSequence = 64;
constexpr int32_t kDistillRunMicroBatch = 2;

// The GLA conversion and training data with a text document and two instruction examples, whose
// prompts are masked from the loss, made once per test binary.
struct DistillRunFixture {
  TempDir root;
  std::string model = root.File("llama3-tiny-gla");
  std::string train = root.File("train.jsonl");

  DistillRunFixture() {
    ConversionOptions conversion;
    conversion.variant = "gla";
    auto converted = ConvertCheckpoint(FixtureModel("llama3-tiny"), model, conversion);
    EXPECT_TRUE(converted.ok()) << converted.status();
    auto texts = ReadJsonlTexts(SharedDir() + "/data/corpus-train.jsonl");
    EXPECT_TRUE(texts.ok()) << texts.status();
    EXPECT_GE(texts->size(), 5u);
    std::ofstream out(train);
    out << nlohmann::json{{"text", (*texts)[0].substr(0, 700)}}.dump() << "\n";
    for (size_t i = 1; i <= 3; i += 2) {
      out << nlohmann::json{{"instruction", "Continue the passage."},
                            {"input", (*texts)[i].substr(0, 300)},
                            {"output", (*texts)[i + 1].substr(0, 250)}}
                 .dump()
          << "\n";
    }
  }
};

const DistillRunFixture& DistillFixture() {
  static const DistillRunFixture fixture;
  return fixture;
}

// Plain cross-entropy and KL(original ‖ converted) of the first step's batch, each summed over its
// trained labels and divided by their count, computed without the trainer.
struct FirstStepReference {
  double cross_entropy = 0;
  double kl = 0;
};

FirstStepReference ComputeFirstStepReference() {
  FirstStepReference reference;
  const DistillRunFixture& f = DistillFixture();
  auto tokenizer = LoadTokenizer(f.model);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  auto documents = ReadTrainingDocuments(f.train, **tokenizer);
  EXPECT_TRUE(documents.ok()) << documents.status();
  auto packed = PackedSequences::Pack(*documents, kDistillRunSequence, f.train);
  EXPECT_TRUE(packed.ok()) << packed.status();
  const std::vector<int64_t> order = EpochOrder(packed->size(), kDistillRunSeed, 0);
  const std::vector<int64_t> first(order.begin(), order.begin() + kDistillRunMicroBatch);
  auto [inputs, labels] = packed->Batch(first);
  const double trained = static_cast<double>(packed->TrainedLabels(first));
  EXPECT_LT(trained, static_cast<double>(labels.numel()));  // some prompt labels are masked

  auto student = LoadModel(f.model, ModelLoadOptions());
  EXPECT_TRUE(student.ok()) << student.status();
  auto original = LoadModel(FixtureModel("llama3-tiny"), ModelLoadOptions());
  EXPECT_TRUE(original.ok()) << original.status();
  torch::NoGradGuard no_grad;
  // The fresh adapters add exactly zero, so the trainer's first step sees the base model.
  auto student_logits = (*student)->TrainingForward(inputs, nullptr);
  EXPECT_TRUE(student_logits.ok()) << student_logits.status();
  const int64_t vocab = student_logits->size(-1);
  reference.cross_entropy =
      torch::nn::functional::cross_entropy(
          student_logits->reshape({-1, vocab}), labels.reshape({-1}),
          torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kUntrainedLabel).reduction(
              torch::kSum))
          .item<double>() /
      trained;
  auto original_logits = (*original)->Forward(inputs);
  EXPECT_TRUE(original_logits.ok()) << original_logits.status();
  const torch::Tensor t =
      torch::log_softmax(original_logits->reshape({-1, vocab}).to(torch::kFloat64), -1);
  const torch::Tensor s =
      torch::log_softmax(student_logits->reshape({-1, vocab}).to(torch::kFloat64), -1);
  const torch::Tensor rows = (t.exp() * (t - s)).sum(-1);
  const torch::Tensor mask = (labels.reshape({-1}) != kUntrainedLabel).to(torch::kFloat64);
  reference.kl = (rows * mask).sum().item<double>() / trained;
  return reference;
}

class DistillFineTuneTest : public ::testing::Test {
 protected:
  FineTuneOptions Options(const std::string& output_name, double weight) const {
    FineTuneOptions o;
    o.model_dir = DistillFixture().model;
    o.train_data = DistillFixture().train;
    o.output_dir = dir_.File(output_name);
    o.sequence_length = kDistillRunSequence;
    o.micro_batch_size = kDistillRunMicroBatch;
    o.gradient_accumulation_steps = 1;
    o.epochs = 0;
    o.max_steps = 3;
    o.learning_rate = 5e-3;
    o.seed = kDistillRunSeed;
    o.distill_weight = weight;
    return o;
  }

  std::vector<FineTuneProgress> Run(const FineTuneOptions& o) const {
    std::vector<FineTuneProgress> steps;
    auto result = RunFineTune(o, [&](const FineTuneProgress& p) {
      steps.push_back(p);
      return absl::OkStatus();
    });
    EXPECT_TRUE(result.ok()) << result.status();
    return steps;
  }

  TempDir dir_;
};

TEST_F(DistillFineTuneTest, AddsTheWeightedKlToPlainCrossEntropy) {
  const double weight = 0.5;
  const std::vector<FineTuneProgress> plain = Run(Options("plain", 0));
  const std::vector<FineTuneProgress> distilled = Run(Options("distilled", weight));
  ASSERT_EQ(plain.size(), 3u);
  ASSERT_EQ(distilled.size(), 3u);
  const FirstStepReference reference = ComputeFirstStepReference();
  std::printf("first step: cross-entropy %.6f, KL %.6f\n", reference.cross_entropy, reference.kl);

  // λ = 0 is the plain cross-entropy, bit for bit, and reports no KL.
  EXPECT_EQ(plain[0].loss, reference.cross_entropy);
  for (const FineTuneProgress& p : plain) EXPECT_FALSE(p.distill_kl.has_value()) << p.step;

  ASSERT_TRUE(distilled[0].distill_kl.has_value());
  EXPECT_GT(*distilled[0].distill_kl, 0);
  EXPECT_NEAR(*distilled[0].distill_kl, reference.kl, 1e-4 * reference.kl);
  // Both runs start from the base model, so the first step's losses differ by λ · KL exactly.
  EXPECT_NEAR(distilled[0].loss, plain[0].loss + weight * *distilled[0].distill_kl, 1e-5);
  for (size_t i = 0; i < distilled.size(); ++i) {
    const FineTuneProgress& p = distilled[i];
    ASSERT_TRUE(p.distill_kl.has_value()) << p.step;
    EXPECT_TRUE(std::isfinite(*p.distill_kl)) << p.step;
    EXPECT_GE(*p.distill_kl, 0) << p.step;
    EXPECT_TRUE(std::isfinite(p.loss)) << p.step;
    EXPECT_NE(p.loss, plain[i].loss) << p.step;
  }
}

TEST_F(DistillFineTuneTest, AResumeMustKeepTheWeight) {
  FineTuneOptions o = Options("stopped", 0.5);
  int polls = 0;
  // Poll 2 comes before step 2's micro-batch: the checkpoint holds step 1.
  auto stopped = RunFineTune(o, nullptr, [&] { return ++polls >= 2; });
  ASSERT_EQ(stopped.status().code(), absl::StatusCode::kCancelled) << stopped.status();
  o.resume = true;
  for (double other : {0.25, 0.0}) {
    FineTuneOptions changed = o;
    changed.distill_weight = other;
    absl::Status s = RunFineTune(changed, nullptr).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << other;
    EXPECT_NE(s.message().find("distill_weight"), std::string::npos) << s;
  }
  const std::vector<FineTuneProgress> resumed = Run(o);
  ASSERT_EQ(resumed.size(), 2u);
  EXPECT_EQ(resumed[0].step, 2);
  for (const FineTuneProgress& p : resumed) EXPECT_TRUE(p.distill_kl.has_value()) << p.step;
}

TEST_F(DistillFineTuneTest, AnUnconvertedModelIsRefused) {
  FineTuneOptions o = Options("out", 0.5);
  o.model_dir = FixtureModel("llama3-tiny");
  absl::Status s = RunFineTune(o, nullptr).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("distill needs a converted model"), std::string::npos) << s;
  EXPECT_TRUE(dir_.List().empty());
}

}  // namespace
}  // namespace liger
