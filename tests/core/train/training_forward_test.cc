// TrainingForward is Forward plus the adapter's deltas, and its graph reaches the adapters (and
// only them) through every mixer: the softmax teacher, the Liger variants and a hybrid.
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "core/model/model_loader.h"
#include "core/train/lora_adapters.h"
#include "tests/core/train/lora_test_models.h"
#include "tests/test_device.h"

namespace liger {
namespace {

using ::liger::testing::BaseWeights;
using ::liger::testing::LoraTestLoss;
using ::liger::testing::LoraTestTokens;
using ::liger::testing::RandomiseLora;
using ::liger::testing::TestDevice;
using ::liger::testing::TestModels;

std::unique_ptr<Transformer> LoadForTraining(const std::string& dir) {
  ModelLoadOptions options;
  options.device = TestDevice();
  auto model = LoadModel(dir, options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? std::move(*model) : nullptr;
}

LoraOptions AllProjections() {
  LoraOptions options;
  options.rank = 4;
  options.alpha = 8;
  options.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                            "down_proj"};
  return options;
}

class TrainingForwardTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const auto& m = TestModels();
    const std::string& p = GetParam();
    dir_ = p == "teacher" ? m.teacher : p == "gla" ? m.gla : p == "hgrn2" ? m.hgrn2
         : p == "gsa"     ? m.gsa : m.gla_hybrid;
    model_ = LoadForTraining(dir_);
    ASSERT_NE(model_, nullptr);
    auto adapters = LoraAdapters::Create(model_->config(), AllProjections(), TestDevice(), 7);
    ASSERT_TRUE(adapters.ok()) << adapters.status();
    adapters_ = std::move(*adapters);
    ids_ = LoraTestTokens(2, 80, 11);
  }

  std::string dir_;
  std::unique_ptr<Transformer> model_;
  std::unique_ptr<LoraAdapters> adapters_;
  torch::Tensor ids_;
};

TEST_P(TrainingForwardTest, ZeroBMatchesForward) {
  auto expected = model_->Forward(ids_);
  ASSERT_TRUE(expected.ok()) << expected.status();
  auto logits = model_->TrainingForward(ids_, adapters_.get());
  ASSERT_TRUE(logits.ok()) << logits.status();
  EXPECT_EQ(logits->scalar_type(), torch::kFloat32);
  ASSERT_EQ(logits->sizes(), expected->sizes());
  EXPECT_TRUE(logits->requires_grad());
  EXPECT_LE((*logits - *expected).abs().max().item<double>(), 1e-5);
}

TEST_P(TrainingForwardTest, OnlyAdaptersGetGradients) {
  RandomiseLora(*adapters_, 3, 0.02);  // B != 0, so A's gradients are non-zero too
  auto logits = model_->TrainingForward(ids_, adapters_.get());
  ASSERT_TRUE(logits.ok()) << logits.status();
  LoraTestLoss(*logits, ids_).backward();
  for (const auto& [name, p] : adapters_->NamedParameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_TRUE(torch::isfinite(p.grad()).all().item<bool>()) << name;
    EXPECT_GT(p.grad().abs().max().item<double>(), 0) << name;
  }
  for (const torch::Tensor& w : BaseWeights(*model_)) {
    EXPECT_FALSE(w.requires_grad());
    EXPECT_FALSE(w.grad().defined());
  }
}

TEST_P(TrainingForwardTest, NoGradGuardBuildsNoGraph) {
  torch::NoGradGuard no_grad;
  auto logits = model_->TrainingForward(ids_, adapters_.get());
  ASSERT_TRUE(logits.ok()) << logits.status();
  EXPECT_FALSE(logits->requires_grad());
}

// Recomputing each layer in the backward pass gives the same loss and the same adapter gradients.
TEST_P(TrainingForwardTest, CheckpointedLayersGiveTheSameGradients) {
  RandomiseLora(*adapters_, 3, 0.02);
  auto gradients = [&](bool checkpoint) {
    for (torch::Tensor p : adapters_->parameters()) p.mutable_grad() = torch::Tensor();
    auto logits = model_->TrainingForward(ids_, adapters_.get(), checkpoint);
    EXPECT_TRUE(logits.ok()) << logits.status();
    torch::Tensor loss = LoraTestLoss(*logits, ids_);
    loss.backward();
    std::vector<torch::Tensor> grads = {loss.detach()};
    for (const torch::Tensor& p : adapters_->parameters()) grads.push_back(p.grad().clone());
    return grads;
  };
  const std::vector<torch::Tensor> plain = gradients(false);
  const std::vector<torch::Tensor> checkpointed = gradients(true);
  ASSERT_EQ(plain.size(), checkpointed.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    ASSERT_TRUE(checkpointed[i].defined()) << i;
    const double scale = plain[i].abs().max().item<double>();
    EXPECT_GT(scale, 0) << i;
    EXPECT_LE((checkpointed[i] - plain[i]).abs().max().item<double>(), 1e-5 * scale + 1e-9) << i;
  }
}

// With dropout, the recomputation must draw the forward pass's masks again: same seed, same
// gradients with and without checkpointing; another seed, other gradients.
TEST_P(TrainingForwardTest, CheckpointedLayersReplayDropout) {
  LoraOptions options = AllProjections();
  options.dropout = 0.3;
  auto adapters = LoraAdapters::Create(model_->config(), options, TestDevice(), 7);
  ASSERT_TRUE(adapters.ok()) << adapters.status();
  RandomiseLora(**adapters, 3, 0.02);
  (*adapters)->SetTraining(true);
  auto gradients = [&](bool checkpoint, uint64_t seed) {
    torch::manual_seed(seed);
    for (torch::Tensor p : (*adapters)->parameters()) p.mutable_grad() = torch::Tensor();
    auto logits = model_->TrainingForward(ids_, adapters->get(), checkpoint);
    EXPECT_TRUE(logits.ok()) << logits.status();
    LoraTestLoss(*logits, ids_).backward();
    std::vector<torch::Tensor> grads;
    for (const torch::Tensor& p : (*adapters)->parameters()) grads.push_back(p.grad().clone());
    return grads;
  };
  const std::vector<torch::Tensor> plain = gradients(false, 5);
  const std::vector<torch::Tensor> checkpointed = gradients(true, 5);
  const std::vector<torch::Tensor> reseeded = gradients(true, 6);
  double worst = 0, reseeded_change = 0;
  for (size_t i = 0; i < plain.size(); ++i) {
    const double scale = plain[i].abs().max().item<double>() + 1e-12;
    worst = std::max(worst, (checkpointed[i] - plain[i]).abs().max().item<double>() / scale);
    reseeded_change = std::max(reseeded_change, (reseeded[i] - plain[i]).abs().max().item<double>() / scale);
  }
  EXPECT_LE(worst, 1e-5);
  EXPECT_GT(reseeded_change, 1e-2) << "dropout had no effect, so this test shows nothing";
}

INSTANTIATE_TEST_SUITE_P(Mixers, TrainingForwardTest,
                         ::testing::Values("teacher", "gla", "hgrn2", "gsa", "gla_hybrid"));

TEST(TrainingForward, RejectsBadTokens) {
  auto model = LoadForTraining(TestModels().teacher);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->TrainingForward(torch::zeros({4}, torch::kInt64), nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model->TrainingForward(torch::full({1, 3}, 9000, torch::kInt64), nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Central differences of the float32 model against autograd, for the entries of layer 0's k_proj
// factors with the largest gradients: k feeds the GLA gate, so the gradient crosses the chunked
// recurrence's cumulative decays and every later GLA layer. The mixers compute in float32
// whatever the load dtype, so this cannot run in float64. A step of 1e-2 (factor entries are
// ~0.06) keeps the float32 rounding of the loss (~1e-6) small against the difference; both entries
// agree to ~2e-4 relative on CPU, and the 0.5% tolerance leaves room for other devices' kernels,
// while a wrong backward misses by far more.
TEST(TrainingForward, GlaGradientMatchesFiniteDifferences) {
  auto model = LoadForTraining(TestModels().gla);
  ASSERT_NE(model, nullptr);
  auto adapters = LoraAdapters::Create(model->config(), LoraOptions(), TestDevice(), 5);
  ASSERT_TRUE(adapters.ok()) << adapters.status();
  RandomiseLora(**adapters, 9, 0.05);
  const torch::Tensor ids = LoraTestTokens(1, 80, 13);
  auto loss = [&]() {
    auto logits = model->TrainingForward(ids, adapters->get());
    EXPECT_TRUE(logits.ok()) << logits.status();
    return LoraTestLoss(*logits, ids);
  };
  loss().backward();
  auto [a, b] = (*adapters)->Factors(0, Projection::kK);
  for (torch::Tensor p : {a, b}) {
    const int64_t index = p.grad().abs().argmax().item<int64_t>();
    const double analytic = p.grad().view(-1)[index].item<double>();
    constexpr double kStep = 1e-2;
    torch::NoGradGuard no_grad;
    torch::Tensor entry = p.view(-1).narrow(0, index, 1);
    const torch::Tensor original = entry.clone();
    entry.add_(kStep);
    const double plus = loss().item<double>();
    entry.sub_(2 * kStep);
    const double minus = loss().item<double>();
    entry.copy_(original);
    const double numeric = (plus - minus) / (2 * kStep);
    EXPECT_NEAR(numeric, analytic, 5e-3 * std::abs(analytic) + 1e-6)
        << (p.is_same(a) ? "A" : "B") << " entry " << index;
  }
}

// A few plain SGD steps on one sequence must lower its loss.
TEST(TrainingForward, SgdStepsReduceLoss) {
  auto model = LoadForTraining(TestModels().gla);
  ASSERT_NE(model, nullptr);
  auto adapters = LoraAdapters::Create(model->config(), LoraOptions(), TestDevice(), 1);
  ASSERT_TRUE(adapters.ok()) << adapters.status();
  (*adapters)->SetTraining(true);
  const torch::Tensor ids = LoraTestTokens(1, 64, 17);
  std::vector<double> losses;
  for (int step = 0; step < 6; ++step) {
    auto logits = model->TrainingForward(ids, adapters->get());
    ASSERT_TRUE(logits.ok()) << logits.status();
    torch::Tensor loss = LoraTestLoss(*logits, ids);
    losses.push_back(loss.item<double>());
    loss.backward();
    torch::NoGradGuard no_grad;
    for (torch::Tensor p : (*adapters)->parameters()) {
      p.sub_(p.grad() * 0.5);
      p.mutable_grad().zero_();
    }
  }
  EXPECT_LT(losses.back(), losses.front() - 0.5) << "first " << losses.front() << " last "
                                                  << losses.back();
}

}  // namespace
}  // namespace liger
