#include "core/model/transformer.h"

#include <filesystem>
#include <fstream>

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
using ::liger::testing::RelativeMaxDiff;

std::unique_ptr<Transformer> Load(const std::string& name,
                                  torch::ScalarType dtype = torch::kFloat32) {
  ModelLoadOptions options;
  options.dtype = dtype;
  options.device = ::liger::testing::TestDevice();
  auto model = LoadModel(FixtureModel(name), options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? std::move(*model) : nullptr;
}

// Checks full-sequence logits [B, T, V] against the reference's positions and argmax.
void ExpectMatchesReference(const ReferenceOutputs& ref, const torch::Tensor& logits,
                            double tolerance, double min_argmax_agreement) {
  torch::Tensor positions = ref.Get("positions").to(torch::kInt64);
  torch::Tensor at_positions = logits.cpu().index_select(1, positions);
  EXPECT_LE(RelativeMaxDiff(at_positions, ref.Get("logits_at_positions")), tolerance);
  torch::Tensor argmax = logits.cpu().argmax(-1).to(torch::kInt32);
  double agreement = argmax.eq(ref.Get("argmax")).to(torch::kFloat64).mean().item<double>();
  EXPECT_GE(agreement, min_argmax_agreement);
}

class TeacherTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TeacherTest, PrefillMatchesTransformersInFloat32) {
  auto model = Load(GetParam());
  ASSERT_NE(model, nullptr);
  ReferenceOutputs ref(GetParam());
  auto logits = model->Forward(ref.Get("input_ids"));
  ASSERT_TRUE(logits.ok()) << logits.status();
  ExpectMatchesReference(ref, *logits, 1e-4, 1.0);
}

TEST_P(TeacherTest, BatchedDecodeMatchesTransformersInFloat32) {
  auto model = Load(GetParam());
  ASSERT_NE(model, nullptr);
  ReferenceOutputs ref(GetParam());
  torch::Tensor ids = ref.Get("input_ids").to(torch::kInt64);
  std::vector<std::unique_ptr<ModelState>> owned;
  std::vector<ModelState*> states;
  for (int64_t b = 0; b < ids.size(0); ++b) {
    owned.push_back(model->NewState());
    states.push_back(owned.back().get());
  }
  std::vector<torch::Tensor> steps;
  for (int64_t t = 0; t < ids.size(1); ++t) {
    auto step = model->DecodeStep(states, ids.select(1, t));
    ASSERT_TRUE(step.ok()) << step.status();
    steps.push_back(step->cpu());
  }
  ExpectMatchesReference(ref, torch::stack(steps, 1), 1e-4, 1.0);
  EXPECT_EQ(states[0]->tokens(), ids.size(1));
}

TEST_P(TeacherTest, ChunkedPrefillEqualsOneShot) {
  auto model = Load(GetParam());
  ASSERT_NE(model, nullptr);
  ReferenceOutputs ref(GetParam());
  torch::Tensor row = ref.Get("input_ids")[1].to(torch::kInt64);
  auto whole = model->Forward(row.unsqueeze(0));
  ASSERT_TRUE(whole.ok());
  auto state = model->NewState();
  auto first = model->Prefill(row.narrow(0, 0, 37), *state, true);
  auto fork = state->Clone();
  auto second = model->Prefill(row.narrow(0, 37, row.size(0) - 37), *state, true);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_LE(RelativeMaxDiff(torch::cat({*first, *second}, 0).cpu(), (*whole)[0].cpu()), 1e-5);
  // The fork continues independently and identically.
  auto forked = model->Prefill(row.narrow(0, 37, row.size(0) - 37), *fork, false);
  ASSERT_TRUE(forked.ok());
  EXPECT_LE(RelativeMaxDiff((*forked)[0].cpu(), (*second)[-1].cpu()), 1e-5);
  EXPECT_EQ(fork->tokens(), row.size(0));
}

// bf16 rounds activations at every layer, so the bound is looser: stated tolerance 5e-2 relative
// and at least 90% top-1 agreement with the float32 reference.
TEST_P(TeacherTest, Bfloat16StaysCloseToReference) {
  auto model = Load(GetParam(), torch::kBFloat16);
  ASSERT_NE(model, nullptr);
  ReferenceOutputs ref(GetParam());
  auto logits = model->Forward(ref.Get("input_ids"));
  ASSERT_TRUE(logits.ok()) << logits.status();
  EXPECT_EQ(logits->scalar_type(), torch::kFloat32);
  ExpectMatchesReference(ref, *logits, 5e-2, 0.9);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TeacherTest, ::testing::Values("llama3-tiny", "mistral-tiny"),
                         [](const auto& info) {
                           std::string name = info.param;
                           name.erase(std::remove(name.begin(), name.end(), '-'), name.end());
                           return name;
                         });

TEST(TeacherInputTest, RejectsOutOfVocabularyAndBadShapes) {
  auto model = Load("llama3-tiny");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->Forward(torch::tensor({{0, 9000}})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model->Forward(torch::tensor({0, 1})).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto state = model->NewState();
  EXPECT_EQ(model->Prefill(torch::zeros({0}, torch::kInt64), *state, false).status().code(),
            absl::StatusCode::kInvalidArgument);
  ModelState* states[] = {state.get()};
  EXPECT_EQ(model->DecodeStep(states, torch::tensor({1, 2})).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A copy of a fixture whose config.json can be edited, to check that disagreements are caught.
class BrokenCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("liger-broken-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const char* f : {"config.json", "model.safetensors"}) {
      fs::copy_file(FixtureModel("llama3-tiny") + "/" + f, dir_ / f);
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  void EditConfig(const std::string& key, const nlohmann::json& value) {
    std::ifstream in(dir_ / "config.json");
    nlohmann::json j = nlohmann::json::parse(in);
    j[key] = value;
    std::ofstream(dir_ / "config.json") << j.dump();
  }

  absl::Status LoadStatus() { return LoadModel(dir_.string(), ModelLoadOptions{}).status(); }

  fs::path dir_;
};

TEST_F(BrokenCheckpointTest, ShapeDisagreeingWithConfig) {
  EditConfig("intermediate_size", 512);
  absl::Status s = LoadStatus();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("mlp.gate_proj.weight"), std::string::npos) << s;
}

TEST_F(BrokenCheckpointTest, MissingLayerTensor) {
  EditConfig("num_hidden_layers", 9);
  absl::Status s = LoadStatus();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("model.layers.8."), std::string::npos) << s;
}

TEST_F(BrokenCheckpointTest, UnusedTensorsAreRejected) {
  EditConfig("num_hidden_layers", 7);
  absl::Status s = LoadStatus();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("model.layers.7."), std::string::npos) << s;
}

TEST_F(BrokenCheckpointTest, UntiedConfigNeedsLmHead) {
  EditConfig("tie_word_embeddings", false);
  absl::Status s = LoadStatus();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("lm_head.weight"), std::string::npos) << s;
}

TEST_F(BrokenCheckpointTest, UnknownArchitecture) {
  EditConfig("model_type", "falcon");
  EXPECT_EQ(LoadStatus().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(BrokenCheckpointTest, MissingWeightsAndConfig) {
  fs::remove(dir_ / "model.safetensors");
  EXPECT_EQ(LoadStatus().code(), absl::StatusCode::kNotFound);
  fs::remove(dir_ / "config.json");
  EXPECT_EQ(LoadStatus().code(), absl::StatusCode::kNotFound);
}

TEST_F(BrokenCheckpointTest, TruncatedWeights) {
  fs::resize_file(dir_ / "model.safetensors", 1000);
  EXPECT_EQ(LoadStatus().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace liger
