// A converted (Liger) model computes one function three ways: stateless Forward, chunked Prefill
// continuing a state, and batched token-by-token DecodeStep. They must agree (decode == prefill),
// and the state must not grow with the tokens seen.
#include <filesystem>
#include <fstream>

#include "core/model/liger_attention.h"
#include "core/model/model_loader.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/reference_outputs.h"
#include "tests/test_device.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

namespace fs = std::filesystem;
using ::liger::testing::FixtureModel;
using ::liger::testing::ReferenceOutputs;

struct Variant {
  std::string model;
  std::string variant;
  std::vector<int> softmax_layers;
};

std::string Name(const Variant& v) {
  std::string name = v.model + "_" + v.variant + (v.softmax_layers.empty() ? "" : "_hybrid");
  name.erase(std::remove(name.begin(), name.end(), '-'), name.end());
  return name;
}

// Writes a converted config next to a link to the fixture's weights (conversion adds no tensors).
fs::path MakeLigerCheckpoint(const Variant& v, const fs::path& dir) {
  fs::create_directories(dir);
  std::ifstream in(FixtureModel(v.model) + "/config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  config["liger"] = {{"base_model_type", config["model_type"]}, {"variant", v.variant},
                     {"softmax_layers", v.softmax_layers}, {"gsa_slots", 16}, {"chunk_size", 16}};
  config["model_type"] = "liger_" + v.variant;
  std::ofstream(dir / "config.json") << config.dump(2);
  fs::create_symlink(FixtureModel(v.model) + "/model.safetensors", dir / "model.safetensors");
  return dir;
}

class LigerModelTest : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("liger-model-" + std::to_string(::getpid()) + Name(GetParam()));
    fs::remove_all(dir_);
    ModelLoadOptions options;
    options.device = ::liger::testing::TestDevice();
    auto model = LoadModel(MakeLigerCheckpoint(GetParam(), dir_).string(), options);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::unique_ptr<Transformer> model_;
};

// Max over positions of KL(p || q) between the softmaxes of two logit tensors [..., V].
double MaxKl(const torch::Tensor& p_logits, const torch::Tensor& q_logits) {
  torch::Tensor lp = torch::log_softmax(p_logits.to(torch::kFloat64), -1);
  torch::Tensor lq = torch::log_softmax(q_logits.to(torch::kFloat64), -1);
  return (lp.exp() * (lp - lq)).sum(-1).max().item<double>();
}

TEST_P(LigerModelTest, DecodeEqualsPrefill) {
  ReferenceOutputs ref(GetParam().model);
  torch::Tensor ids = ref.Get("input_ids").to(torch::kInt64);
  auto full = model_->Forward(ids);
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_TRUE(torch::isfinite(*full).all().item<bool>());

  std::vector<std::unique_ptr<ModelState>> owned;
  std::vector<ModelState*> states;
  for (int64_t b = 0; b < ids.size(0); ++b) {
    owned.push_back(model_->NewState());
    states.push_back(owned.back().get());
  }
  std::vector<torch::Tensor> steps;
  for (int64_t t = 0; t < ids.size(1); ++t) {
    auto step = model_->DecodeStep(states, ids.select(1, t));
    ASSERT_TRUE(step.ok()) << step.status();
    steps.push_back(step->cpu());
  }
  torch::Tensor decoded = torch::stack(steps, 1);
  torch::Tensor prefill = full->cpu();
  EXPECT_LT(MaxKl(prefill, decoded), 1e-5);
  EXPECT_TRUE(prefill.argmax(-1).equal(decoded.argmax(-1)));
}

// Sessions live in rows of per-layer pools: a decode batch may list them in any order, new
// sessions may grow the pools between steps (moving every row), released rows are reused, and a
// fork continues like its original.
TEST_P(LigerModelTest, DecodeBatchesSessionsInAnyOrderAcrossPoolGrowth) {
  ReferenceOutputs ref(GetParam().model);
  torch::Tensor ids = ref.Get("input_ids").to(torch::kInt64);
  const int64_t batch = ids.size(0), length = ids.size(1), half = length / 2;
  auto full = model_->Forward(ids);
  ASSERT_TRUE(full.ok()) << full.status();

  std::vector<std::unique_ptr<ModelState>> owned;
  std::vector<ModelState*> states;
  for (int64_t b = 0; b < batch; ++b) {
    owned.push_back(model_->NewState());
    states.push_back(owned.back().get());
  }
  std::vector<torch::Tensor> steps;
  for (int64_t t = 0; t < half; ++t) {
    auto step = model_->DecodeStep(states, ids.select(1, t));
    ASSERT_TRUE(step.ok()) << step.status();
    steps.push_back(step->cpu());
  }
  // Grow every pool well past its rows, release a few, and fork the last sequence.
  std::vector<std::unique_ptr<ModelState>> extra;
  for (int i = 0; i < 9; ++i) extra.push_back(model_->NewState());
  extra.erase(extra.begin() + 2, extra.begin() + 5);
  std::unique_ptr<ModelState> fork = states.back()->Clone();
  std::vector<ModelState*> reversed(states.rbegin(), states.rend());
  reversed.push_back(fork.get());
  const torch::Tensor reversed_ids = torch::cat({ids.flip(0), ids.narrow(0, batch - 1, 1)}, 0);
  for (int64_t t = half; t < length; ++t) {
    auto step = model_->DecodeStep(reversed, reversed_ids.select(1, t));
    ASSERT_TRUE(step.ok()) << step.status();
    const torch::Tensor logits = step->cpu();
    EXPECT_TRUE(logits[batch].equal(logits[0])) << "the fork differs from its original at " << t;
    steps.push_back(logits.narrow(0, 0, batch).flip(0));
  }
  const torch::Tensor decoded = torch::stack(steps, 1);
  EXPECT_LT(MaxKl(full->cpu(), decoded), 1e-5);
}

TEST_P(LigerModelTest, ChunkedPrefillContinuesLikeOneShot) {
  ReferenceOutputs ref(GetParam().model);
  torch::Tensor row = ref.Get("input_ids")[2].to(torch::kInt64);
  auto full = model_->Forward(row.unsqueeze(0));
  ASSERT_TRUE(full.ok());
  auto state = model_->NewState();
  std::vector<torch::Tensor> pieces;
  // Pieces straddle the 64-token window and the 16-token chunk.
  for (auto [start, len] : {std::pair<int64_t, int64_t>{0, 5}, {5, 70}, {75, 1}, {76, 20}}) {
    auto logits = model_->Prefill(row.narrow(0, start, len), *state, true);
    ASSERT_TRUE(logits.ok()) << logits.status();
    pieces.push_back(logits->cpu());
  }
  EXPECT_LT(MaxKl((*full)[0].cpu(), torch::cat(pieces, 0)), 1e-5);
}

// liger.md: layers x KV x d x d x 4 (GSA: 2 x d x m; the memories are per KV head) + layers x window x KV x d x 2 x dtype bytes,
// with softmax layers of a hybrid holding a KV cache instead.
TEST_P(LigerModelTest, StateSizeIsConstantAndMatchesFormula) {
  const ModelConfig& c = model_->config();
  // 5,000 tokens on the Llama fixture; fewer where the point is already made, to keep CI short.
  const bool hybrid = !GetParam().softmax_layers.empty();
  const int64_t total = hybrid ? 300 : GetParam().model == "llama3-tiny" ? 5000 : 1000;
  auto state = model_->NewState();
  auto first = model_->Prefill(torch::full({10}, 7, torch::kInt64), *state, false);
  ASSERT_TRUE(first.ok());
  const int64_t after_10 = state->bytes();
  auto rest =
      model_->Prefill(torch::randint(3, c.vocab_size, {total - 10}, torch::kInt64), *state, false);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(state->tokens(), total);
  if (hybrid) {
    EXPECT_GT(state->bytes(), after_10);  // the hybrid's softmax layers cache every token
    return;
  }
  EXPECT_EQ(state->bytes(), after_10);
  const int64_t d = c.head_dim, m = c.liger->gsa_slots;
  const int64_t memory = GetParam().variant == "gsa" ? 2 * d * m : d * d;
  const int64_t expected = c.num_hidden_layers * c.num_key_value_heads * memory * 4 +
                           c.num_hidden_layers * c.liger->window * c.num_key_value_heads * d * 2 * 4;
  EXPECT_EQ(state->bytes(), expected);
  ASSERT_TRUE(torch::isfinite(*rest).all().item<bool>());
}

INSTANTIATE_TEST_SUITE_P(
    Variants, LigerModelTest,
    ::testing::Values(Variant{"llama3-tiny", "gla", {}}, Variant{"llama3-tiny", "hgrn2", {}},
                      Variant{"llama3-tiny", "gsa", {}}, Variant{"llama3-tiny", "gla", {0, 4}},
                      Variant{"mistral-tiny", "gla", {}}, Variant{"mistral-tiny", "hgrn2", {}},
                      Variant{"mistral-tiny", "gsa", {}}, Variant{"mistral-tiny", "gla", {3}}),
    [](const auto& info) { return Name(info.param); });

}  // namespace
}  // namespace liger
