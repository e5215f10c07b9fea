#include "core/model/model_config.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/test_paths.h"

namespace liger {
namespace {

using json = nlohmann::json;
using ::liger::testing::FixtureModel;

json Qwen2Config() {
  return json{{"model_type", "qwen2"},        {"vocab_size", 1000},   {"hidden_size", 64},
              {"intermediate_size", 128},     {"num_hidden_layers", 2}, {"num_attention_heads", 4},
              {"num_key_value_heads", 2},     {"rope_theta", 1000000.0}, {"torch_dtype", "bfloat16"},
              {"tie_word_embeddings", true},  {"eos_token_id", 5}};
}

absl::StatusOr<ModelConfig> Parse(const json& j) { return ParseModelConfig(j.dump(), "test.json"); }

TEST(ModelConfigTest, LoadsLlama3FixtureWithLlama3Rope) {
  auto c = LoadModelConfig(FixtureModel("llama3-tiny"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, "llama");
  EXPECT_EQ(c->num_attention_heads, 8);
  EXPECT_EQ(c->num_key_value_heads, 2);
  EXPECT_EQ(c->head_dim, 32);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_EQ(c->rope.type, "llama3");
  EXPECT_DOUBLE_EQ(c->rope.theta, 500000.0);
  EXPECT_DOUBLE_EQ(c->rope.factor, 32.0);
  EXPECT_EQ(c->rope.original_max_position_embeddings, 8192);
  EXPECT_EQ(c->torch_dtype, "bfloat16");
  EXPECT_EQ(c->eos_token_ids, std::vector<int32_t>{1});
}

TEST(ModelConfigTest, LoadsMistralFixtureUntied) {
  auto c = LoadModelConfig(FixtureModel("mistral-tiny"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, "mistral");
  EXPECT_FALSE(c->tie_word_embeddings);
  EXPECT_EQ(c->rope.type, "default");
  EXPECT_FALSE(c->sliding_window.has_value());
  EXPECT_EQ(c->torch_dtype, "float16");
}

TEST(ModelConfigTest, Qwen2HasQkvBiasButNoOutputBias) {
  auto c = Parse(Qwen2Config());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->qkv_bias);
  EXPECT_FALSE(c->o_bias);
  EXPECT_FALSE(c->qk_norm);
  EXPECT_EQ(c->head_dim, 16);
}

TEST(ModelConfigTest, Qwen3HasQkNormAndExplicitHeadDim) {
  json j = Qwen2Config();
  j["model_type"] = "qwen3";
  j["head_dim"] = 32;
  j["attention_bias"] = false;
  auto c = Parse(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->qk_norm);
  EXPECT_FALSE(c->qkv_bias);
  EXPECT_EQ(c->head_dim, 32);
}

TEST(ModelConfigTest, NewStyleRopeParametersAndDtype) {
  json j = Qwen2Config();
  j["model_type"] = "llama";
  j.erase("rope_theta");
  j.erase("torch_dtype");
  j["dtype"] = "float32";
  j["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 8.0},
                          {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                          {"original_max_position_embeddings", 8192}};
  j["eos_token_id"] = json::array({5, 7});
  auto c = Parse(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rope.type, "llama3");
  EXPECT_DOUBLE_EQ(c->rope.theta, 500000.0);
  EXPECT_DOUBLE_EQ(c->rope.factor, 8.0);
  EXPECT_EQ(c->torch_dtype, "float32");
  EXPECT_EQ(c->eos_token_ids, (std::vector<int32_t>{5, 7}));
}

// The authors' format for converted checkpoints, as `liger convert` writes it.
TEST(ModelConfigTest, AcceptsConvertedLigerArchitectures) {
  const std::pair<const char*, const char*> variants[] = {
      {"gla", "LigerGLAForCausalLM"}, {"hgrn2", "LigerHGRN2ForCausalLM"},
      {"gsa", "LigerGSAForCausalLM"}};
  for (const auto& [variant, architecture] : variants) {
    json j = Qwen2Config();
    j["model_type"] = std::string("liger_") + variant;
    j["architectures"] = json::array({architecture});
    j["liger"] = {{"base_model_type", "qwen2"}, {"variant", variant}, {"window", 32},
                  {"softmax_layers", {1}}};
    auto c = Parse(j);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->model_type, "qwen2");
    EXPECT_EQ(c->architecture, architecture);
    ASSERT_TRUE(c->liger.has_value());
    EXPECT_EQ(c->liger->variant, variant);
    EXPECT_EQ(c->liger->window, 32);
    EXPECT_EQ(c->liger->softmax_layers, std::vector<int64_t>{1});
  }
}

// model_type liger_<variant> and liger.variant must agree; without liger.variant, model_type decides.
TEST(ModelConfigTest, LigerModelTypeNamesTheVariant) {
  json j = Qwen2Config();
  j["model_type"] = "liger_hgrn2";
  j["liger"] = {{"base_model_type", "qwen2"}};
  auto c = Parse(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->liger->variant, "hgrn2");

  j["liger"]["variant"] = "gsa";
  auto mismatch = Parse(j);
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(mismatch.status().message()), ::testing::HasSubstr("liger_hgrn2"));

  j["model_type"] = "liger_mamba";
  j["liger"].erase("variant");
  EXPECT_EQ(Parse(j).status().code(), absl::StatusCode::kInvalidArgument);

  // The variant named only by model_type still gets its own checks (GSA's slot limit).
  j["model_type"] = "liger_gsa";
  j["liger"]["gsa_slots"] = 65536;
  auto too_many_slots = Parse(j);
  EXPECT_EQ(too_many_slots.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(too_many_slots.status().message()), ::testing::HasSubstr("gsa_slots"));
}

TEST(ModelConfigTest, RejectsUnsupportedWithMessageNamingIt) {
  struct Case {
    const char* key;
    json value;
    const char* named;
  };
  const Case cases[] = {
      {"model_type", "gpt2", "gpt2"},
      {"hidden_act", "gelu", "gelu"},
      {"rope_scaling", json{{"rope_type", "yarn"}, {"factor", 4.0}}, "yarn"},
      {"torch_dtype", "float8", "float8"},
      {"num_key_value_heads", 3, "num_key_value_heads"},
      {"vocab_size", -5, "vocab_size"},
      {"hidden_size", "big", "hidden_size"},
      {"use_sliding_window", true, "use_sliding_window"},
  };
  for (const Case& c : cases) {
    json j = Qwen2Config();
    j[c.key] = c.value;
    auto parsed = Parse(j);
    ASSERT_FALSE(parsed.ok()) << c.key;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << c.key;
    EXPECT_NE(parsed.status().message().find(c.named), std::string::npos) << parsed.status();
  }
}

TEST(ModelConfigTest, RejectsMissingFieldsAndBadJson) {
  json j = Qwen2Config();
  j.erase("num_hidden_layers");
  EXPECT_EQ(Parse(j).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseModelConfig("{not json", "x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseModelConfig("[1,2]", "x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseModelConfig("", "x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadModelConfig("/nonexistent/dir").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace liger
