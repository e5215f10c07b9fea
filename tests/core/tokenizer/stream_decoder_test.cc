#include "core/tokenizer/stream_decoder.h"

#include <gtest/gtest.h>

#include <random>

#include "core/tokenizer/tokenizer_loader.h"
#include "tests/core/tokenizer/test_util.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

// Streams ids after context and checks the invariant: the pieces add up to exactly what a full
// decode adds, and no piece ends in the middle of a UTF-8 character.
void ExpectStreamMatchesFullDecode(const Tokenizer& tokenizer, const std::vector<int32_t>& context,
                                   const std::vector<int32_t>& ids, bool skip_special,
                                   const std::string& label) {
  StreamDecoder stream(tokenizer, context, skip_special);
  std::string streamed;
  for (int32_t id : ids) {
    absl::StatusOr<std::string> piece = stream.Push(id);
    ASSERT_TRUE(piece.ok()) << label << ": " << piece.status();
    if (!piece->empty()) {
      const auto last = static_cast<unsigned char>(piece->back());
      // A complete piece never ends with a lead byte or inside a multi-byte sequence.
      EXPECT_TRUE(last < 0x80 || (last & 0xC0) == 0x80) << label;
    }
    streamed += *piece;
  }
  absl::StatusOr<std::string> rest = stream.Finish();
  ASSERT_TRUE(rest.ok()) << label << ": " << rest.status();
  streamed += *rest;

  std::vector<int32_t> all = context;
  all.insert(all.end(), ids.begin(), ids.end());
  absl::StatusOr<std::string> full = tokenizer.Decode(all, skip_special);
  absl::StatusOr<std::string> prefix = tokenizer.Decode(context, skip_special);
  ASSERT_TRUE(full.ok() && prefix.ok()) << label;
  ASSERT_EQ(full->compare(0, prefix->size(), *prefix), 0) << label;
  EXPECT_EQ(streamed, full->substr(prefix->size())) << label;
}

class StreamDecoderTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    auto loaded = LoadTokenizer(testing::FixtureModel(GetParam()));
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    tokenizer_ = *std::move(loaded);
    cases_ = testing::ReadTokenizerCases(testing::FixtureModel(GetParam()) +
                                         "/tokenizer-cases.jsonl");
  }
  std::unique_ptr<Tokenizer> tokenizer_;
  std::vector<testing::TokenizerCase> cases_;
};

TEST_P(StreamDecoderTest, EveryFixtureCaseWithAndWithoutContext) {
  for (const auto& c : cases_) {
    const std::string label = std::string(GetParam()) + " line " + std::to_string(c.line);
    // No context beyond BOS, then a prompt as context.
    const std::vector<int32_t> bos(c.ids.begin(), c.ids.begin() + 1);
    const std::vector<int32_t> rest(c.ids.begin() + 1, c.ids.end());
    ExpectStreamMatchesFullDecode(*tokenizer_, bos, rest, true, label);
    ExpectStreamMatchesFullDecode(*tokenizer_, {}, c.ids, false, label + " unskipped");
    auto prompt = tokenizer_->Encode("Once upon a time, ", true);
    ASSERT_TRUE(prompt.ok());
    ExpectStreamMatchesFullDecode(*tokenizer_, *prompt, rest, true, label + " after prompt");
  }
}

TEST_P(StreamDecoderTest, SplitMultibyteCharactersAreHeldBack) {
  // Emoji and CJK are several tokens each in both fixtures' vocabularies.
  auto ids = tokenizer_->Encode("🙂🚀 汉字", false);
  ASSERT_TRUE(ids.ok());
  ASSERT_GT(ids->size(), 4u);
  StreamDecoder stream(*tokenizer_, {});
  std::string streamed;
  for (int32_t id : *ids) {
    auto piece = stream.Push(id);
    ASSERT_TRUE(piece.ok());
    EXPECT_EQ(piece->find("\xEF\xBF\xBD"), std::string::npos);
    streamed += *piece;
  }
  streamed += *stream.Finish();
  EXPECT_EQ(streamed, "🙂🚀 汉字");
}

TEST_P(StreamDecoderTest, RandomIdSequences) {
  std::mt19937 rng(1234);
  const int32_t vocab = tokenizer_->vocab_size();
  std::uniform_int_distribution<int32_t> any_id(0, vocab - 1);
  // Low ids are the byte-level / byte-fallback tokens that split characters.
  std::uniform_int_distribution<int32_t> low_id(0, 300);
  auto prompt = tokenizer_->Encode("The answer is", true);
  ASSERT_TRUE(prompt.ok());
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<int32_t> ids(1 + trial % 40);
    for (int32_t& id : ids) id = (rng() % 2) ? any_id(rng) : low_id(rng);
    const bool skip = trial % 3 != 0;
    const std::vector<int32_t> context =
        trial % 2 ? *prompt : std::vector<int32_t>(prompt->begin(), prompt->begin() + 1);
    ExpectStreamMatchesFullDecode(*tokenizer_, context, ids, skip,
                                  std::string(GetParam()) + " trial " + std::to_string(trial));
  }
}

TEST_P(StreamDecoderTest, OutOfRangeIdIsRejected) {
  StreamDecoder stream(*tokenizer_, {});
  EXPECT_EQ(stream.Push(tokenizer_->vocab_size()).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto ok = stream.Push(5);
  EXPECT_TRUE(ok.ok());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, StreamDecoderTest,
                         ::testing::Values("llama3-tiny", "mistral-tiny"),
                         [](const auto& info) {
                           return std::string(info.param).substr(0, info.param[0] == 'l' ? 6 : 7);
                         });

}  // namespace
}  // namespace liger
