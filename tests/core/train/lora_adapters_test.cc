// LoraAdapters: PEFT's initialisation, names and files; option and adapter-file validation.
#include <cmath>
#include <fstream>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/io/safetensors_file.h"
#include "core/model/model_config.h"
#include "core/train/lora_adapters.h"
#include "core/train/lora_options.h"
#include "nlohmann/json.hpp"
#include "tests/core/train/lora_test_models.h"

namespace liger {
namespace {

using ::liger::testing::RandomiseLora;
using ::liger::testing::TempDir;
using ::liger::testing::TestModels;
using ::testing::HasSubstr;

ModelConfig GlaConfig() {
  auto config = LoadModelConfig(TestModels().gla);
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

std::unique_ptr<LoraAdapters> MakeAdapters(const ModelConfig& config, uint64_t seed,
                                           LoraOptions options = LoraOptions()) {
  auto adapters = LoraAdapters::Create(config, options, torch::kCPU, seed);
  EXPECT_TRUE(adapters.ok()) << adapters.status();
  return adapters.ok() ? std::move(*adapters) : nullptr;
}

void ExpectSameParameters(const LoraAdapters& x, const LoraAdapters& y) {
  auto a = x.NamedParameters(), b = y.NamedParameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(a[i].second.equal(b[i].second)) << a[i].first;
  }
}

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

void WriteText(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(LoraOptions, InvalidOptionsAreNamed) {
  const ModelConfig config = GlaConfig();
  struct Case {
    LoraOptions options;
    std::string option;
  };
  std::vector<Case> cases(7);
  cases[0].options.rank = 0, cases[0].option = "rank";
  cases[1].options.alpha = 0, cases[1].option = "alpha";
  cases[2].options.alpha = NAN, cases[2].option = "alpha";
  cases[3].options.dropout = 1, cases[3].option = "dropout";
  cases[4].options.dropout = -0.1, cases[4].option = "dropout";
  cases[5].options.target_modules = {"q_proj", "c_attn"}, cases[5].option = "target_modules";
  cases[6].options.target_modules = {"q_proj", "q_proj"}, cases[6].option = "target_modules";
  cases.push_back(Case{LoraOptions(), "target_modules"});
  cases.back().options.target_modules.clear();
  for (const Case& c : cases) {
    auto adapters = LoraAdapters::Create(config, c.options, torch::kCPU, 0);
    EXPECT_EQ(adapters.status().code(), absl::StatusCode::kInvalidArgument) << c.option;
    EXPECT_THAT(std::string(adapters.status().message()), HasSubstr(c.option));
  }
}

TEST(LoraAdapters, InitialisesLikePeft) {
  const ModelConfig config = GlaConfig();
  LoraOptions options;
  options.target_modules = {"v_proj", "q_proj", "down_proj"};
  auto adapters = MakeAdapters(config, 42, options);
  ASSERT_NE(adapters, nullptr);
  const auto named = adapters->NamedParameters();
  ASSERT_EQ(named.size(), static_cast<size_t>(config.num_hidden_layers * 3 * 2));
  EXPECT_EQ(named[0].first, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
  EXPECT_EQ(named[1].first, "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight");
  EXPECT_EQ(named[5].first, "base_model.model.model.layers.0.mlp.down_proj.lora_B.weight");
  auto [a, b] = adapters->Factors(1, Projection::kDown);
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{8, config.intermediate_size}));
  EXPECT_EQ(b.sizes(), (std::vector<int64_t>{config.hidden_size, 8}));
  EXPECT_FALSE(adapters->Factors(1, Projection::kK).first.defined());
  for (const auto& [name, p] : named) {
    EXPECT_EQ(p.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(p.requires_grad() && p.is_leaf()) << name;
  }
  // kaiming_uniform(a = sqrt(5)) is U(-1/sqrt(in), 1/sqrt(in)): the bound is nearly reached.
  const double bound = 1.0 / std::sqrt(static_cast<double>(config.intermediate_size));
  EXPECT_LE(a.abs().max().item<double>(), bound);
  EXPECT_GT(a.abs().max().item<double>(), 0.95 * bound);
  EXPECT_NEAR(a.mean().item<double>(), 0, 0.05 * bound);
  EXPECT_EQ(b.abs().max().item<double>(), 0);
  EXPECT_DOUBLE_EQ(adapters->scaling(), 1.0);

  auto same = MakeAdapters(config, 42, options);
  ExpectSameParameters(*adapters, *same);
  auto other = MakeAdapters(config, 43, options);
  EXPECT_FALSE(other->Factors(1, Projection::kDown).first.equal(a));
}

TEST(LoraAdapters, DropoutOnlyWhileTraining) {
  LoraOptions options;
  options.dropout = 0.5;
  auto adapters = MakeAdapters(GlaConfig(), 1, options);
  ASSERT_NE(adapters, nullptr);
  RandomiseLora(*adapters, 2, 0.1);
  torch::Tensor x = torch::randn({4, 256});
  torch::Tensor eval1 = adapters->Delta(0, Projection::kQ, x);
  EXPECT_TRUE(eval1.equal(adapters->Delta(0, Projection::kQ, x)));
  adapters->SetTraining(true);
  EXPECT_FALSE(eval1.equal(adapters->Delta(0, Projection::kQ, x)));
  EXPECT_FALSE(adapters->Delta(0, Projection::kO, x).defined());
}

TEST(LoraAdapters, SaveLoadRoundTripsInPeftLayout) {
  const ModelConfig config = GlaConfig();
  LoraOptions options;
  options.rank = 4;
  options.alpha = 16;
  options.target_modules = {"q_proj", "o_proj", "up_proj"};
  auto adapters = MakeAdapters(config, 3, options);
  ASSERT_NE(adapters, nullptr);
  RandomiseLora(*adapters, 4, 0.1);
  TempDir dir;
  ASSERT_TRUE(adapters->SaveAdapter(dir.path(), "/models/base").ok());
  EXPECT_EQ(dir.List(), (std::vector<std::string>{"adapter_config.json", "adapter_model.safetensors"}));

  const nlohmann::json json = ReadJson(dir.File("adapter_config.json"));
  EXPECT_EQ(json["peft_type"], "LORA");
  EXPECT_EQ(json["task_type"], "CAUSAL_LM");
  EXPECT_EQ(json["r"], 4);
  EXPECT_TRUE(json["lora_alpha"].is_number_integer());
  EXPECT_EQ(json["lora_alpha"], 16);
  EXPECT_EQ(json["lora_dropout"], 0.0);
  EXPECT_EQ(json["target_modules"], nlohmann::json({"q_proj", "o_proj", "up_proj"}));
  EXPECT_EQ(json["bias"], "none");
  EXPECT_EQ(json["fan_in_fan_out"], false);
  EXPECT_EQ(json["inference_mode"], true);
  EXPECT_EQ(json["base_model_name_or_path"], "/models/base");

  auto file = SafetensorsFile::Open(dir.File("adapter_model.safetensors"));
  ASSERT_TRUE(file.ok()) << file.status();
  std::set<std::string> stored;
  for (const auto& [name, view] : (*file)->tensors()) {
    stored.insert(name);
    EXPECT_EQ(view.dtype, DType::kFloat32);
  }
  std::set<std::string> expected;
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const std::string p = "base_model.model.model.layers." + std::to_string(i) + ".";
    for (const char* m : {"self_attn.q_proj", "self_attn.o_proj", "mlp.up_proj"}) {
      expected.insert(p + m + ".lora_A.weight");
      expected.insert(p + m + ".lora_B.weight");
    }
  }
  EXPECT_EQ(stored, expected);
  const TensorView* o_a = (*file)->Find("base_model.model.model.layers.2.self_attn.o_proj.lora_A.weight");
  ASSERT_NE(o_a, nullptr);
  EXPECT_EQ(o_a->shape, (std::vector<int64_t>{4, config.num_attention_heads * config.head_dim}));

  auto loaded = LoraAdapters::LoadAdapter(dir.path(), config, torch::kCPU);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->options().rank, 4);
  EXPECT_EQ((*loaded)->options().alpha, 16);
  EXPECT_EQ((*loaded)->options().target_modules, options.target_modules);
  ExpectSameParameters(*adapters, **loaded);
}

TEST(LoraAdapters, LoadParametersCopiesInPlaceOrRejects) {
  const ModelConfig config = GlaConfig();
  auto adapters = MakeAdapters(config, 5);
  auto source = MakeAdapters(config, 6);
  RandomiseLora(*source, 7, 0.1);
  const torch::Tensor first = adapters->parameters()[0];
  ASSERT_TRUE(adapters->LoadParameters(source->NamedParameters()).ok());
  ExpectSameParameters(*adapters, *source);
  EXPECT_TRUE(adapters->parameters()[0].is_same(first));

  auto named = source->NamedParameters();
  named.pop_back();
  EXPECT_EQ(adapters->LoadParameters(named).code(), absl::StatusCode::kFailedPrecondition);
  named = source->NamedParameters();
  named[0].second = torch::zeros({3, 3});
  EXPECT_EQ(adapters->LoadParameters(named).code(), absl::StatusCode::kFailedPrecondition);
  named = source->NamedParameters();
  named.emplace_back("base_model.model.model.layers.0.mlp.up_proj.lora_A.weight", torch::zeros({8, 256}));
  EXPECT_EQ(adapters->LoadParameters(named).code(), absl::StatusCode::kFailedPrecondition);
  ExpectSameParameters(*adapters, *source);
}

class LoadAdapterErrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = GlaConfig();
    auto adapters = MakeAdapters(config_, 8);
    ASSERT_TRUE(adapters->SaveAdapter(dir_.path()).ok());
  }
  absl::StatusCode LoadCode() {
    auto loaded = LoraAdapters::LoadAdapter(dir_.path(), config_, torch::kCPU);
    if (!loaded.ok()) message_ = std::string(loaded.status().message());
    return loaded.status().code();
  }
  void EditConfig(const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json json = ReadJson(dir_.File("adapter_config.json"));
    edit(json);
    WriteText(dir_.File("adapter_config.json"), json.dump());
  }

  TempDir dir_;
  ModelConfig config_;
  std::string message_;
};

TEST_F(LoadAdapterErrorTest, MissingFilesAreNotFound) {
  std::filesystem::remove(dir_.File("adapter_model.safetensors"));
  EXPECT_EQ(LoadCode(), absl::StatusCode::kNotFound);
  std::filesystem::remove(dir_.File("adapter_config.json"));
  EXPECT_EQ(LoadCode(), absl::StatusCode::kNotFound);
}

TEST_F(LoadAdapterErrorTest, CorruptFilesAreDataLoss) {
  std::filesystem::resize_file(dir_.File("adapter_model.safetensors"), 100);
  EXPECT_EQ(LoadCode(), absl::StatusCode::kDataLoss) << message_;
  WriteText(dir_.File("adapter_config.json"), "{\"peft_type\": \"LORA\", ");
  EXPECT_EQ(LoadCode(), absl::StatusCode::kDataLoss) << message_;
}

TEST_F(LoadAdapterErrorTest, BadConfigFieldsAreDataLoss) {
  EditConfig([](nlohmann::json& j) { j.erase("r"); });
  EXPECT_EQ(LoadCode(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(message_, HasSubstr("\"r\""));
  EditConfig([](nlohmann::json& j) { j["r"] = 8; j["lora_dropout"] = 1.5; });
  EXPECT_EQ(LoadCode(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(message_, HasSubstr("dropout"));
  // The tensors hold rank 8; a config claiming 4 contradicts them.
  EditConfig([](nlohmann::json& j) { j["r"] = 4; j["lora_dropout"] = 0; });
  EXPECT_EQ(LoadCode(), absl::StatusCode::kDataLoss) << message_;
}

TEST_F(LoadAdapterErrorTest, UnsupportedAdaptersAreFailedPrecondition) {
  EditConfig([](nlohmann::json& j) { j["peft_type"] = "PREFIX_TUNING"; });
  EXPECT_EQ(LoadCode(), absl::StatusCode::kFailedPrecondition);
  EditConfig([](nlohmann::json& j) { j["peft_type"] = "LORA"; j["use_dora"] = true; });
  EXPECT_EQ(LoadCode(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(message_, HasSubstr("use_dora"));
  EditConfig([](nlohmann::json& j) { j["use_dora"] = false; j["target_modules"] = {"c_attn"}; });
  EXPECT_EQ(LoadCode(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(message_, HasSubstr("c_attn"));
}

TEST_F(LoadAdapterErrorTest, AnotherModelsAdapterIsFailedPrecondition) {
  ModelConfig fewer_layers = config_;
  fewer_layers.num_hidden_layers = 2;
  EXPECT_EQ(LoraAdapters::LoadAdapter(dir_.path(), fewer_layers, torch::kCPU).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ModelConfig more_layers = config_;
  more_layers.num_hidden_layers = 12;
  EXPECT_EQ(LoraAdapters::LoadAdapter(dir_.path(), more_layers, torch::kCPU).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ModelConfig wider = config_;
  wider.hidden_size = 512;
  auto loaded = LoraAdapters::LoadAdapter(dir_.path(), wider, torch::kCPU);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("another model"));
}

}  // namespace
}  // namespace liger
