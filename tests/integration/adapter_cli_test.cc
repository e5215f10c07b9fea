// `--adapter DIR` through the real binary: logits, eval and generate with a LoRA adapter give what
// the merged checkpoint gives; bad adapters and --server with --adapter fail with one line.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "core/io/safetensors_file.h"
#include "core/model/model_config.h"
#include "core/model/tensor_conversion.h"
#include "core/train/lora_adapters.h"
#include "tests/core/train/lora_test_models.h"
#include "tests/integration/command_runner.h"
#include "tests/test_device.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

namespace fs = std::filesystem;
using ::liger::testing::CommandResult;
using ::liger::testing::FixtureModel;
using ::liger::testing::LigerBinary;
using ::liger::testing::MakeTestScratchDir;
using ::liger::testing::RunCommand;
using ::liger::testing::TestDeviceName;

class AdapterCliTest : public ::testing::Test {
 protected:
  // A random (non-identity) adapter for llama3-tiny, and the checkpoint merged with it.
  void SetUp() override {
    dir_ = MakeTestScratchDir("liger-adapter-cli");
    adapter_ = (dir_ / "adapter").string();
    merged_ = (dir_ / "merged").string();
    fs::create_directories(adapter_);
    fs::create_directories(merged_);
    auto config = LoadModelConfig(base_);
    ASSERT_TRUE(config.ok()) << config.status();
    LoraOptions options;
    options.rank = 4;
    options.target_modules = {"q_proj", "v_proj", "o_proj", "down_proj"};
    auto adapters = LoraAdapters::Create(*config, options, torch::kCPU, 11);
    ASSERT_TRUE(adapters.ok()) << adapters.status();
    ::liger::testing::RandomiseLora(**adapters, 12, 0.05);
    ASSERT_TRUE((*adapters)->SaveAdapter(adapter_, base_).ok());
    ASSERT_TRUE(WriteMergedModel(base_, **adapters, merged_).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  CommandResult Liger(std::vector<std::string> args) {
    args.insert(args.begin(), LigerBinary());
    return RunCommand(args);
  }

  // `liger logits` of the fixture's reference input ids [3, 96]; `extra` picks the model.
  torch::Tensor Logits(const std::vector<std::string>& extra, const std::string& name) {
    const std::string out = (dir_ / (name + ".safetensors")).string();
    std::vector<std::string> args = {"logits", "--input",
                                     base_ + "/reference-outputs.safetensors", "--output", out,
                                     "--device", TestDeviceName()};
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult r = Liger(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto file = SafetensorsFile::Open(out);
    if (!file.ok()) return torch::Tensor();
    const TensorView* view = (*file)->Find("logits");
    if (view == nullptr) return torch::Tensor();
    auto logits = ToTensor(*view);
    return logits.ok() ? logits->clone() : torch::Tensor();
  }

  // A failed command exits non-zero with exactly one line on stderr that mentions `mentions`.
  static void ExpectOneLineFailure(const CommandResult& r, const std::string& command,
                                   const std::string& mentions) {
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.exit_code, -1) << "killed by a signal";
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("liger " + command + ": ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(mentions), std::string::npos) << r.err;
  }

  const std::string base_ = FixtureModel("llama3-tiny");
  fs::path dir_;
  std::string adapter_, merged_;
};

TEST_F(AdapterCliTest, LogitsEqualTheMergedCheckpoint) {
  const torch::Tensor adapted = Logits({"--model", base_, "--adapter", adapter_}, "adapted");
  const torch::Tensor merged = Logits({"--model", merged_}, "merged");
  ASSERT_TRUE(adapted.defined() && merged.defined());
  EXPECT_LE((adapted - merged).abs().max().item<double>(), 1e-6);
}

TEST_F(AdapterCliTest, EvalAndGenerateEqualTheMergedCheckpoint) {
  // Two short documents: two 64-token windows keep the run to a moment.
  const std::string data = (dir_ / "valid.jsonl").string();
  {
    std::ifstream in(::liger::testing::SharedDir() + "/data/corpus-valid.jsonl");
    std::ofstream out(data);
    std::string line;
    for (int i = 0; i < 2 && std::getline(in, line); ++i) {
      const std::string text = nlohmann::json::parse(line)["text"];
      out << nlohmann::json{{"text", text.substr(0, 600)}}.dump() << "\n";
    }
  }
  const std::vector<std::string> eval = {"eval", "--data", data, "--seq-len", "64",
                                         "--max-windows", "2", "--device", TestDeviceName()};
  std::vector<std::string> adapted_eval = eval, merged_eval = eval;
  adapted_eval.insert(adapted_eval.end(), {"--model", base_, "--adapter", adapter_});
  merged_eval.insert(merged_eval.end(), {"--model", merged_});
  CommandResult adapted = Liger(adapted_eval);
  CommandResult merged = Liger(merged_eval);
  ASSERT_EQ(adapted.exit_code, 0) << adapted.err;
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_NE(adapted.out.find("perplexity: "), std::string::npos) << adapted.out;
  EXPECT_EQ(adapted.out, merged.out);

  const std::vector<std::string> generate = {"generate", "--prompt-ids", "5,17,300,42",
                                             "--max-tokens", "8", "--min-tokens", "8", "--ids",
                                             "--device", TestDeviceName()};
  std::vector<std::string> adapted_generate = generate, merged_generate = generate;
  adapted_generate.insert(adapted_generate.end(), {"--model", base_, "--adapter", adapter_});
  merged_generate.insert(merged_generate.end(), {"--model", merged_});
  adapted = Liger(adapted_generate);
  merged = Liger(merged_generate);
  ASSERT_EQ(adapted.exit_code, 0) << adapted.err;
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_NE(adapted.out.find("ids: "), std::string::npos) << adapted.out;
  EXPECT_EQ(adapted.out, merged.out);
}

TEST_F(AdapterCliTest, BadAdaptersFailWithOneLine) {
  const std::string input = base_ + "/reference-outputs.safetensors";
  const std::string out = (dir_ / "never.safetensors").string();
  ExpectOneLineFailure(Liger({"logits", "--model", base_, "--adapter", "/nonexistent-adapter",
                              "--input", input, "--output", out}),
                       "logits", "/nonexistent-adapter");
  ExpectOneLineFailure(Liger({"logits", "--model", base_, "--adapter=", "--input", input,
                              "--output", out}),
                       "logits", "--adapter");
  // The adapter has tensors for llama3-tiny's layers 6 and 7, which mistral-tiny lacks.
  ExpectOneLineFailure(Liger({"logits", "--model", FixtureModel("mistral-tiny"), "--adapter",
                              adapter_, "--input", input, "--output", out}),
                       "logits", "another model");
  EXPECT_FALSE(fs::exists(out));
  // The server's models load without adapters; refused before any connection is tried.
  ExpectOneLineFailure(Liger({"generate", "--server", "127.0.0.1:1", "--adapter", adapter_,
                              "--prompt", "hi"}),
                       "generate", "--adapter");
}

}  // namespace
}  // namespace liger
