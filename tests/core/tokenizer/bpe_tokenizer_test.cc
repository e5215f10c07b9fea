#include "core/tokenizer/bpe_tokenizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "tests/core/tokenizer/test_util.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

using nlohmann::json;

json LlamaJson() {
  return json::parse(
      testing::ReadWholeFile(testing::FixtureModel("llama3-tiny") + "/tokenizer.json"));
}

absl::StatusCode CodeOf(const std::string& text) {
  return BpeTokenizer::FromJson(text).status().code();
}

// A minimal byte-level tokenizer: a, b, c, space and a few merged tokens.
json TinyJson(const json& merges) {
  // Byte-level characters of a, b, c and space (space is "\u0120").
  json vocab = json::object();
  vocab["a"] = 0;
  vocab["b"] = 1;
  vocab["c"] = 2;
  vocab["\xC4\xA0"] = 3;
  vocab["ab"] = 4;
  vocab["abc"] = 5;
  vocab["\xC4\xA0" "ab"] = 6;
  return json{{"version", "1.0"},
              {"added_tokens",
               json::array({json{{"id", 7}, {"content", "<|endoftext|>"}, {"special", true},
                                 {"normalized", false}, {"lstrip", false}, {"rstrip", false},
                                 {"single_word", false}}})},
              {"normalizer", nullptr},
              {"pre_tokenizer",
               json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
              {"post_processor", json{{"type", "ByteLevel"}}},
              {"decoder", json{{"type", "ByteLevel"}}},
              {"model", json{{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
}

TEST(BpeTokenizerTest, MergesInBothFormatsGiveTheSameResult) {
  const json pairs = json::array({json::array({"a", "b"}), json::array({"ab", "c"}),
                                  json::array({"\xC4\xA0", "ab"})});
  const json strings = json::array({"a b", "ab c", "\xC4\xA0 ab"});
  for (const json& merges : {pairs, strings}) {
    auto tokenizer = BpeTokenizer::FromJson(TinyJson(merges).dump());
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    // GPT-2 split: "abc", " ab", " abc"; in " abc" the merge "ab c" outranks "\u0120 ab".
    // The added token is matched before splitting.
    auto ids = (*tokenizer)->Encode("abc ab abc<|endoftext|>", false);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(*ids, (std::vector<int32_t>{5, 6, 3, 5, 7}));
    EXPECT_EQ(*(*tokenizer)->Decode(*ids, true), "abc ab abc");
    EXPECT_EQ(*(*tokenizer)->Decode(*ids, false), "abc ab abc<|endoftext|>");
    // Characters outside the vocabulary are dropped before merging, as HF does without unk.
    EXPECT_EQ(*(*tokenizer)->Encode("axb", false), (std::vector<int32_t>{4}));
    EXPECT_EQ((*tokenizer)->eos_id(), 7);
    EXPECT_EQ((*tokenizer)->bos_id(), std::nullopt);
  }
}

TEST(BpeTokenizerTest, MergeRankDecidesOrder) {
  // With "b c" ranked before "a b", "abc" becomes a + bc, not abc.
  json config = TinyJson(json::array({"b c", "a b", "ab c"}));
  config["model"]["vocab"]["bc"] = 8;
  auto tokenizer = BpeTokenizer::FromJson(config.dump());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ(*(*tokenizer)->Encode("abc", false), (std::vector<int32_t>{0, 8}));
}

TEST(BpeTokenizerTest, IgnoreMergesUsesWholeWordFromVocab) {
  // No merge leads to "abc" directly from a+b+c in this order, but the word is in the vocab.
  json config = TinyJson(json::array({"b c"}));
  config["model"]["vocab"]["bc"] = 8;
  auto plain = BpeTokenizer::FromJson(config.dump());
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(*(*plain)->Encode("abc", false), (std::vector<int32_t>{0, 8}));
  config["model"]["ignore_merges"] = true;
  auto ignoring = BpeTokenizer::FromJson(config.dump());
  ASSERT_TRUE(ignoring.ok());
  EXPECT_EQ(*(*ignoring)->Encode("abc", false), (std::vector<int32_t>{5}));
}

TEST(BpeTokenizerTest, AddedTokenLongestMatchAndStrip) {
  json config = TinyJson(json::array({"a b"}));
  config["added_tokens"].push_back(json{{"id", 8},
                                        {"content", "<|endoftext|>x"},
                                        {"special", false},
                                        {"normalized", false}, {"lstrip", true},
                                        {"rstrip", true}, {"single_word", false}});
  auto tokenizer = BpeTokenizer::FromJson(config.dump());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  // "<|endoftext|>x" is the longest match; its lstrip/rstrip swallow the spaces around it.
  EXPECT_EQ(*(*tokenizer)->Encode("ab  <|endoftext|>x  ab<|endoftext|>", false),
            (std::vector<int32_t>{4, 8, 4, 7}));
  config["added_tokens"][1]["single_word"] = true;
  EXPECT_EQ(CodeOf(config.dump()), absl::StatusCode::kInvalidArgument);
}

TEST(BpeTokenizerTest, Llama3ConfigFromJsonMatchesFixture) {
  auto tokenizer = BpeTokenizer::FromJson(LlamaJson().dump());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  // Legacy "a b" merges must give the same ids as the fixture's [a, b] pairs.
  json legacy = LlamaJson();
  for (json& m : legacy["model"]["merges"]) {
    m = m[0].get<std::string>() + " " + m[1].get<std::string>();
  }
  auto legacy_tokenizer = BpeTokenizer::FromJson(legacy.dump());
  ASSERT_TRUE(legacy_tokenizer.ok()) << legacy_tokenizer.status();
  for (const auto& c : testing::ReadTokenizerCases(testing::FixtureModel("llama3-tiny") +
                                                   "/tokenizer-cases.jsonl")) {
    EXPECT_EQ(*(*legacy_tokenizer)->Encode(c.text, true), c.ids) << "line " << c.line;
  }
}

struct MalformedCase {
  const char* name;
  std::string text;
  std::string expected_in_message;
};

TEST(BpeTokenizerTest, MalformedConfigsAreInvalidArgument) {
  std::vector<MalformedCase> cases;
  cases.push_back({"empty", "", "empty"});
  cases.push_back({"invalid json", "{\"model\": ", "JSON"});
  cases.push_back({"not an object", "[1, 2]", "object"});
  json j = LlamaJson();
  j.erase("model");
  cases.push_back({"missing model", j.dump(), "model"});
  j = LlamaJson();
  j["model"]["type"] = "Unigram";
  cases.push_back({"unknown model type", j.dump(), "Unigram"});
  j = LlamaJson();
  j["model"]["merges"].push_back(json::array({"a", "no-such-token"}));
  cases.push_back({"merge with unknown token", j.dump(), "no-such-token"});
  j = LlamaJson();
  j["model"]["vocab"]["a"] = 1 << 20;
  cases.push_back({"vocab id out of range", j.dump(), "outside"});
  j = LlamaJson();
  j["model"]["vocab"]["a"] = j["model"]["vocab"]["b"];
  cases.push_back({"duplicate vocab id", j.dump(), "used by both"});
  j = LlamaJson();
  j["model"]["vocab"]["a"] = "zero";
  cases.push_back({"non-integer vocab id", j.dump(), "non-integer"});
  j = LlamaJson();
  j["normalizer"] = json{{"type", "NFC"}};
  cases.push_back({"unsupported normalizer", j.dump(), "NFC"});
  j = LlamaJson();
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+|\\s+";
  cases.push_back({"unsupported regex", j.dump(), "\\w+|\\s+"});
  j = LlamaJson();
  j["pre_tokenizer"] = json{{"type", "Metaspace"}};
  cases.push_back({"unsupported pre_tokenizer", j.dump(), "Metaspace"});
  j = LlamaJson();
  j["decoder"] = json{{"type", "WordPiece"}};
  cases.push_back({"unsupported decoder", j.dump(), "WordPiece"});
  j = LlamaJson();
  j["model"]["byte_fallback"] = true;
  cases.push_back({"byte fallback", j.dump(), "byte_fallback"});
  j = LlamaJson();
  j["added_tokens"][0]["id"] = 1 << 24;
  cases.push_back({"added token id out of range", j.dump(), "outside"});
  j = LlamaJson();
  j["post_processor"]["special_tokens"]["<|begin_of_text|>"]["ids"][0] = 99999;
  cases.push_back({"template id out of range", j.dump(), "99999"});
  j = LlamaJson();
  j["model"]["merges"][0] = 17;
  cases.push_back({"malformed merge", j.dump(), "17"});
  for (const MalformedCase& c : cases) {
    auto result = BpeTokenizer::FromJson(c.text);
    ASSERT_FALSE(result.ok()) << c.name;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(std::string(result.status().message()).find(c.expected_in_message),
              std::string::npos)
        << c.name << ": " << result.status();
  }
}

TEST(BpeTokenizerTest, FromFileMissingIsNotFound) {
  EXPECT_EQ(BpeTokenizer::FromFile("/nonexistent/tokenizer.json").status().code(),
            absl::StatusCode::kNotFound);
}

// Reads about `bytes` of corpus text.
std::string CorpusText(size_t bytes) {
  std::ifstream in(testing::SharedDir() + "/data/corpus-train.jsonl");
  std::string line;
  std::string text;
  while (text.size() < bytes && std::getline(in, line)) {
    text += json::parse(line).at("text").get<std::string>();
  }
  return text;
}

TEST(BpeTokenizerTest, EncodesOneMegabyteQuickly) {
  auto tokenizer = BpeTokenizer::FromFile(testing::FixtureModel("llama3-tiny") + "/tokenizer.json");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const std::string corpus = CorpusText(1 << 20);
  ASSERT_GE(corpus.size(), 1u << 20);
  // One word of 1 MB and a long whitespace run stress the merge loop and the scanner.
  const std::vector<std::pair<const char*, std::string>> inputs = {
      {"corpus", corpus}, {"one long word", std::string(1 << 20, 'a')},
      {"whitespace", std::string(1 << 18, ' ') + "x" + std::string(1 << 18, '\n')}};
  for (const auto& [name, text] : inputs) {
    const auto start = std::chrono::steady_clock::now();
    auto ids = (*tokenizer)->Encode(text, true);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(ids.ok());
    std::printf("encode %s: %zu bytes -> %zu ids in %.3f s\n", name, text.size(), ids->size(),
                seconds);
    // A guard against super-linear encoding (quadratic merging of a 1 MB word would take hours),
    // not a speed figure: loose enough for a sanitizer build on a loaded 2-core machine, where
    // this took 7 s.
    EXPECT_LT(seconds, 60.0) << name;
    EXPECT_EQ(*(*tokenizer)->Decode(*ids, true), text) << name;
  }
}

}  // namespace
}  // namespace liger
