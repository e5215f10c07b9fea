// Reading JSONL training data, packing it into sequences with masked labels, and the per-epoch
// shuffle.
#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/train/epoch_order.h"
#include "core/train/packed_sequences.h"
#include "core/train/training_documents.h"
#include "tests/core/io/temp_dir.h"
#include "tests/core/train/byte_test_tokenizer.h"

namespace liger {
namespace {

using ::liger::testing::ByteTestTokenizer;
using ::liger::testing::TempDir;

class TrainingDataTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& content) {
    const std::string path = dir_.File("data.jsonl");
    std::ofstream(path, std::ios::trunc) << content;
    return path;
  }

  absl::StatusOr<std::vector<TrainingDocument>> Read(const std::string& content,
                                                     bool add_bos = true) {
    return ReadTrainingDocuments(Write(content), ByteTestTokenizer(add_bos));
  }

  void ExpectError(const std::string& content, const std::string& where,
                   const std::string& mentions, bool add_bos = true) {
    auto documents = Read(content, add_bos);
    ASSERT_FALSE(documents.ok()) << content;
    EXPECT_EQ(documents.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(documents.status().message());
    EXPECT_EQ(message.rfind(dir_.File("data.jsonl") + where, 0), 0u) << message;
    EXPECT_NE(message.find(mentions), std::string::npos) << message;
  }

  TempDir dir_;
};

std::vector<int32_t> Bytes(const std::string& text) {
  std::vector<int32_t> ids;
  for (unsigned char c : text) ids.push_back(c + 3);
  return ids;
}

TEST_F(TrainingDataTest, TextDocumentsAreBosTextEosAllTrained) {
  auto documents = Read("{\"text\": \"ab\", \"id\": 7}\n\n  \n{\"text\": \"c\"}");
  ASSERT_TRUE(documents.ok()) << documents.status();
  ASSERT_EQ(documents->size(), 2u);
  EXPECT_EQ((*documents)[0].tokens, (std::vector<int32_t>{0, 'a' + 3, 'b' + 3, 1}));
  EXPECT_EQ((*documents)[0].trained, (std::vector<uint8_t>{1, 1, 1, 1}));
  EXPECT_EQ((*documents)[1].tokens, (std::vector<int32_t>{0, 'c' + 3, 1}));
}

TEST_F(TrainingDataTest, InstructionDocumentsTrainOnlyTheResponse) {
  auto documents = Read(
      "{\"instruction\": \"Add\", \"input\": \"1 2\", \"output\": \"3\"}\n"
      "{\"instruction\": \"Hi\", \"output\": \"yo\", \"text\": \"ignored\"}\n"
      "{\"instruction\": \"Hi\", \"input\": \"\", \"output\": \"yo\"}\n");
  ASSERT_TRUE(documents.ok()) << documents.status();
  ASSERT_EQ(documents->size(), 3u);
  const std::string prompt = FormatInstructionPrompt("Add", "1 2");
  EXPECT_EQ(prompt, "### Instruction:\nAdd\n\n### Input:\n1 2\n\n### Response:\n");
  std::vector<int32_t> expected = {0};
  for (int32_t id : Bytes(prompt)) expected.push_back(id);
  expected.push_back('3' + 3);
  expected.push_back(1);
  EXPECT_EQ((*documents)[0].tokens, expected);
  std::vector<uint8_t> trained(expected.size(), 0);
  trained[trained.size() - 2] = 1;
  trained[trained.size() - 1] = 1;
  EXPECT_EQ((*documents)[0].trained, trained);
  // Without (or with an empty) input the prompt has no input section.
  EXPECT_EQ(FormatInstructionPrompt("Hi", ""), "### Instruction:\nHi\n\n### Response:\n");
  EXPECT_EQ((*documents)[1].tokens, (*documents)[2].tokens);
  EXPECT_EQ(std::count((*documents)[1].trained.begin(), (*documents)[1].trained.end(), 1), 3);
}

TEST_F(TrainingDataTest, ErrorsNameTheFileAndLine) {
  ExpectError("{\"text\": \"ok\"}\n{\"text\": \"ok\"\n", ":2: ", "invalid JSON");
  ExpectError("\n[1, 2]\n", ":2: ", "not a JSON object");
  ExpectError("{\"text\": \"ok\"}\n{\"txt\": \"x\"}\n", ":2: ", "\"text\"");
  ExpectError("{\"text\": 5}\n", ":1: ", "\"text\" is not a string");
  ExpectError("{\"instruction\": \"a\"}\n", ":1: ", "\"output\"");
  ExpectError("{\"output\": \"a\"}\n", ":1: ", "\"instruction\"");
  ExpectError("{\"instruction\": \"a\", \"output\": \"b\", \"input\": 3}\n", ":1: ",
              "\"input\" is not a string");
  ExpectError("{\"instruction\": [], \"output\": \"b\"}\n", ":1: ", "\"instruction\"");
  // Without a BOS, an empty text is EOS alone: nothing to predict.
  ExpectError("{\"text\": \"x\"}\n{\"text\": \"\"}\n", ":2: ", "at least 2", /*add_bos=*/false);
  ExpectError("", ": ", "no documents");
  ExpectError("\n  \n", ": ", "no documents");
}

TEST_F(TrainingDataTest, MissingFileIsNotFound) {
  auto documents = ReadTrainingDocuments(dir_.File("absent.jsonl"), ByteTestTokenizer(true));
  EXPECT_EQ(documents.status().code(), absl::StatusCode::kNotFound);
}

// values as an int64 tensor of `rows` rows.
torch::Tensor Rows(std::vector<int64_t> values, int64_t rows) {
  return torch::tensor(values, torch::kInt64).view({rows, -1});
}

TrainingDocument Doc(std::vector<int32_t> tokens, std::vector<uint8_t> trained) {
  return TrainingDocument{std::move(tokens), std::move(trained)};
}

TEST(PackedSequencesTest, SequencesShareOneTokenAndMaskUntrainedLabels) {
  // Stream: 10 11 12 13 14 | 20 21 22 23 (21 untrained) -> 9 tokens, L = 3: sequences start at
  // 0, 3 (6 + 3 = 9 is not < 9, so the tail [6..8] is dropped).
  auto packed = PackedSequences::Pack(
      {Doc({10, 11, 12, 13, 14}, {1, 1, 1, 1, 1}), Doc({20, 21, 22, 23}, {1, 0, 1, 1})}, 3, "f");
  ASSERT_TRUE(packed.ok()) << packed.status();
  ASSERT_EQ(packed->size(), 2);
  const std::vector<int64_t> both = {1, 0};
  auto [inputs, labels] = packed->Batch(both);
  EXPECT_TRUE(inputs.equal(Rows({13, 14, 20, 10, 11, 12}, 2)));
  EXPECT_TRUE(labels.equal(Rows({14, 20, kUntrainedLabel, 11, 12, 13}, 2)));
  EXPECT_EQ(packed->TrainedLabels(both), 5);
  EXPECT_EQ(packed->TrainedLabels(std::vector<int64_t>{1}), 2);
}

TEST(PackedSequencesTest, DropsSequencesWithoutTrainedLabels) {
  // L = 2: [0..2] labels (1, 2) untrained -> dropped; [2..4] labels (3, 4) has 4 trained.
  auto packed = PackedSequences::Pack({Doc({5, 6, 7, 8, 9}, {0, 0, 0, 0, 1})}, 2, "f");
  ASSERT_TRUE(packed.ok()) << packed.status();
  ASSERT_EQ(packed->size(), 1);
  auto [inputs, labels] = packed->Batch(std::vector<int64_t>{0});
  EXPECT_TRUE(inputs.equal(Rows({7, 8}, 1)));
  EXPECT_TRUE(labels.equal(Rows({kUntrainedLabel, 9}, 1)));
}

TEST(PackedSequencesTest, NoSequenceIsInvalidArgumentNamingTheFile) {
  auto short_data = PackedSequences::Pack({Doc({1, 2, 3}, {1, 1, 1})}, 3, "short.jsonl");
  EXPECT_EQ(short_data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(short_data.status().message().find("short.jsonl"), std::string::npos);
  auto masked = PackedSequences::Pack({Doc({1, 2, 3, 4}, {1, 0, 0, 0})}, 3, "masked.jsonl");
  EXPECT_EQ(masked.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(masked.status().message().find("masked.jsonl"), std::string::npos);
}

TEST(PackedSequencesTest, ChecksumFollowsTokensMaskAndLength) {
  auto a = PackedSequences::Pack({Doc({1, 2, 3, 4, 5}, {1, 1, 1, 1, 1})}, 2, "f");
  auto b = PackedSequences::Pack({Doc({1, 2, 3, 4, 5}, {1, 1, 1, 1, 1})}, 2, "f");
  auto other_token = PackedSequences::Pack({Doc({1, 2, 3, 4, 6}, {1, 1, 1, 1, 1})}, 2, "f");
  auto other_mask = PackedSequences::Pack({Doc({1, 2, 3, 4, 5}, {1, 1, 0, 1, 1})}, 2, "f");
  auto other_length = PackedSequences::Pack({Doc({1, 2, 3, 4, 5}, {1, 1, 1, 1, 1})}, 4, "f");
  ASSERT_TRUE(a.ok() && b.ok() && other_token.ok() && other_mask.ok() && other_length.ok());
  EXPECT_EQ(a->Checksum(), b->Checksum());
  EXPECT_NE(a->Checksum(), other_token->Checksum());
  EXPECT_NE(a->Checksum(), other_mask->Checksum());
  EXPECT_NE(a->Checksum(), other_length->Checksum());
}

TEST(EpochOrderTest, IsASeededPermutationThatChangesEachEpoch) {
  const std::vector<int64_t> first = EpochOrder(100, 42, 0);
  EXPECT_EQ(first, EpochOrder(100, 42, 0));
  std::vector<int64_t> sorted = first;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 100; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_NE(first, EpochOrder(100, 42, 1));
  EXPECT_NE(first, EpochOrder(100, 43, 0));
  // Not the identity: it really shuffles.
  std::vector<int64_t> identity(100);
  for (int64_t i = 0; i < 100; ++i) identity[i] = i;
  EXPECT_NE(first, identity);
  EXPECT_EQ(EpochOrder(1, 5, 3), std::vector<int64_t>{0});
  EXPECT_TRUE(EpochOrder(0, 5, 3).empty());
}

TEST(EpochOrderTest, EveryPositionIsReachable) {
  // Over many epochs each sequence lands first at least once (a biased draw would skip some).
  std::set<int64_t> firsts;
  for (int64_t epoch = 0; epoch < 200; ++epoch) firsts.insert(EpochOrder(7, 1, epoch).front());
  EXPECT_EQ(firsts.size(), 7u);
}

}  // namespace
}  // namespace liger
