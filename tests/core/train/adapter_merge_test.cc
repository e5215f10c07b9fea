// ApplyAdapter: a model with an adapter merged in memory equals the model WriteMergedModel writes,
// and an adapter of another model is refused without touching the weights.
#include <gtest/gtest.h>

#include "core/model/model_loader.h"
#include "core/train/adapter_merge.h"
#include "core/train/lora_adapters.h"
#include "tests/core/train/lora_test_models.h"
#include "tests/test_device.h"

namespace liger {
namespace {

using ::liger::testing::BaseWeights;
using ::liger::testing::FixtureModel;
using ::liger::testing::LoraTestTokens;
using ::liger::testing::RandomiseLora;
using ::liger::testing::TempDir;
using ::liger::testing::TestDevice;

// Every projection adapted, so each of the model's weight slots is exercised.
LoraOptions AllProjectionsLora() {
  LoraOptions options;
  options.rank = 4;
  options.alpha = 8;
  options.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj",
                            "gate_proj", "up_proj", "down_proj"};
  return options;
}

std::unique_ptr<Transformer> LoadAdapterTestModel(const std::string& dir) {
  ModelLoadOptions options;
  options.device = TestDevice();
  auto model = LoadModel(dir, options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? std::move(*model) : nullptr;
}

std::unique_ptr<LoraAdapters> RandomAdapters(const ModelConfig& config, const LoraOptions& options,
                                             uint64_t seed) {
  auto adapters = LoraAdapters::Create(config, options, torch::kCPU, seed);
  EXPECT_TRUE(adapters.ok()) << adapters.status();
  if (!adapters.ok()) return nullptr;
  RandomiseLora(**adapters, seed + 1, 0.05);  // B too, so the adapter is not the identity
  return std::move(*adapters);
}

// Deep copies of the model's weights, to tell whether a failed call changed any.
std::vector<torch::Tensor> WeightSnapshot(const Transformer& model) {
  std::vector<torch::Tensor> copies;
  for (const torch::Tensor& t : BaseWeights(model)) copies.push_back(t.cpu().clone());
  return copies;
}

bool SameWeights(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].cpu().equal(b[i].cpu())) return false;
  }
  return true;
}

// The fixture is stored in bf16 and runs in float32 here, so matching the merged checkpoint
// requires the merge to round through the stored dtype as WriteMergedModel does.
TEST(ApplyAdapter, GivesExactlyTheMergedCheckpoint) {
  const std::string base = FixtureModel("llama3-tiny");
  auto config = LoadModelConfig(base);
  ASSERT_TRUE(config.ok()) << config.status();
  std::unique_ptr<LoraAdapters> trained = RandomAdapters(*config, AllProjectionsLora(), 41);
  ASSERT_NE(trained, nullptr);
  TempDir adapter_dir, merged_dir;
  ASSERT_TRUE(trained->SaveAdapter(adapter_dir.path(), base).ok());
  ASSERT_TRUE(WriteMergedModel(base, *trained, merged_dir.path()).ok());

  auto loaded = LoraAdapters::LoadAdapter(adapter_dir.path(), *config, torch::kCPU);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::unique_ptr<Transformer> model = LoadAdapterTestModel(base);
  std::unique_ptr<Transformer> merged = LoadAdapterTestModel(merged_dir.path());
  ASSERT_TRUE(model != nullptr && merged != nullptr);
  const torch::Tensor ids = LoraTestTokens(2, 24, 42);
  auto base_logits = model->Forward(ids);
  ASSERT_TRUE(base_logits.ok());

  absl::Status applied = ApplyAdapter(base, **loaded, *model);
  ASSERT_TRUE(applied.ok()) << applied;
  EXPECT_TRUE(SameWeights(BaseWeights(*model), BaseWeights(*merged)));
  auto actual = model->Forward(ids);
  auto expected = merged->Forward(ids);
  ASSERT_TRUE(actual.ok() && expected.ok());
  const double error = (*actual - *expected).abs().max().item<double>();
  const double change = (*base_logits - *expected).abs().max().item<double>();
  EXPECT_LE(error, 1e-6);
  EXPECT_GT(change, 1e-2);  // the adapter matters, so the comparison means something

  // Each call merges into the checkpoint's weights, so applying again does not stack.
  ASSERT_TRUE(ApplyAdapter(base, **loaded, *model).ok());
  EXPECT_TRUE(SameWeights(BaseWeights(*model), BaseWeights(*merged)));
}

TEST(ApplyAdapter, RefusesAnotherModelsAdapterAndChangesNothing) {
  const std::string base = FixtureModel("llama3-tiny");
  std::unique_ptr<Transformer> model = LoadAdapterTestModel(base);
  ASSERT_NE(model, nullptr);
  const std::vector<torch::Tensor> before = WeightSnapshot(*model);

  // mistral-tiny has 6 layers to llama3-tiny's 8.
  auto mistral_config = LoadModelConfig(FixtureModel("mistral-tiny"));
  ASSERT_TRUE(mistral_config.ok());
  std::unique_ptr<LoraAdapters> mistral = RandomAdapters(*mistral_config, AllProjectionsLora(), 5);
  ASSERT_NE(mistral, nullptr);
  absl::Status s = ApplyAdapter(base, *mistral, *model);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("layers"), absl::string_view::npos) << s;
  EXPECT_TRUE(SameWeights(BaseWeights(*model), before));

  // Same layer count, but the MLP width differs: the attention factors fit, up_proj does not.
  ModelConfig wider = model->config();
  wider.intermediate_size = 320;
  LoraOptions attention_and_up = AllProjectionsLora();
  attention_and_up.target_modules = {"q_proj", "k_proj", "v_proj", "up_proj"};
  std::unique_ptr<LoraAdapters> other = RandomAdapters(wider, attention_and_up, 6);
  ASSERT_NE(other, nullptr);
  s = ApplyAdapter(base, *other, *model);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("up_proj"), absl::string_view::npos) << s;
  EXPECT_TRUE(SameWeights(BaseWeights(*model), before));

  // A fitting adapter against another checkpoint: mistral-tiny's q_proj fits, its k_proj does not.
  std::unique_ptr<LoraAdapters> fitting = RandomAdapters(model->config(), AllProjectionsLora(), 7);
  ASSERT_NE(fitting, nullptr);
  s = ApplyAdapter(FixtureModel("mistral-tiny"), *fitting, *model);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(SameWeights(BaseWeights(*model), before));
}

TEST(LoadModelWithAdapter, RejectsAStoredAdapterOfAnotherModel) {
  auto mistral_config = LoadModelConfig(FixtureModel("mistral-tiny"));
  ASSERT_TRUE(mistral_config.ok());
  std::unique_ptr<LoraAdapters> mistral = RandomAdapters(*mistral_config, AllProjectionsLora(), 8);
  ASSERT_NE(mistral, nullptr);
  TempDir dir;
  ASSERT_TRUE(mistral->SaveAdapter(dir.path()).ok());
  ModelLoadOptions options;
  options.device = TestDevice();
  auto model = LoadModelWithAdapter(FixtureModel("llama3-tiny"), dir.path(), options);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kFailedPrecondition) << model.status();
  auto missing = LoadModelWithAdapter(FixtureModel("llama3-tiny"), dir.File("none"), options);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
}

}  // namespace
}  // namespace liger
