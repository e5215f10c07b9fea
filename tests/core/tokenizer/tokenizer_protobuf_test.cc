#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/stubs/common.h>
#include <gtest/gtest.h>

#include "core/tokenizer/tokenizer_loader.h"
#include "tests/core/tokenizer/test_util.h"
#include "tests/test_paths.h"

// This binary links Debian's full libprotobuf, as LibTorch and gRPC bring it into the server and
// CLI. libsentencepiece embeds and exports an older protobuf-lite; if its symbols reach the global
// scope, libprotobuf's static initialisers run into them and the process dies before main.

namespace liger {
namespace {

// Uses libprotobuf's own generated descriptors, so the test fails if its symbols were bound to
// sentencepiece's copy.
void CheckProtobufWorks() {
  GOOGLE_PROTOBUF_VERIFY_VERSION;
  const google::protobuf::FileDescriptor* file =
      google::protobuf::DescriptorPool::generated_pool()->FindFileByName(
          "google/protobuf/descriptor.proto");
  ASSERT_NE(file, nullptr);
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  std::string bytes;
  ASSERT_TRUE(proto.SerializeToString(&bytes));
  google::protobuf::FileDescriptorProto parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_EQ(parsed.name(), "google/protobuf/descriptor.proto");
  EXPECT_EQ(parsed.message_type_size(), proto.message_type_size());
}

TEST(TokenizerProtobufTest, SentencePieceWorksBesideLibprotobuf) {
  CheckProtobufWorks();
  const std::string dir = testing::FixtureModel("mistral-tiny");
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const auto cases = testing::ReadTokenizerCases(dir + "/tokenizer-cases.jsonl");
  ASSERT_GE(cases.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    const testing::TokenizerCase& c = cases[i];
    absl::StatusOr<std::vector<int32_t>> ids = (*tokenizer)->Encode(c.text, true);
    ASSERT_TRUE(ids.ok()) << "line " << c.line << ": " << ids.status();
    EXPECT_EQ(*ids, c.ids) << "line " << c.line;
    absl::StatusOr<std::string> decoded = (*tokenizer)->Decode(c.ids, true);
    ASSERT_TRUE(decoded.ok()) << "line " << c.line << ": " << decoded.status();
    EXPECT_EQ(*decoded, c.decoded) << "line " << c.line;
  }
  // Loading sentencepiece must not have disturbed libprotobuf either.
  CheckProtobufWorks();
}

}  // namespace
}  // namespace liger
