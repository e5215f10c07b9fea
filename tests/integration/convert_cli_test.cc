// Runs `liger convert` on the llama3-tiny fixture, then serves the result with `liger generate` and
// `liger eval`.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "core/model/model_config.h"
#include "gtest/gtest.h"
#include "tests/integration/command_runner.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

namespace fs = std::filesystem;
using ::liger::testing::CommandResult;
using ::liger::testing::FixtureModel;
using ::liger::testing::LigerBinary;
using ::liger::testing::MakeTestScratchDir;
using ::liger::testing::RunCommand;
using ::liger::testing::SharedDir;

class ConvertCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTestScratchDir("liger-convert-cli");
  }
  void TearDown() override { fs::remove_all(dir_); }

  CommandResult Liger(std::vector<std::string> args) {
    args.insert(args.begin(), LigerBinary());
    return RunCommand(args);
  }

  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path dir_;
};

TEST_F(ConvertCliTest, ConvertedModelGeneratesAndEvaluates) {
  const std::string out = (dir_ / "llama3-tiny-gla").string();
  CommandResult convert = Liger({"convert", "--model", FixtureModel("llama3-tiny"), "--output", out,
                                 "--variant", "gla", "--window", "32", "--softmax-layers", "0,4"});
  ASSERT_EQ(convert.exit_code, 0) << convert.err;
  EXPECT_EQ(convert.err, "");
  EXPECT_NE(convert.out.find("[1/"), std::string::npos) << convert.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(convert.out, m, std::regex("converted .* to (.*) \\(liger_gla\\)")))
      << convert.out;
  EXPECT_EQ(m[1].str(), out);
  auto config = LoadModelConfig(out);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(config->liger.has_value());
  EXPECT_EQ(config->liger->window, 32);
  EXPECT_EQ(config->liger->softmax_layers, (std::vector<int64_t>{0, 4}));

  CommandResult generate = Liger({"generate", "--model", out, "--prompt", "The ship sailed",
                                  "--max-tokens", "5", "--temperature", "0"});
  ASSERT_EQ(generate.exit_code, 0) << generate.err;
  EXPECT_NE(generate.out, "");

  CommandResult eval = Liger({"eval", "--model", out, "--data",
                              SharedDir() + "/data/corpus-valid.jsonl", "--seq-len", "64",
                              "--max-windows", "2"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  ASSERT_TRUE(std::regex_search(eval.out, m, std::regex("perplexity: ([0-9.eE+-]+)\n$")))
      << eval.out;
  const double perplexity = std::stod(m[1].str());
  EXPECT_TRUE(std::isfinite(perplexity)) << perplexity;
  EXPECT_GT(perplexity, 1.0);
}

// Each failure exits non-zero with one line on stderr and leaves no output or partial directory.
TEST_F(ConvertCliTest, FailuresExitNonZeroWithOneLineAndWriteNothing) {
  const std::string model = FixtureModel("llama3-tiny");
  const std::string out = (dir_ / "out").string();
  fs::create_directory(dir_ / "taken");
  struct Case {
    std::vector<std::string> args;
    const char* mentions;
  };
  const Case cases[] = {
      {{"--model", model, "--output", out, "--variant", "mamba2"}, "variant"},
      {{"--model", model, "--output", out, "--variant", "gla", "--window", "0"}, "window"},
      {{"--model", model, "--output", out, "--variant", "gla", "--mix", "1.5"}, "mix"},
      {{"--model", model, "--output", out, "--variant", "gla", "--softmax-layers", "0,8"},
       "softmax_layers"},
      {{"--model", model, "--output", out, "--variant", "gla", "--softmax-layers", "x"},
       "--softmax-layers"},
      {{"--model", model, "--output", out}, "--variant"},
      {{"--model", model, "--variant", "gla"}, "--output"},
      {{"--model", (dir_ / "missing").string(), "--output", out, "--variant", "gla"}, "missing"},
      {{"--model", model, "--output", (dir_ / "taken").string(), "--variant", "gla"},
       "already exists"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"convert"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    CommandResult r = Liger(args);
    EXPECT_NE(r.exit_code, 0) << c.mentions;
    EXPECT_NE(r.exit_code, -1) << "killed by a signal";
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("liger convert: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.mentions), std::string::npos) << r.err;
    EXPECT_EQ(Entries(), std::vector<std::string>{"taken"}) << c.mentions;
  }
}

}  // namespace
}  // namespace liger
