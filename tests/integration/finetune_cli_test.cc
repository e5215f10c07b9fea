// `liger finetune` through the real binary: a few steps on the llama3-tiny fixture converted to
// GLA, whose output `liger generate` then serves; flag errors; SIGINT stopping with a checkpoint.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
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

class FineTuneCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTestScratchDir("liger-finetune-cli");
    model_ = (dir_ / "gla").string();
    CommandResult convert = Liger({"convert", "--model", FixtureModel("llama3-tiny"), "--output",
                                   model_, "--variant", "gla"});
    ASSERT_EQ(convert.exit_code, 0) << convert.err;
    train_ = (dir_ / "train.jsonl").string();
    valid_ = (dir_ / "valid.jsonl").string();
    WriteSlice(SharedDir() + "/data/corpus-train.jsonl", train_, 3, 1000);
    WriteSlice(SharedDir() + "/data/corpus-valid.jsonl", valid_, 1, 600);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The first `count` documents of `corpus`, each cut to `chars` characters.
  static void WriteSlice(const std::string& corpus, const std::string& path, int count,
                         size_t chars) {
    std::ifstream in(corpus);
    std::ofstream out(path);
    std::string line;
    for (int i = 0; i < count && std::getline(in, line); ++i) {
      std::string text = nlohmann::json::parse(line)["text"];
      out << nlohmann::json{{"text", text.substr(0, chars)}}.dump() << "\n";
    }
  }

  CommandResult Liger(std::vector<std::string> args) {
    args.insert(args.begin(), LigerBinary());
    return RunCommand(args);
  }

  std::vector<std::string> FineTuneArgs(const std::string& output) const {
    return {"finetune", "--model", model_, "--data", train_, "--output", output};
  }

  // A quick run: short sequences, two per step, two adapted projections.
  std::vector<std::string> QuickFineTuneArgs(const std::string& output) const {
    std::vector<std::string> args = FineTuneArgs(output);
    args.insert(args.end(), {"--seq-len", "32", "--batch-size", "2", "--lr", "5e-3", "--targets",
                             "q,v"});
    return args;
  }

  fs::path dir_;
  std::string model_, train_, valid_;
};

TEST_F(FineTuneCliTest, TrainsAndTheOutputGenerates) {
  const std::string out = (dir_ / "tuned").string();
  std::vector<std::string> args = QuickFineTuneArgs(out);
  args.insert(args.end(), {"--valid", valid_, "--max-steps", "4", "--eval-every", "2"});
  CommandResult r = Liger(args);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(r.err, "");
  const std::regex step_line(
      "step (\\d)/4 epoch 1 loss [0-9.]+ lr 0\\.005 tok/s [0-9]+( eval ppl [0-9.]+)?");
  std::istringstream lines(r.out);
  std::string line;
  int steps = 0;
  while (std::getline(lines, line) && std::regex_search(line, std::regex("^step "))) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, step_line)) << line;
    EXPECT_EQ(std::stoi(m[1].str()), ++steps);
    EXPECT_EQ(m[2].matched, steps % 2 == 0) << line;  // evaluated every 2 steps
  }
  EXPECT_EQ(steps, 4);
  EXPECT_EQ(line, "fine-tuned model written to " + out);
  EXPECT_TRUE(fs::exists(out + "/adapter_model.safetensors"));
  EXPECT_TRUE(fs::exists(out + "/adapter_config.json"));
  EXPECT_FALSE(fs::exists(out + ".resume"));

  CommandResult generate =
      Liger({"generate", "--model", out, "--prompt", "The ship sailed", "--max-tokens", "8"});
  ASSERT_EQ(generate.exit_code, 0) << generate.err;
  EXPECT_NE(generate.out, "");
}

TEST_F(FineTuneCliTest, BadFlagsFailCleanly) {
  const std::string out = (dir_ / "tuned").string();
  struct Case {
    std::vector<std::string> extra;
    std::string mentions;
  };
  for (const Case& c : std::vector<Case>{{{"--micro-batch", "3"}, "--batch-size"},
                                         {{"--schedule", "linear"}, "--schedule"},
                                         {{"--targets", "q,nope"}, "nope"},
                                         {{"--seq-len", "9999"}, "sequence_length"},
                                         {{"--lora-rank", "x"}, "--lora-rank"},
                                         {{"--distill", "x"}, "--distill"},
                                         {{"--distill", "-1"}, "distill_weight"}}) {
    std::vector<std::string> args = FineTuneArgs(out);
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    CommandResult r = Liger(args);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(r.err.rfind("liger finetune: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.mentions), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out));
  }
}

TEST_F(FineTuneCliTest, DistillReportsTheKlOfEachStep) {
  const std::string out = (dir_ / "tuned").string();
  std::vector<std::string> args = QuickFineTuneArgs(out);
  args.insert(args.end(), {"--max-steps", "2", "--distill", "0.5"});
  CommandResult r = Liger(args);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const std::regex step_line(
      "step \\d/2 epoch 1 loss [0-9.]+ lr 0\\.005 tok/s [0-9]+ distill kl ([0-9.]+)");
  std::istringstream lines(r.out);
  std::string line;
  int steps = 0;
  while (std::getline(lines, line) && std::regex_search(line, std::regex("^step "))) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, step_line)) << line;
    EXPECT_GT(std::stod(m[1].str()), 0) << line;
    ++steps;
  }
  EXPECT_EQ(steps, 2);
  EXPECT_TRUE(fs::exists(out + "/adapter_model.safetensors"));

  // The teacher of an unconverted model would be the model itself.
  args = QuickFineTuneArgs((dir_ / "plain").string());
  args[2] = FixtureModel("llama3-tiny");
  args.insert(args.end(), {"--distill", "0.5"});
  r = Liger(args);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("distill needs a converted model"), std::string::npos) << r.err;
}

TEST_F(FineTuneCliTest, SigintStopsWithACheckpoint) {
  const std::string out = (dir_ / "tuned").string();
  std::vector<std::string> args = QuickFineTuneArgs(out);
  args.insert(args.end(), {"--max-steps", "1000000"});
  args.insert(args.begin(), {"/usr/bin/timeout", "--preserve-status", "-s", "INT", "6",
                             LigerBinary()});
  CommandResult r = RunCommand(args);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("liger finetune: fine-tuning stopped after step ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(out + ".resume/checkpoint.safetensors"));
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace liger
