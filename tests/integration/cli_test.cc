// Runs the real `liger` binary on the fixture checkpoints and checks its outputs against the
// references Hugging Face transformers produced.
#include <filesystem>
#include <fstream>
#include <regex>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/command_runner.h"
#include "tests/reference_outputs.h"
#include "tests/test_device.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

namespace fs = std::filesystem;
using ::liger::testing::CommandResult;
using ::liger::testing::FixtureModel;
using ::liger::testing::LigerBinary;
using ::liger::testing::MakeTestScratchDir;
using ::liger::testing::ReferenceOutputs;
using ::liger::testing::RelativeMaxDiff;
using ::liger::testing::RunCommand;
using ::liger::testing::TestDeviceName;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTestScratchDir("liger-cli");
  }
  void TearDown() override { fs::remove_all(dir_); }

  CommandResult Liger(std::vector<std::string> args) {
    args.insert(args.begin(), LigerBinary());
    return RunCommand(args);
  }

  // A failed command exits non-zero with exactly one line on stderr, naming the subcommand.
  void ExpectCleanFailure(const CommandResult& r, const std::string& command,
                          const std::string& mentions) {
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.exit_code, -1) << "killed by a signal";
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("liger " + command + ": ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(mentions), std::string::npos) << r.err;
  }

  fs::path dir_;
};

class CliLogitsTest : public CliTest,
                      public ::testing::WithParamInterface<std::tuple<std::string, std::string>> {};

// The reference file itself holds input_ids [3, 96], so it serves as the input.
TEST_P(CliLogitsTest, MatchesTransformersInFloat32) {
  const auto& [model, mode] = GetParam();
  const std::string ref_path = FixtureModel(model) + "/reference-outputs.safetensors";
  const std::string out = (dir_ / "logits.safetensors").string();
  CommandResult r = Liger({"logits", "--model", FixtureModel(model), "--input", ref_path,
                           "--output", out, "--mode", mode, "--device", TestDeviceName()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto file = SafetensorsFile::Open(out);
  ASSERT_TRUE(file.ok()) << file.status();
  const TensorView* view = (*file)->Find("logits");
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view->dtype, DType::kFloat32);
  auto logits = ToTensor(*view);
  ASSERT_TRUE(logits.ok());
  ReferenceOutputs ref(model);
  torch::Tensor positions = ref.Get("positions").to(torch::kInt64);
  EXPECT_LE(RelativeMaxDiff(logits->index_select(1, positions), ref.Get("logits_at_positions")),
            1e-4);
  EXPECT_TRUE(logits->argmax(-1).to(torch::kInt32).equal(ref.Get("argmax")));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CliLogitsTest,
                         ::testing::Combine(::testing::Values("llama3-tiny", "mistral-tiny"),
                                            ::testing::Values("prefill", "decode")),
                         [](const auto& info) {
                           std::string name = std::get<0>(info.param) + "_" + std::get<1>(info.param);
                           name.erase(std::remove(name.begin(), name.end(), '-'), name.end());
                           return name;
                         });

// Converts a fixture with `liger convert`, then runs `liger logits` on the converted checkpoint
// in both modes: the recurrence (decode) must give what the chunked parallel form (prefill) gives.
class CliLigerLogitsTest
    : public CliTest,
      public ::testing::WithParamInterface<std::tuple<std::string, std::string>> {
 protected:
  torch::Tensor Logits(const std::string& model_dir, const std::string& mode) {
    const std::string out = (dir_ / ("logits-" + mode + ".safetensors")).string();
    CommandResult r = Liger({"logits", "--model", model_dir, "--input",
                             FixtureModel(std::get<0>(GetParam())) + "/reference-outputs.safetensors",
                             "--output", out, "--mode", mode, "--device", TestDeviceName()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto file = SafetensorsFile::Open(out);
    if (!file.ok()) return torch::Tensor();
    const TensorView* view = (*file)->Find("logits");
    if (view == nullptr) return torch::Tensor();
    auto logits = ToTensor(*view);
    return logits.ok() ? logits->clone() : torch::Tensor();
  }
};

TEST_P(CliLigerLogitsTest, DecodeEqualsPrefill) {
  const auto& [model, variant] = GetParam();
  const std::string converted = (dir_ / "converted").string();
  std::vector<std::string> args = {"convert", "--model", FixtureModel(model), "--output", converted,
                                   "--variant", variant == "gla-hybrid" ? "gla" : variant};
  if (variant == "gla-hybrid") args.insert(args.end(), {"--softmax-layers", "0,3"});
  CommandResult r = Liger(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  torch::Tensor prefill = Logits(converted, "prefill");
  torch::Tensor decode = Logits(converted, "decode");
  ASSERT_TRUE(prefill.defined() && decode.defined());
  ASSERT_TRUE(torch::isfinite(prefill).all().item<bool>());
  torch::Tensor lp = torch::log_softmax(prefill.to(torch::kFloat64), -1);
  torch::Tensor lq = torch::log_softmax(decode.to(torch::kFloat64), -1);
  EXPECT_LT((lp.exp() * (lp - lq)).sum(-1).max().item<double>(), 1e-5);
  EXPECT_TRUE(prefill.argmax(-1).equal(decode.argmax(-1)));
}

INSTANTIATE_TEST_SUITE_P(
    Variants, CliLigerLogitsTest,
    ::testing::Combine(::testing::Values("llama3-tiny", "mistral-tiny"),
                       ::testing::Values("gla", "hgrn2", "gsa", "gla-hybrid")),
    [](const auto& info) {
      std::string name = std::get<0>(info.param) + "_" + std::get<1>(info.param);
      name.erase(std::remove(name.begin(), name.end(), '-'), name.end());
      return name;
    });

class CliGreedyTest : public CliTest, public ::testing::WithParamInterface<std::string> {};

// greedy_output was produced with EOS suppressed (min_new_tokens=40), as --min-tokens does.
TEST_P(CliGreedyTest, ReproducesTransformersGreedyOutput) {
  ReferenceOutputs ref(GetParam());
  torch::Tensor prompt = ref.Get("greedy_prompt")[0].to(torch::kInt64);
  torch::Tensor expected = ref.Get("greedy_output")[0].to(torch::kInt64);
  std::vector<int64_t> prompt_ids(prompt.data_ptr<int64_t>(),
                                  prompt.data_ptr<int64_t>() + prompt.numel());
  CommandResult r = Liger({"generate", "--model", FixtureModel(GetParam()), "--prompt-ids",
                           absl::StrJoin(prompt_ids, ","), "--max-tokens",
                           std::to_string(expected.numel()), "--min-tokens", std::to_string(expected.numel()),
                           "--temperature", "0",
                           "--ids", "--device", TestDeviceName()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("ids:([ 0-9]*)\n"))) << r.out;
  std::vector<int64_t> got;
  for (absl::string_view piece : absl::StrSplit(m[1].str(), ' ', absl::SkipEmpty())) {
    got.push_back(std::stoll(std::string(piece)));
  }
  std::vector<int64_t> want(expected.data_ptr<int64_t>(),
                            expected.data_ptr<int64_t>() + expected.numel());
  EXPECT_EQ(got, want);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CliGreedyTest, ::testing::Values("llama3-tiny", "mistral-tiny"),
                         [](const auto& info) {
                           std::string name = info.param;
                           name.erase(std::remove(name.begin(), name.end(), '-'), name.end());
                           return name;
                         });

TEST_F(CliTest, TokenizeMatchesTheReferenceLibrary) {
  std::ifstream cases(FixtureModel("llama3-tiny") + "/tokenizer-cases.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(cases, line));
  auto c = nlohmann::json::parse(line);
  CommandResult r = Liger({"tokenize", "--model", FixtureModel("llama3-tiny"), "--text",
                           c["text"].get<std::string>()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[" + absl::StrJoin(c["ids"].get<std::vector<int>>(), ", ") + "]\n");
}

TEST_F(CliTest, EvalPrintsPerplexityLast) {
  CommandResult r = Liger({"eval", "--model", FixtureModel("mistral-tiny"), "--data",
                           ::liger::testing::SharedDir() + "/data/corpus-valid.jsonl",
                           "--seq-len", "128", "--max-windows", "4", "--device", TestDeviceName()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("perplexity: ([0-9.]+)\n$"))) << r.out;
  const double ppl = std::stod(m[1].str());
  EXPECT_GT(ppl, 1.0);
  EXPECT_LT(ppl, 1000.0);
}

TEST_F(CliTest, FailuresExitNonZeroWithOneLine) {
  const std::string model = FixtureModel("llama3-tiny");
  ExpectCleanFailure(Liger({"logits", "--model", model, "--input", "/nonexistent.safetensors",
                            "--output", (dir_ / "o").string()}),
                     "logits", "/nonexistent.safetensors");
  ExpectCleanFailure(Liger({"tokenize", "--model", (dir_ / "missing").string(), "--text", "x"}),
                     "tokenize", "missing");
  ExpectCleanFailure(Liger({"eval", "--model", model, "--bogus", "1"}), "eval", "--bogus");
  ExpectCleanFailure(Liger({"logits", "--model", model, "--input", "x", "--output", "y", "--mode",
                            "sideways"}),
                     "logits", "sideways");
  ExpectCleanFailure(Liger({"generate", "--model", model, "--prompt", "hi", "--temperature", "-1"}),
                     "generate", "temperature");
  ExpectCleanFailure(Liger({"generate", "--model", model, "--prompt-ids", "1,99999"}), "generate",
                     "99999");
  // A garbage input file is reported, not crashed on.
  const std::string garbage = (dir_ / "garbage.safetensors").string();
  std::ofstream(garbage) << "this is not a safetensors file at all";
  ExpectCleanFailure(Liger({"logits", "--model", model, "--input", garbage, "--output",
                            (dir_ / "o").string()}),
                     "logits", "garbage.safetensors");
  EXPECT_FALSE(fs::exists(dir_ / "o"));
  CommandResult unknown = Liger({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
}

}  // namespace
}  // namespace liger
