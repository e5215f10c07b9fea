#include "core/tokenizer/sentencepiece_engine.h"

#include <gtest/gtest.h>

#include "tests/core/tokenizer/test_util.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

class SentencePieceEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<SentencePieceEngine>> engine = SentencePieceEngine::Load(
        testing::ReadWholeFile(testing::FixtureModel("mistral-tiny") + "/tokenizer.model"),
        "mistral-tiny");
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
  }
  std::unique_ptr<SentencePieceEngine> engine_;
};

TEST_F(SentencePieceEngineTest, ModelFacts) {
  // models/README.md: 4096 pieces, BOS id 1, EOS id 2.
  EXPECT_EQ(engine_->PieceCount(), 4096);
  EXPECT_EQ(engine_->BosId(), 1);
  EXPECT_EQ(engine_->EosId(), 2);
  EXPECT_TRUE(engine_->IsControl(1));
  EXPECT_TRUE(engine_->IsControl(2));
}

TEST_F(SentencePieceEngineTest, PiecesAndIdsRoundTrip) {
  for (int32_t id = 0; id < engine_->PieceCount(); ++id) {
    const std::string_view piece = engine_->IdToPiece(id);
    ASSERT_FALSE(piece.empty()) << id;
    ASSERT_EQ(engine_->PieceToId(piece), id) << piece;
  }
  EXPECT_EQ(engine_->PieceToId("no such piece in the model"), -1);
}

TEST_F(SentencePieceEngineTest, IdsOutOfRangeAreRejected) {
  for (int32_t id : {-1, 4096, 1 << 30}) {
    EXPECT_TRUE(engine_->IdToPiece(id).empty()) << id;
    EXPECT_FALSE(engine_->IsControl(id)) << id;
    const std::vector<int32_t> ids{id};
    absl::StatusOr<std::string> text = engine_->Decode(ids);
    ASSERT_FALSE(text.ok()) << id;
    EXPECT_EQ(text.status().code(), absl::StatusCode::kInternal);
  }
}

TEST_F(SentencePieceEngineTest, EmptyInputs) {
  absl::StatusOr<std::vector<int32_t>> ids = engine_->Encode("");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_TRUE(ids->empty());
  absl::StatusOr<std::string> text = engine_->Decode({});
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "");
}

TEST(SentencePieceEngineLoadTest, InvalidModelIsInvalidArgumentNamingSource) {
  absl::StatusOr<std::unique_ptr<SentencePieceEngine>> engine =
      SentencePieceEngine::Load("this is not a protobuf", "bad.model");
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(engine.status().message().find("bad.model"), std::string::npos) << engine.status();
}

}  // namespace
}  // namespace liger
