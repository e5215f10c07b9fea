// Fine-tuning checkpoints on a file system that fills up (a small tmpfs): a save that hits ENOSPC
// is RESOURCE_EXHAUSTED naming the file, leaves the previous checkpoint intact and no temporary
// file behind, and a run resumed from that checkpoint once there is room again ends as an
// uninterrupted one does. Skipped without the privilege to mount.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/convert/converter.h"
#include "core/eval/text_corpus.h"
#include "core/model/model_loader.h"
#include "core/train/fine_tune.h"
#include "core/train/training_checkpoint.h"
#include "nlohmann/json.hpp"
#include "tests/core/io/temp_dir.h"
#include "tests/support/tmpfs_mount.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

namespace fs = std::filesystem;
using ::liger::testing::FixtureModel;
using ::liger::testing::SharedDir;
using ::liger::testing::TempDir;
using ::liger::testing::TmpfsMount;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// A checkpoint of a few hundred kilobytes whose every tensor is filled with `value`.
TrainingCheckpoint MakeCheckpoint(int64_t step, float value) {
  TrainingCheckpoint c;
  c.step = step;
  c.next_sequence = step * 2;
  c.tokens_processed = step * 128;
  c.options = nlohmann::json{{"learning_rate", 1e-3}};
  for (const char* name : {"layers.0.q_proj.lora_A", "layers.0.q_proj.lora_B"}) {
    c.adapter.emplace_back(name, torch::full({128, 128}, value));
    c.optimizer[name] = AdamMoments{step, torch::full({128, 128}, value / 2),
                                    torch::full({128, 128}, value / 4)};
  }
  c.cpu_rng_state = torch::full({16}, static_cast<int64_t>(step), torch::kUInt8);
  return c;
}

void ExpectCheckpoint(const std::string& dir, int64_t step, float value) {
  absl::StatusOr<TrainingCheckpoint> loaded = LoadTrainingCheckpoint(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, step);
  EXPECT_EQ(loaded->next_sequence, step * 2);
  ASSERT_EQ(loaded->adapter.size(), 2u);
  for (const auto& [name, tensor] : loaded->adapter) {
    EXPECT_TRUE(torch::equal(tensor, torch::full({128, 128}, value))) << name;
    EXPECT_TRUE(torch::equal(loaded->optimizer.at(name).exp_avg, torch::full({128, 128}, value / 2)));
  }
}

void ExpectNoSpace(const absl::Status& status, const std::string& file) {
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(status.message(), HasSubstr(file));
  EXPECT_THAT(status.message(), HasSubstr("No space left on device"));
}

TEST(TrainingCheckpointFullDiskTest, AFailedSaveKeepsThePreviousCheckpoint) {
  auto mounted = TmpfsMount::Create(4 << 20);
  if (absl::IsPermissionDenied(mounted.status())) GTEST_SKIP() << mounted.status();
  ASSERT_TRUE(mounted.ok()) << mounted.status();
  TmpfsMount& disk = **mounted;
  const std::string dir = disk.File("run.resume");
  ASSERT_TRUE(SaveTrainingCheckpoint(dir, MakeCheckpoint(3, 0.5f)).ok());
  ASSERT_TRUE(disk.Fill().ok());

  ExpectNoSpace(SaveTrainingCheckpoint(dir, MakeCheckpoint(4, 0.25f)),
                dir + "/checkpoint.safetensors");
  EXPECT_THAT(ListDir(dir), ElementsAre("checkpoint.safetensors"));  // no temporary file
  ExpectCheckpoint(dir, 3, 0.5f);

  // With room again the next save goes through.
  disk.Free();
  ASSERT_TRUE(SaveTrainingCheckpoint(dir, MakeCheckpoint(4, 0.25f)).ok());
  EXPECT_THAT(ListDir(dir), ElementsAre("checkpoint.safetensors"));
  ExpectCheckpoint(dir, 4, 0.25f);
}

TEST(TrainingCheckpointFullDiskTest, AFailedFirstSaveLeavesNoCheckpointDirectory) {
  auto mounted = TmpfsMount::Create(1 << 20);
  if (absl::IsPermissionDenied(mounted.status())) GTEST_SKIP() << mounted.status();
  ASSERT_TRUE(mounted.ok()) << mounted.status();
  TmpfsMount& disk = **mounted;
  ASSERT_TRUE(disk.Fill().ok());
  const std::string dir = disk.File("run.resume");
  ExpectNoSpace(SaveTrainingCheckpoint(dir, MakeCheckpoint(1, 1.0f)),
                dir + "/checkpoint.safetensors");
  // An empty directory would make a fresh run refuse to start (it would take it for an
  // interrupted run's checkpoint) while a resume found nothing to resume.
  EXPECT_THAT(ListDir(disk.path()), ElementsAre(TmpfsMount::kFillerName));
}

// Writes the first `count` documents of `corpus`, each cut to `chars` characters, as JSONL.
void WriteCorpusSlice(const std::string& corpus, const std::string& path, size_t count,
                      size_t chars) {
  auto texts = ReadJsonlTexts(corpus);
  ASSERT_TRUE(texts.ok()) << texts.status();
  ASSERT_GE(texts->size(), count);
  std::ofstream out(path);
  for (size_t i = 0; i < count; ++i) {
    out << nlohmann::json{{"text", (*texts)[i].substr(0, chars)}}.dump() << "\n";
  }
}

class FineTuneFullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ConversionOptions conversion;
    conversion.variant = "gla";
    auto converted = ConvertCheckpoint(FixtureModel("llama3-tiny"), model_, conversion);
    ASSERT_TRUE(converted.ok()) << converted.status();
    WriteCorpusSlice(SharedDir() + "/data/corpus-train.jsonl", train_, 2, 1000);
  }

  FineTuneOptions Options(const std::string& output_dir) const {
    FineTuneOptions o;
    o.model_dir = model_;
    o.train_data = train_;
    o.output_dir = output_dir;
    o.sequence_length = 64;
    o.micro_batch_size = 1;
    o.gradient_accumulation_steps = 2;
    o.lora.dropout = 0.1;  // randomness the checkpoint must restore
    o.epochs = 0;
    o.max_steps = 4;
    o.save_every_steps = 1;
    o.seed = 3;
    return o;
  }

  TempDir root_;
  std::string model_ = root_.File("gla");
  std::string train_ = root_.File("train.jsonl");
};

TEST_F(FineTuneFullDiskTest, ARunThatFillsTheDiskResumesFromItsLastCheckpoint) {
  // Room for the checkpoints and, later, the published model (about 15 MB).
  auto mounted = TmpfsMount::Create(32 << 20);
  if (absl::IsPermissionDenied(mounted.status())) GTEST_SKIP() << mounted.status();
  ASSERT_TRUE(mounted.ok()) << mounted.status();
  TmpfsMount& disk = **mounted;
  std::vector<double> whole;
  FineTuneOptions o = Options(root_.File("whole"));
  auto uninterrupted = RunFineTune(o, [&](const FineTuneProgress& p) {
    whole.push_back(p.loss);
    return absl::OkStatus();
  });
  ASSERT_TRUE(uninterrupted.ok()) << uninterrupted.status();
  ASSERT_EQ(whole.size(), 4u);

  // The disk fills up after step 1's checkpoint, so step 2's cannot be written.
  o = Options(disk.File("out"));
  const std::string resume_dir = FineTuneResumeDir(o.output_dir);
  auto failed = RunFineTune(o, [&](const FineTuneProgress& p) {
    if (p.step == 2) {
      absl::StatusOr<uint64_t> filled = disk.Fill();
      EXPECT_TRUE(filled.ok()) << filled.status();
    }
    return absl::OkStatus();
  });
  ExpectNoSpace(failed.status(), resume_dir + "/checkpoint.safetensors");
  EXPECT_THAT(ListDir(disk.path()), UnorderedElementsAre(TmpfsMount::kFillerName, "out.resume"));
  EXPECT_THAT(ListDir(resume_dir), ElementsAre("checkpoint.safetensors"));
  absl::StatusOr<TrainingCheckpoint> kept = LoadTrainingCheckpoint(resume_dir);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->step, 1);

  // Resumed once there is room, it redoes step 2 onwards exactly as the uninterrupted run did.
  disk.Free();
  o.resume = true;
  std::vector<int64_t> steps;
  std::vector<double> losses;
  auto resumed = RunFineTune(o, [&](const FineTuneProgress& p) {
    steps.push_back(p.step);
    losses.push_back(p.loss);
    return absl::OkStatus();
  });
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(steps, (std::vector<int64_t>{2, 3, 4}));
  for (size_t i = 0; i < losses.size(); ++i) EXPECT_NEAR(losses[i], whole[i + 1], 1e-4) << i;
  EXPECT_THAT(ListDir(disk.path()), ElementsAre("out"));
  EXPECT_TRUE(LoadModel(o.output_dir, ModelLoadOptions()).ok());
}

}  // namespace
}  // namespace liger
