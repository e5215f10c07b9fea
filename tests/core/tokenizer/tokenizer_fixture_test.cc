#include <gtest/gtest.h>

#include <sstream>

#include "core/tokenizer/tokenizer_loader.h"
#include "tests/core/tokenizer/test_util.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

std::string Join(const std::vector<int32_t>& ids) {
  std::ostringstream out;
  for (size_t i = 0; i < ids.size(); ++i) out << (i ? "," : "") << ids[i];
  return out.str();
}

// Every line of a fixture's tokenizer-cases.jsonl must encode and decode exactly as the
// reference library did; failures are reported per line.
void CheckFixtureCases(const std::string& model) {
  const std::string dir = testing::FixtureModel(model);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const auto cases = testing::ReadTokenizerCases(dir + "/tokenizer-cases.jsonl");
  ASSERT_GE(cases.size(), 30u);
  int failures = 0;
  for (const auto& c : cases) {
    absl::StatusOr<std::vector<int32_t>> ids = (*tokenizer)->Encode(c.text, true);
    if (!ids.ok() || *ids != c.ids) {
      ++failures;
      ADD_FAILURE() << model << " line " << c.line << ": Encode mismatch\n  got:  "
                    << (ids.ok() ? Join(*ids) : ids.status().ToString())
                    << "\n  want: " << Join(c.ids);
    }
    absl::StatusOr<std::string> decoded = (*tokenizer)->Decode(c.ids, true);
    if (!decoded.ok() || *decoded != c.decoded) {
      ++failures;
      ADD_FAILURE() << model << " line " << c.line << ": Decode mismatch\n  got:  "
                    << (decoded.ok() ? *decoded : decoded.status().ToString())
                    << "\n  want: " << c.decoded;
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST(TokenizerFixtureTest, Llama3TinyCases) { CheckFixtureCases("llama3-tiny"); }

TEST(TokenizerFixtureTest, MistralTinyCases) { CheckFixtureCases("mistral-tiny"); }

TEST(TokenizerFixtureTest, SpecialTokenIds) {
  auto llama = LoadTokenizer(testing::FixtureModel("llama3-tiny"));
  ASSERT_TRUE(llama.ok()) << llama.status();
  // tokenizer.json: <|begin_of_text|> id 0 (post-processor), <|end_of_text|> id 1.
  EXPECT_EQ((*llama)->bos_id(), 0);
  EXPECT_EQ((*llama)->eos_id(), 1);
  EXPECT_TRUE((*llama)->IsSpecial(2));
  EXPECT_FALSE((*llama)->IsSpecial(42));
  EXPECT_EQ((*llama)->vocab_size(), 8192);

  auto mistral = LoadTokenizer(testing::FixtureModel("mistral-tiny"));
  ASSERT_TRUE(mistral.ok()) << mistral.status();
  // models/README.md: BOS id 1, EOS id 2, 4096 pieces.
  EXPECT_EQ((*mistral)->bos_id(), 1);
  EXPECT_EQ((*mistral)->eos_id(), 2);
  EXPECT_TRUE((*mistral)->IsSpecial(1));
  EXPECT_EQ((*mistral)->vocab_size(), 4096);
}

TEST(TokenizerFixtureTest, SpecialTokensInTextAndDecodeWithoutSkipping) {
  auto llama = LoadTokenizer(testing::FixtureModel("llama3-tiny"));
  ASSERT_TRUE(llama.ok()) << llama.status();
  auto hello = (*llama)->Encode("Hello world", false);
  ASSERT_TRUE(hello.ok());
  auto with_special = (*llama)->Encode("<|end_of_text|>Hello world<|pad|>", false);
  ASSERT_TRUE(with_special.ok());
  std::vector<int32_t> expected{1};
  expected.insert(expected.end(), hello->begin(), hello->end());
  expected.push_back(2);
  EXPECT_EQ(*with_special, expected);
  EXPECT_EQ(*(*llama)->Decode(expected, false), "<|end_of_text|>Hello world<|pad|>");
  EXPECT_EQ(*(*llama)->Decode(expected, true), "Hello world");

  auto mistral = LoadTokenizer(testing::FixtureModel("mistral-tiny"));
  ASSERT_TRUE(mistral.ok());
  auto ids = (*mistral)->Encode("Hello world", true);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*(*mistral)->Decode(*ids, false), "<s>Hello world");
}

TEST(TokenizerFixtureTest, DecodeOutOfRangeIdIsInvalidArgument) {
  for (const char* model : {"llama3-tiny", "mistral-tiny"}) {
    auto tokenizer = LoadTokenizer(testing::FixtureModel(model));
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    const int32_t size = (*tokenizer)->vocab_size();
    for (int32_t bad : {size, -1, size + 1000}) {
      std::vector<int32_t> ids{5, bad};
      auto decoded = (*tokenizer)->Decode(ids, true);
      EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << model << " " << bad;
    }
  }
}

TEST(TokenizerFixtureTest, InvalidUtf8InputIsInvalidArgument) {
  for (const char* model : {"llama3-tiny", "mistral-tiny"}) {
    auto tokenizer = LoadTokenizer(testing::FixtureModel(model));
    ASSERT_TRUE(tokenizer.ok());
    EXPECT_EQ((*tokenizer)->Encode("ab\xC3", true).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace liger
