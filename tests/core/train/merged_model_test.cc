// WriteMergedModel: the merged checkpoint computes what the base model plus adapters computes.
#include <cstring>
#include <filesystem>

#include <gtest/gtest.h>

#include "core/io/checkpoint_weights.h"
#include "core/model/model_loader.h"
#include "core/train/lora_adapters.h"
#include "tests/core/train/lora_test_models.h"
#include "tests/test_device.h"

namespace liger {
namespace {

using ::liger::testing::FixtureModel;
using ::liger::testing::LoraTestTokens;
using ::liger::testing::RandomiseLora;
using ::liger::testing::TempDir;
using ::liger::testing::TestDevice;
using ::liger::testing::TestModels;

LoraOptions MergeTestOptions() {
  LoraOptions options;
  options.rank = 4;
  options.alpha = 6;
  options.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj", "down_proj"};
  return options;
}

std::unique_ptr<Transformer> LoadMergeTestModel(const std::string& dir) {
  ModelLoadOptions options;
  options.device = TestDevice();
  auto model = LoadModel(dir, options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? std::move(*model) : nullptr;
}

TEST(WriteMergedModel, MergedForwardEqualsAdaptedTrainingForward) {
  auto model = LoadMergeTestModel(TestModels().gla);
  ASSERT_NE(model, nullptr);
  auto adapters = LoraAdapters::Create(model->config(), MergeTestOptions(), TestDevice(), 21);
  ASSERT_TRUE(adapters.ok()) << adapters.status();
  RandomiseLora(**adapters, 22, 0.05);
  TempDir out;
  absl::Status written = WriteMergedModel(TestModels().gla, **adapters, out.path());
  ASSERT_TRUE(written.ok()) << written;
  EXPECT_EQ(out.List(), (std::vector<std::string>{"config.json", "model.safetensors", "tokenizer.json"}));

  auto merged = LoadMergeTestModel(out.path());
  ASSERT_NE(merged, nullptr);
  ASSERT_TRUE(merged->config().liger.has_value());
  const torch::Tensor ids = LoraTestTokens(2, 80, 23);
  auto expected = model->TrainingForward(ids, adapters->get());
  auto actual = merged->Forward(ids);
  auto base = model->Forward(ids);
  ASSERT_TRUE(expected.ok() && actual.ok() && base.ok());
  const double error = (*actual - expected->detach()).abs().max().item<double>();
  const double change = (*base - expected->detach()).abs().max().item<double>();
  EXPECT_LT(error, 1e-3);
  EXPECT_GT(change, 100 * error);  // the adapters matter, so the comparison means something
}

// Merging into a bf16 checkpoint stores the merged projections in bf16 and leaves every other
// tensor byte for byte.
TEST(WriteMergedModel, KeepsSourceDtypesAndOtherTensors) {
  TempDir root;
  const std::string source = root.File("gla_bf16");
  ::liger::testing::WriteLigerCheckpoint(FixtureModel("llama3-tiny"), source, "gla");
  auto config = LoadModelConfig(source);
  ASSERT_TRUE(config.ok());
  auto adapters = LoraAdapters::Create(*config, MergeTestOptions(), torch::kCPU, 31);
  ASSERT_TRUE(adapters.ok());
  RandomiseLora(**adapters, 32, 0.05);
  const std::string out = root.File("merged");
  std::filesystem::create_directory(out);
  ASSERT_TRUE(WriteMergedModel(source, **adapters, out).ok());

  auto before = CheckpointWeights::Open(source);
  auto after = CheckpointWeights::Open(out);
  ASSERT_TRUE(before.ok() && after.ok());
  ASSERT_EQ((*before)->names(), (*after)->names());
  int changed = 0;
  for (const std::string& name : (*before)->names()) {
    const TensorView* x = (*before)->Find(name);
    const TensorView* y = (*after)->Find(name);
    EXPECT_EQ(x->dtype, y->dtype) << name;
    EXPECT_EQ(x->shape, y->shape) << name;
    const bool same = x->nbytes == y->nbytes && std::memcmp(x->data, y->data, x->nbytes) == 0;
    const bool adapted = name.find("_proj.weight") != std::string::npos &&
                         name.find("gate_proj") == std::string::npos &&
                         name.find("up_proj") == std::string::npos;
    EXPECT_EQ(same, !adapted) << name;
    changed += adapted;
  }
  EXPECT_EQ(changed, 5 * config->num_hidden_layers);
}

TEST(WriteMergedModel, RejectsMismatchAndMissingOutput) {
  auto config = LoadModelConfig(TestModels().gla);
  ASSERT_TRUE(config.ok());
  TempDir out;
  ModelConfig fewer = *config;
  fewer.num_hidden_layers = 3;
  auto small = LoraAdapters::Create(fewer, MergeTestOptions(), torch::kCPU, 1);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(WriteMergedModel(TestModels().gla, **small, out.path()).code(),
            absl::StatusCode::kFailedPrecondition);
  ModelConfig wider = *config;
  wider.intermediate_size = 320;
  auto other = LoraAdapters::Create(wider, MergeTestOptions(), torch::kCPU, 1);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(WriteMergedModel(TestModels().gla, **other, out.path()).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(out.List().empty());

  auto adapters = LoraAdapters::Create(*config, MergeTestOptions(), torch::kCPU, 1);
  ASSERT_TRUE(adapters.ok());
  EXPECT_EQ(WriteMergedModel(TestModels().gla, **adapters, out.File("missing")).code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace liger
