#include "core/io/checkpoint_weights.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/io/safetensors_file.h"
#include "core/io/safetensors_writer.h"
#include "nlohmann/json.hpp"
#include "tests/core/io/temp_dir.h"
#include "tests/core/io/test_files.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

using ::liger::testing::TempDir;
using ::liger::testing::WriteBytes;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kIndex[] = "model.safetensors.index.json";
constexpr char kShard1[] = "model-00001-of-00002.safetensors";
constexpr char kShard2[] = "model-00002-of-00002.safetensors";

// Tensor data: the tensor's name repeated, so each tensor's bytes identify it.
class ShardedCheckpoint {
 public:
  explicit ShardedCheckpoint(const TempDir& dir) : dir_(dir) {}

  void WriteShard(const std::string& file, const std::vector<std::string>& names) {
    std::vector<std::pair<std::string, TensorView>> tensors;
    for (const std::string& name : names) {
      tensors.emplace_back(
          name,
          TensorView{DType::kUInt8, {static_cast<int64_t>(name.size())}, name.data(), name.size()});
    }
    ASSERT_TRUE(WriteSafetensors(dir_.File(file), tensors, {{"format", "pt"}}).ok());
  }

  void WriteIndex(const nlohmann::json& weight_map) {
    WriteBytes(
        dir_.File(kIndex),
        nlohmann::json({{"metadata", {{"total_size", 123}}}, {"weight_map", weight_map}}).dump(2));
  }

  // Two shards: a and b in the first, c in the second.
  void WriteValid() {
    WriteShard(kShard1, {"layer.a", "layer.b"});
    WriteShard(kShard2, {"layer.c"});
    WriteIndex({{"layer.a", kShard1}, {"layer.b", kShard1}, {"layer.c", kShard2}});
  }

 private:
  const TempDir& dir_;
};

void ExpectOpenFails(const std::string& dir, absl::StatusCode code, const std::string& fragment) {
  absl::StatusOr<std::unique_ptr<CheckpointWeights>> weights = CheckpointWeights::Open(dir);
  ASSERT_FALSE(weights.ok());
  EXPECT_EQ(weights.status().code(), code) << weights.status();
  EXPECT_THAT(weights.status().message(), HasSubstr(fragment));
}

TEST(CheckpointWeightsTest, ReadsSingleFileFixture) {
  const std::string dir = liger::testing::FixtureModel("llama3-tiny");
  absl::StatusOr<std::unique_ptr<CheckpointWeights>> weights = CheckpointWeights::Open(dir);
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_EQ((*weights)->dir(), dir);
  EXPECT_THAT((*weights)->files(), ElementsAre("model.safetensors"));

  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::Open(dir + "/model.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  std::vector<std::string> expected;
  for (const auto& entry : (*file)->tensors()) expected.push_back(entry.first);
  EXPECT_EQ((*weights)->names(), expected);
  const TensorView* embed = (*weights)->Find("model.embed_tokens.weight");
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(embed->dtype, DType::kBFloat16);
  EXPECT_THAT(embed->shape, ElementsAre(8192, 256));
  EXPECT_EQ((*weights)->Find("lm_head.weight"), nullptr);
}

TEST(CheckpointWeightsTest, ReadsShardedCheckpoint) {
  TempDir dir;
  ShardedCheckpoint(dir).WriteValid();
  absl::StatusOr<std::unique_ptr<CheckpointWeights>> weights = CheckpointWeights::Open(dir.path());
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_THAT((*weights)->names(), ElementsAre("layer.a", "layer.b", "layer.c"));
  EXPECT_THAT((*weights)->files(), ElementsAre(kShard1, kShard2, kIndex));
  for (const std::string name : {"layer.a", "layer.b", "layer.c"}) {
    const TensorView* view = (*weights)->Find(name);
    ASSERT_NE(view, nullptr) << name;
    EXPECT_EQ(std::string(static_cast<const char*>(view->data), view->nbytes), name);
  }
  EXPECT_EQ((*weights)->Find("layer.d"), nullptr);
}

TEST(CheckpointWeightsTest, TrailingSlashInDirectoryIsAccepted) {
  TempDir dir;
  ShardedCheckpoint(dir).WriteValid();
  absl::StatusOr<std::unique_ptr<CheckpointWeights>> weights =
      CheckpointWeights::Open(dir.path() + "/");
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_EQ((*weights)->dir(), dir.path());
}

TEST(CheckpointWeightsTest, SingleFileWinsOverIndex) {
  TempDir dir;
  ShardedCheckpoint checkpoint(dir);
  checkpoint.WriteValid();
  checkpoint.WriteShard("model.safetensors", {"only"});
  absl::StatusOr<std::unique_ptr<CheckpointWeights>> weights = CheckpointWeights::Open(dir.path());
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_THAT((*weights)->names(), ElementsAre("only"));
  EXPECT_THAT((*weights)->files(), ElementsAre("model.safetensors"));
}

TEST(CheckpointWeightsTest, MissingCheckpointIsNotFound) {
  TempDir dir;
  ExpectOpenFails(dir.path(), absl::StatusCode::kNotFound, dir.path());
  ExpectOpenFails(dir.File("absent"), absl::StatusCode::kNotFound, dir.File("absent"));
  WriteBytes(dir.File("plain"), "x");
  ExpectOpenFails(dir.File("plain"), absl::StatusCode::kFailedPrecondition, "not a directory");
}

TEST(CheckpointWeightsTest, CorruptSingleFileNamesIt) {
  TempDir dir;
  WriteBytes(dir.File("model.safetensors"), "short");
  ExpectOpenFails(dir.path(), absl::StatusCode::kDataLoss, dir.File("model.safetensors"));
}

TEST(CheckpointWeightsTest, MalformedIndexIsDataLoss) {
  TempDir dir;
  ShardedCheckpoint checkpoint(dir);
  checkpoint.WriteValid();
  const std::string index = dir.File(kIndex);
  for (const std::string text :
       {"", "{", "[]", R"({"metadata":{}})", R"({"weight_map":[]})",
        R"({"weight_map":{"layer.a":1}})", R"({"weight_map":{"layer.a":"x","layer.a":"y"}})"}) {
    SCOPED_TRACE(text);
    WriteBytes(index, text);
    ExpectOpenFails(dir.path(), absl::StatusCode::kDataLoss, index);
  }
}

TEST(CheckpointWeightsTest, ShardNamesMustStayInsideTheDirectory) {
  TempDir dir;
  ShardedCheckpoint checkpoint(dir);
  checkpoint.WriteValid();
  for (const std::string shard : {"../model-00001-of-00002.safetensors", "sub/x.safetensors",
                                  "/etc/passwd", "..", ".", "", "a..b"}) {
    SCOPED_TRACE(shard);
    checkpoint.WriteIndex({{"layer.a", kShard1}, {"layer.evil", shard}});
    ExpectOpenFails(dir.path(), absl::StatusCode::kInvalidArgument, "layer.evil");
  }
}

TEST(CheckpointWeightsTest, MissingShardIsNotFound) {
  TempDir dir;
  ShardedCheckpoint checkpoint(dir);
  checkpoint.WriteValid();
  checkpoint.WriteIndex({{"layer.a", kShard1}, {"layer.z", "model-00003.safetensors"}});
  ExpectOpenFails(dir.path(), absl::StatusCode::kNotFound, "model-00003.safetensors");
}

TEST(CheckpointWeightsTest, CorruptShardIsDataLossNamingIt) {
  TempDir dir;
  ShardedCheckpoint checkpoint(dir);
  checkpoint.WriteValid();
  // The header length says 16 bytes follow, but only 2 do.
  WriteBytes(dir.File(kShard2), liger::testing::LittleEndian64(16) + "{}");
  ExpectOpenFails(dir.path(), absl::StatusCode::kDataLoss, kShard2);
}

TEST(CheckpointWeightsTest, TensorMissingFromItsShardIsDataLoss) {
  TempDir dir;
  ShardedCheckpoint checkpoint(dir);
  checkpoint.WriteValid();
  checkpoint.WriteIndex({{"layer.a", kShard1}, {"layer.b", kShard2}, {"layer.c", kShard2}});
  ExpectOpenFails(dir.path(), absl::StatusCode::kDataLoss, "\"layer.b\"");
}

TEST(CheckpointWeightsTest, TensorInTwoShardsIsInvalidArgument) {
  TempDir dir;
  ShardedCheckpoint checkpoint(dir);
  checkpoint.WriteValid();
  checkpoint.WriteShard(kShard2, {"layer.c", "layer.a"});
  ExpectOpenFails(dir.path(), absl::StatusCode::kInvalidArgument, "\"layer.a\" appears in both");
}

TEST(CheckpointWeightsTest, UnmappedShardTensorsAreStillLoaded) {
  TempDir dir;
  ShardedCheckpoint checkpoint(dir);
  checkpoint.WriteValid();
  checkpoint.WriteIndex({{"layer.a", kShard1}, {"layer.c", kShard2}});
  absl::StatusOr<std::unique_ptr<CheckpointWeights>> weights = CheckpointWeights::Open(dir.path());
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_THAT((*weights)->names(), ElementsAre("layer.a", "layer.b", "layer.c"));
}

}  // namespace
}  // namespace liger
