#include "core/convert/converter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <deque>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/io/checkpoint_weights.h"
#include "core/io/safetensors_writer.h"
#include "nlohmann/json.hpp"
#include "tests/core/io/temp_dir.h"
#include "tests/core/io/test_files.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ::liger::testing::FixtureModel;
using ::liger::testing::ReadBytes;
using ::liger::testing::TempDir;
using ::liger::testing::WriteBytes;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kConvertShard1[] = "model-00001-of-00002.safetensors";
constexpr char kConvertShard2[] = "model-00002-of-00002.safetensors";
constexpr char kConvertIndex[] = "model.safetensors.index.json";

json TinyConfig() {
  return json{{"architectures", {"LlamaForCausalLM"}},
              {"model_type", "llama"},
              {"vocab_size", 16},
              {"hidden_size", 8},
              {"intermediate_size", 16},
              {"num_hidden_layers", 4},
              {"num_attention_heads", 2},
              {"num_key_value_heads", 1},
              {"rms_norm_eps", 1e-05},
              {"rope_theta", 500000.0},
              {"torch_dtype", "bfloat16"},
              {"tie_word_embeddings", true},
              {"custom_field", {{"nested", {1, 2}}}}};
}

// A small checkpoint with random weights, single-file or in two shards with an index.
class TinyCheckpoint {
 public:
  TinyCheckpoint(const std::string& dir, bool sharded) : dir_(dir) {
    fs::create_directories(dir);
    WriteBytes(dir + "/config.json", TinyConfig().dump(2));
    WriteBytes(dir + "/tokenizer.json", R"({"model": {"type": "BPE"}})");
    WriteBytes(dir + "/generation_config.json", R"({"do_sample": false})");
    WriteBytes(dir + "/special_tokens_map.json", R"({"bos_token": "<s>"})");
    WriteBytes(dir + "/tokenizer.model", std::string("\x0a\x03\x00<s>", 7));
    WriteBytes(dir + "/notes.txt", "not part of the checkpoint");
    std::vector<std::pair<std::string, TensorView>> first = {
        Tensor("model.embed_tokens.weight", DType::kBFloat16, {16, 8}),
        Tensor("model.layers.0.self_attn.q_proj.weight", DType::kBFloat16, {8, 8})};
    std::vector<std::pair<std::string, TensorView>> second = {
        Tensor("model.norm.weight", DType::kFloat32, {8})};
    if (!sharded) {
      first.insert(first.end(), second.begin(), second.end());
      EXPECT_TRUE(WriteSafetensors(dir + "/model.safetensors", first, {{"format", "pt"}}).ok());
      return;
    }
    EXPECT_TRUE(WriteSafetensors(dir + "/" + kConvertShard1, first).ok());
    EXPECT_TRUE(WriteSafetensors(dir + "/" + kConvertShard2, second).ok());
    json map;
    for (const auto& t : first) map[t.first] = kConvertShard1;
    for (const auto& t : second) map[t.first] = kConvertShard2;
    WriteBytes(dir + "/" + kConvertIndex, json{{"metadata", json::object()}, {"weight_map", map}}.dump());
  }

 private:
  std::pair<std::string, TensorView> Tensor(const std::string& name, DType dtype,
                                            std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::string& data = buffers_.emplace_back(static_cast<size_t>(n) * DTypeSize(dtype), '\0');
    for (char& c : data) c = static_cast<char>(random_());
    return {name, TensorView{dtype, std::move(shape), data.data(), data.size()}};
  }

  std::string dir_;
  std::mt19937 random_{42};
  std::deque<std::string> buffers_;  // a deque keeps their addresses stable as it grows
};

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Every tensor of `from` is in `to` with the same dtype, shape and bytes, and nothing else is.
void ExpectSameTensors(const std::string& from, const std::string& to) {
  auto a = CheckpointWeights::Open(from);
  auto b = CheckpointWeights::Open(to);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ((*a)->names(), (*b)->names());
  for (const std::string& name : (*a)->names()) {
    const TensorView* x = (*a)->Find(name);
    const TensorView* y = (*b)->Find(name);
    ASSERT_NE(y, nullptr) << name;
    EXPECT_EQ(x->dtype, y->dtype) << name;
    EXPECT_EQ(x->shape, y->shape) << name;
    ASSERT_EQ(x->nbytes, y->nbytes) << name;
    EXPECT_EQ(std::memcmp(x->data, y->data, x->nbytes), 0) << name;
  }
}

class ConverterTest : public ::testing::Test {
 protected:
  std::string Model() const { return root_.File("model"); }
  std::string Output() const { return root_.File("out"); }

  // After a failed conversion, nothing but the input is left in the root directory.
  void ExpectNothingWritten() { EXPECT_THAT(root_.List(), ElementsAre("model")); }

  TempDir root_;
};

TEST_F(ConverterTest, FixtureWeightsAndSideFilesAreCopiedBitForBit) {
  const std::string model = FixtureModel("llama3-tiny");
  std::vector<ConversionProgress> steps;
  auto result = ConvertCheckpoint(model, Output() + "/", ConversionOptions(),
                                  [&steps](const ConversionProgress& p) {
                                    steps.push_back(p);
                                    return absl::OkStatus();
                                  });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->output_dir, Output());
  EXPECT_THAT(ListDir(Output()), ElementsAre("config.json", "generation_config.json",
                                             "model.safetensors", "tokenizer.json",
                                             "tokenizer_config.json"));
  ExpectSameTensors(model, Output());
  for (const char* file : {"model.safetensors", "tokenizer.json", "tokenizer_config.json",
                           "generation_config.json"}) {
    EXPECT_EQ(ReadBytes(model + "/" + file), ReadBytes(Output() + "/" + file)) << file;
  }
  auto weights = CheckpointWeights::Open(model);
  ASSERT_TRUE(weights.ok());
  EXPECT_EQ(result->tensors_copied, static_cast<int64_t>((*weights)->names().size()));
  EXPECT_EQ(result->files_written, 5);
  uint64_t on_disk = 0;
  for (const std::string& name : ListDir(Output())) on_disk += fs::file_size(Output() + "/" + name);
  EXPECT_EQ(result->bytes_written, on_disk);

  ASSERT_EQ(steps.size(), 5u);  // small files: one step each
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].file_index, static_cast<int>(i) + 1);
    EXPECT_EQ(steps[i].file_count, 5);
    EXPECT_EQ(steps[i].total_bytes, on_disk);
    if (i > 0) {
      EXPECT_GT(steps[i].bytes_written, steps[i - 1].bytes_written);
    }
  }
  EXPECT_EQ(steps.back().file_name, "config.json");
  EXPECT_EQ(steps.back().bytes_written, on_disk);
  EXPECT_THAT(root_.List(), ElementsAre("out"));
}

TEST_F(ConverterTest, ConfigKeepsEveryFieldAndRecordsTheOptions) {
  TinyCheckpoint checkpoint(Model(), /*sharded=*/false);
  ConversionOptions options;
  options.variant = "hgrn2";
  options.window = 32;
  options.mix = 0.25;
  options.softmax_layers = {3, 0};
  options.gate_normalizer = 8;
  options.gsa_slots = 32;
  options.chunk_size = 16;
  ASSERT_TRUE(ConvertCheckpoint(Model(), Output(), options).ok());

  const json original = TinyConfig();
  const json converted = json::parse(ReadBytes(Output() + "/config.json"));
  for (const auto& [key, value] : original.items()) {
    if (key == "model_type" || key == "architectures") continue;
    EXPECT_EQ(converted.at(key), value) << key;
  }
  EXPECT_EQ(converted["model_type"], "liger_hgrn2");
  EXPECT_EQ(converted["architectures"], json::array({"LigerHGRN2ForCausalLM"}));
  EXPECT_EQ(converted["liger"], (json{{"base_model_type", "llama"},
                                      {"variant", "hgrn2"},
                                      {"window", 32},
                                      {"mix", 0.25},
                                      {"softmax_layers", {0, 3}},
                                      {"gate_normalizer", 8.0},
                                      {"gsa_slots", 32},
                                      {"chunk_size", 16}}));
  EXPECT_EQ(converted.size(), original.size() + 1);

  auto parsed = LoadModelConfig(Output());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->model_type, "llama");
  EXPECT_EQ(parsed->architecture, "LigerHGRN2ForCausalLM");
  ASSERT_TRUE(parsed->liger.has_value());
  EXPECT_EQ(parsed->liger->variant, "hgrn2");
  EXPECT_EQ(parsed->liger->window, 32);
  EXPECT_EQ(parsed->liger->mix, 0.25);
  EXPECT_EQ(parsed->liger->softmax_layers, (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(parsed->liger->gate_normalizer, 8);
  EXPECT_EQ(parsed->liger->gsa_slots, 32);
  EXPECT_EQ(parsed->liger->chunk_size, 16);
  EXPECT_EQ(ReadBytes(Model() + "/tokenizer.json"), ReadBytes(Output() + "/tokenizer.json"));
}

TEST_F(ConverterTest, EveryVariantNamesItsArchitecture) {
  TinyCheckpoint checkpoint(Model(), /*sharded=*/false);
  const std::pair<const char*, const char*> variants[] = {
      {"gla", "LigerGLAForCausalLM"}, {"hgrn2", "LigerHGRN2ForCausalLM"},
      {"gsa", "LigerGSAForCausalLM"}};
  for (const auto& [variant, architecture] : variants) {
    ConversionOptions options;
    options.variant = variant;
    const std::string out = root_.File(variant);
    ASSERT_TRUE(ConvertCheckpoint(Model(), out, options).ok()) << variant;
    auto parsed = LoadModelConfig(out);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->architecture, architecture);
    ASSERT_TRUE(parsed->liger.has_value());
    EXPECT_EQ(parsed->liger->variant, variant);
    EXPECT_EQ(json::parse(ReadBytes(out + "/config.json"))["model_type"],
              std::string("liger_") + variant);
  }
}

// A converted checkpoint converts again: the base model stays, the old options are replaced.
TEST_F(ConverterTest, ReconvertingKeepsTheBaseModelType) {
  TinyCheckpoint checkpoint(Model(), /*sharded=*/false);
  ConversionOptions gla;
  gla.softmax_layers = {1};
  gla.window = 16;
  ASSERT_TRUE(ConvertCheckpoint(Model(), root_.File("gla"), gla).ok());
  ConversionOptions gsa;
  gsa.variant = "gsa";
  ASSERT_TRUE(ConvertCheckpoint(root_.File("gla"), Output(), gsa).ok());

  const json converted = json::parse(ReadBytes(Output() + "/config.json"));
  EXPECT_EQ(converted["model_type"], "liger_gsa");
  EXPECT_EQ(converted["liger"]["base_model_type"], "llama");
  EXPECT_EQ(converted["liger"]["window"], 64);
  EXPECT_EQ(converted["liger"]["softmax_layers"], json::array());
  EXPECT_EQ(converted["custom_field"], TinyConfig()["custom_field"]);
  auto parsed = LoadModelConfig(Output());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->model_type, "llama");
  EXPECT_EQ(parsed->liger->variant, "gsa");
  ExpectSameTensors(Model(), Output());
}

TEST_F(ConverterTest, ShardedCheckpointCopiesShardsAndIndex) {
  TinyCheckpoint checkpoint(Model(), /*sharded=*/true);
  auto result = ConvertCheckpoint(Model(), Output(), ConversionOptions());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->tensors_copied, 3);
  EXPECT_THAT(ListDir(Output()),
              ElementsAre("config.json", "generation_config.json", kConvertShard1, kConvertShard2,
                          kConvertIndex, "special_tokens_map.json", "tokenizer.json",
                          "tokenizer.model"));
  for (const char* file : {kConvertShard1, kConvertShard2, kConvertIndex, "tokenizer.json",
                           "tokenizer.model", "special_tokens_map.json"}) {
    EXPECT_EQ(ReadBytes(Model() + "/" + file), ReadBytes(Output() + "/" + file)) << file;
  }
  ExpectSameTensors(Model(), Output());
}

TEST_F(ConverterTest, ExistingOutputIsAlreadyExistsAndUntouched) {
  TinyCheckpoint checkpoint(Model(), /*sharded=*/false);
  fs::create_directory(Output());
  WriteBytes(Output() + "/keep.txt", "mine");
  auto result = ConvertCheckpoint(Model(), Output(), ConversionOptions());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(ListDir(Output()), ElementsAre("keep.txt"));
  EXPECT_EQ(ReadBytes(Output() + "/keep.txt"), "mine");

  // An empty directory would be silently replaced by a plain rename.
  fs::remove(Output() + "/keep.txt");
  EXPECT_EQ(ConvertCheckpoint(Model(), Output(), ConversionOptions()).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(ListDir(Output()).empty());
  fs::remove(Output());

  WriteBytes(Output(), "a file");
  EXPECT_EQ(ConvertCheckpoint(Model(), Output(), ConversionOptions()).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadBytes(Output()), "a file");
  EXPECT_EQ(ConvertCheckpoint(Model(), Model(), ConversionOptions()).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(ConverterTest, InvalidOptionsAreInvalidArgumentNamingTheField) {
  TinyCheckpoint checkpoint(Model(), /*sharded=*/false);
  struct Case {
    const char* field;
    void (*set)(ConversionOptions&);
  };
  const Case cases[] = {
      {"variant", [](ConversionOptions& o) { o.variant = "mamba2"; }},
      {"variant", [](ConversionOptions& o) { o.variant = ""; }},
      {"window", [](ConversionOptions& o) { o.window = 0; }},
      {"window", [](ConversionOptions& o) { o.window = -3; }},
      {"mix", [](ConversionOptions& o) { o.mix = 1.5; }},
      {"mix", [](ConversionOptions& o) { o.mix = -0.1; }},
      {"mix", [](ConversionOptions& o) { o.mix = std::nan(""); }},
      {"softmax_layers", [](ConversionOptions& o) { o.softmax_layers = {4}; }},
      {"softmax_layers", [](ConversionOptions& o) { o.softmax_layers = {-1}; }},
      {"softmax_layers", [](ConversionOptions& o) { o.softmax_layers = {2, 2}; }},
      {"gate_normalizer", [](ConversionOptions& o) { o.gate_normalizer = 0; }},
      {"gsa_slots", [](ConversionOptions& o) { o.gsa_slots = 0; }},
      {"chunk_size", [](ConversionOptions& o) { o.chunk_size = 0; }},
  };
  for (const Case& c : cases) {
    ConversionOptions options;
    c.set(options);
    auto result = ConvertCheckpoint(Model(), Output(), options);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(std::string(result.status().message()), HasSubstr(c.field));
    ExpectNothingWritten();
  }
}

TEST_F(ConverterTest, MissingOrCorruptInputFailsWithoutOutput) {
  struct Case {
    const char* what;
    absl::StatusCode code;
    void (*damage)(const std::string& model);
  };
  const Case cases[] = {
      {"no model directory", absl::StatusCode::kNotFound,
       [](const std::string& m) { fs::remove_all(m); }},
      {"no config.json", absl::StatusCode::kNotFound,
       [](const std::string& m) { fs::remove(m + "/config.json"); }},
      {"config.json not JSON", absl::StatusCode::kInvalidArgument,
       [](const std::string& m) { WriteBytes(m + "/config.json", "{\"model_type\": "); }},
      {"unsupported model", absl::StatusCode::kInvalidArgument,
       [](const std::string& m) {
         json c = TinyConfig();
         c["model_type"] = "gpt2";
         WriteBytes(m + "/config.json", c.dump());
       }},
      {"no weights", absl::StatusCode::kNotFound,
       [](const std::string& m) {
         fs::remove(m + "/" + kConvertShard1);
         fs::remove(m + "/" + kConvertShard2);
         fs::remove(m + "/" + kConvertIndex);
       }},
      {"truncated shard", absl::StatusCode::kDataLoss,
       [](const std::string& m) { fs::resize_file(m + "/" + kConvertShard2, 20); }},
      {"missing shard", absl::StatusCode::kNotFound,
       [](const std::string& m) { fs::remove(m + "/" + kConvertShard1); }},
      {"corrupt index", absl::StatusCode::kDataLoss,
       [](const std::string& m) { WriteBytes(m + "/" + kConvertIndex, "[]"); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    fs::remove_all(Model());
    TinyCheckpoint checkpoint(Model(), /*sharded=*/true);
    c.damage(Model());
    auto result = ConvertCheckpoint(Model(), Output(), ConversionOptions());
    EXPECT_EQ(result.status().code(), c.code) << result.status();
    std::vector<std::string> left = root_.List();
    EXPECT_TRUE(left.empty() || left == std::vector<std::string>{"model"}) << left.size();
  }
  TinyCheckpoint checkpoint(Model(), /*sharded=*/false);
  EXPECT_EQ(ConvertCheckpoint(Model(), root_.File("missing/out"), ConversionOptions())
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ConvertCheckpoint(Model(), "", ConversionOptions()).status().code(),
            absl::StatusCode::kInvalidArgument);
  ExpectNothingWritten();
}

// Failures after files were already copied remove the partial output.
TEST_F(ConverterTest, FailuresDuringTheCopyLeaveNothingBehind) {
  TinyCheckpoint checkpoint(Model(), /*sharded=*/true);
  int calls = 0;
  auto cancelled = ConvertCheckpoint(Model(), Output(), ConversionOptions(),
                                     [&calls](const ConversionProgress&) {
                                       return ++calls == 2 ? absl::CancelledError("client left")
                                                           : absl::OkStatus();
                                     });
  EXPECT_EQ(cancelled.status().code(), absl::StatusCode::kCancelled);
  ExpectNothingWritten();

  // Another writer creates the output while the conversion runs: theirs is kept.
  auto raced = ConvertCheckpoint(Model(), Output(), ConversionOptions(),
                                 [this](const ConversionProgress& p) {
                                   if (p.file_name == "config.json") {
                                     fs::create_directory(Output());
                                   }
                                   return absl::OkStatus();
                                 });
  EXPECT_EQ(raced.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(root_.List(), ElementsAre("model", "out"));
  EXPECT_TRUE(ListDir(Output()).empty());
  fs::remove(Output());

  fs::remove(Model() + "/tokenizer.json");
  fs::create_directory(Model() + "/tokenizer.json");
  EXPECT_EQ(ConvertCheckpoint(Model(), Output(), ConversionOptions()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ExpectNothingWritten();
}

}  // namespace
}  // namespace liger
