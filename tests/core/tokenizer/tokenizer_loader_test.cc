#include "core/tokenizer/tokenizer_loader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/core/tokenizer/test_util.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

namespace fs = std::filesystem;

class TokenizerLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("liger_tokenizer_loader_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name, std::ios::binary) << content;
  }
  void Copy(const std::string& model, const std::string& name) {
    fs::copy_file(testing::FixtureModel(model) + "/" + name, dir_ / name);
  }
  fs::path dir_;
};

TEST_F(TokenizerLoaderTest, MissingDirectoryIsNotFound) {
  auto result = LoadTokenizer((dir_ / "nope").string());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(result.status().message()).find("nope"), std::string::npos);
}

TEST_F(TokenizerLoaderTest, DirectoryWithoutTokenizerIsNotFound) {
  Write("config.json", "{}");
  auto result = LoadTokenizer(dir_.string());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(result.status().message()).find(dir_.string()), std::string::npos);
}

TEST_F(TokenizerLoaderTest, EmptyOrMalformedFilesAreInvalidArgument) {
  const std::vector<std::pair<std::string, std::string>> files = {
      {"tokenizer.json", ""}, {"tokenizer.json", "{oops"}, {"tokenizer.model", ""},
      {"tokenizer.model", "this is not a protobuf"}};
  for (const auto& [name, content] : files) {
    fs::remove(dir_ / "tokenizer.json");
    fs::remove(dir_ / "tokenizer.model");
    Write(name, content);
    auto result = LoadTokenizer(dir_.string());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_NE(std::string(result.status().message()).find(name), std::string::npos)
        << result.status();
  }
}

TEST_F(TokenizerLoaderTest, MalformedConfigIsInvalidArgument) {
  Copy("mistral-tiny", "tokenizer.model");
  Write("tokenizer_config.json", "{\"add_bos_token\": \"yes\"}");
  auto result = LoadTokenizer(dir_.string());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(result.status().message()).find("tokenizer_config.json"),
            std::string::npos);
  Write("tokenizer_config.json", "{\"eos_token\": \"<not-a-piece>\"}");
  EXPECT_EQ(LoadTokenizer(dir_.string()).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TokenizerLoaderTest, ConfigFlagsControlBosAndEos) {
  Copy("mistral-tiny", "tokenizer.model");
  auto defaults = LoadTokenizer(dir_.string());
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  auto plain = (*defaults)->Encode("Hello", false);
  ASSERT_TRUE(plain.ok());
  std::vector<int32_t> with_bos{1};
  with_bos.insert(with_bos.end(), plain->begin(), plain->end());
  EXPECT_EQ(*(*defaults)->Encode("Hello", true), with_bos);

  Write("tokenizer_config.json", "{\"add_bos_token\": false, \"add_eos_token\": true}");
  auto flipped = LoadTokenizer(dir_.string());
  ASSERT_TRUE(flipped.ok()) << flipped.status();
  std::vector<int32_t> with_eos = *plain;
  with_eos.push_back(2);
  EXPECT_EQ(*(*flipped)->Encode("Hello", true), with_eos);
}

TEST_F(TokenizerLoaderTest, PrefersTokenizerJsonAndReadsEosFromConfig) {
  Copy("llama3-tiny", "tokenizer.json");
  Copy("mistral-tiny", "tokenizer.model");
  Write("tokenizer_config.json", "{\"eos_token\": \"<|pad|>\"}");
  auto tokenizer = LoadTokenizer(dir_.string());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->vocab_size(), 8192);
  EXPECT_EQ((*tokenizer)->eos_id(), 2);
}

}  // namespace
}  // namespace liger
