#include "core/io/safetensors_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/io/file_util.h"
#include "nlohmann/json.hpp"
#include "tests/test_paths.h"

namespace liger {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

nlohmann::json Config(const std::string& model) {
  absl::StatusOr<std::string> text =
      ReadFileToString(liger::testing::FixtureModel(model) + "/config.json");
  EXPECT_TRUE(text.ok()) << text.status();
  return nlohmann::json::parse(text.ok() ? *text : "{}");
}

std::unique_ptr<SafetensorsFile> OpenFixture(const std::string& model, const std::string& file) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> opened =
      SafetensorsFile::Open(liger::testing::FixtureModel(model) + "/" + file);
  EXPECT_TRUE(opened.ok()) << opened.status();
  return opened.ok() ? *std::move(opened) : nullptr;
}

std::vector<int32_t> Int32s(const TensorView& view) {
  std::vector<int32_t> values(view.nbytes / sizeof(int32_t));
  std::memcpy(values.data(), view.data, values.size() * sizeof(int32_t));
  return values;
}

// Shapes of a Llama-family decoder as transformers names and lays them out, derived from config.
void ExpectDecoderShapes(const SafetensorsFile& file, const nlohmann::json& config, DType dtype) {
  const int64_t vocab = config["vocab_size"];
  const int64_t hidden = config["hidden_size"];
  const int64_t inter = config["intermediate_size"];
  const int64_t head_dim = config["head_dim"];
  const int64_t q_dim = head_dim * config["num_attention_heads"].get<int64_t>();
  const int64_t kv_dim = head_dim * config["num_key_value_heads"].get<int64_t>();
  const int64_t layers = config["num_hidden_layers"];
  const bool tied = config["tie_word_embeddings"];

  const std::vector<std::pair<std::string, std::vector<int64_t>>> per_layer = {
      {"input_layernorm.weight", {hidden}},          {"post_attention_layernorm.weight", {hidden}},
      {"self_attn.q_proj.weight", {q_dim, hidden}},  {"self_attn.k_proj.weight", {kv_dim, hidden}},
      {"self_attn.v_proj.weight", {kv_dim, hidden}}, {"self_attn.o_proj.weight", {hidden, q_dim}},
      {"mlp.gate_proj.weight", {inter, hidden}},     {"mlp.up_proj.weight", {inter, hidden}},
      {"mlp.down_proj.weight", {hidden, inter}},
  };
  std::map<std::string, std::vector<int64_t>> expected = {
      {"model.embed_tokens.weight", {vocab, hidden}}, {"model.norm.weight", {hidden}}};
  if (!tied) expected["lm_head.weight"] = {vocab, hidden};
  for (int64_t layer = 0; layer < layers; ++layer) {
    for (const auto& [suffix, shape] : per_layer) {
      expected["model.layers." + std::to_string(layer) + "." + suffix] = shape;
    }
  }
  EXPECT_EQ(file.tensors().size(), expected.size());
  for (const auto& [name, shape] : expected) {
    const TensorView* view = file.Find(name);
    ASSERT_NE(view, nullptr) << name;
    EXPECT_EQ(view->dtype, dtype) << name;
    EXPECT_EQ(view->shape, shape) << name;
    EXPECT_EQ(view->nbytes, static_cast<size_t>(view->numel()) * DTypeSize(dtype)) << name;
  }
  EXPECT_EQ(file.Find(tied ? "lm_head.weight" : "no.such.tensor"), nullptr);
}

TEST(SafetensorsFileTest, ReadsLlamaFixture) {
  std::unique_ptr<SafetensorsFile> file = OpenFixture("llama3-tiny", "model.safetensors");
  ASSERT_NE(file, nullptr);
  ExpectDecoderShapes(*file, Config("llama3-tiny"), DType::kBFloat16);
  EXPECT_THAT(file->Find("model.embed_tokens.weight")->shape, ElementsAre(8192, 256));
  EXPECT_EQ(file->metadata().at("format"), "pt");
}

TEST(SafetensorsFileTest, ReadsMistralFixture) {
  std::unique_ptr<SafetensorsFile> file = OpenFixture("mistral-tiny", "model.safetensors");
  ASSERT_NE(file, nullptr);
  ExpectDecoderShapes(*file, Config("mistral-tiny"), DType::kFloat16);
  EXPECT_THAT(file->Find("lm_head.weight")->shape, ElementsAre(4096, 256));
}

// The reference outputs document their token ids: every row starts with BOS, and the greedy prompt
// is the first 24 tokens of row 0.
TEST(SafetensorsFileTest, ReadsReferenceOutputData) {
  for (const std::string model : {"llama3-tiny", "mistral-tiny"}) {
    std::unique_ptr<SafetensorsFile> file = OpenFixture(model, "reference-outputs.safetensors");
    ASSERT_NE(file, nullptr);
    const TensorView* ids = file->Find("input_ids");
    const TensorView* prompt = file->Find("greedy_prompt");
    ASSERT_NE(ids, nullptr);
    ASSERT_NE(prompt, nullptr);
    ASSERT_EQ(ids->dtype, DType::kInt32);
    ASSERT_THAT(ids->shape, ElementsAre(3, 96));
    ASSERT_THAT(prompt->shape, ElementsAre(1, 24));
    const std::vector<int32_t> id_values = Int32s(*ids);
    const int32_t bos = Config(model)["bos_token_id"];
    for (int row = 0; row < 3; ++row)
      EXPECT_EQ(id_values[row * 96], bos) << model << " row " << row;
    EXPECT_THAT(Int32s(*prompt), ElementsAreArray(id_values.begin(), id_values.begin() + 24));
    const int64_t vocab = Config(model)["vocab_size"];
    EXPECT_THAT(file->Find("logits_at_positions")->shape, ElementsAre(3, 8, vocab));
  }
}

}  // namespace
}  // namespace liger
