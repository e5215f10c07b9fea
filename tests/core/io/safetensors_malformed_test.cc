// Every malformed input must come back as a status with the right code and a message naming the
// file; none may crash, hang or read outside the file (this suite also runs under ASan/UBSan).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/io/safetensors_file.h"
#include "core/io/safetensors_header.h"
#include "core/io/safetensors_writer.h"
#include "tests/core/io/temp_dir.h"
#include "tests/core/io/test_files.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

using ::liger::testing::LittleEndian64;
using ::liger::testing::ReadBytes;
using ::liger::testing::SafetensorsBytes;
using ::liger::testing::TempDir;
using ::liger::testing::WriteBytes;
using ::testing::HasSubstr;

constexpr absl::StatusCode kDataLoss = absl::StatusCode::kDataLoss;
constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

class SafetensorsMalformedTest : public ::testing::Test {
 protected:
  // Writes `bytes` to a file and opens it.
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> OpenBytes(const std::string& bytes) {
    WriteBytes(path_, bytes);
    return SafetensorsFile::Open(path_);
  }

  // Expects `bytes` to be rejected with `code` and a message naming the file and `fragment`.
  void ExpectRejected(const std::string& bytes, absl::StatusCode code,
                      const std::string& fragment = "") {
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = OpenBytes(bytes);
    ASSERT_FALSE(file.ok()) << "accepted: " << bytes.substr(0, 200);
    EXPECT_EQ(file.status().code(), code) << file.status();
    EXPECT_THAT(file.status().message(), HasSubstr(path_));
    EXPECT_THAT(file.status().message(), HasSubstr(fragment));
  }

  // A one-tensor file "t" of 4 U8 bytes whose entry is `entry`.
  void ExpectEntryRejected(const std::string& entry, absl::StatusCode code,
                           const std::string& fragment = "") {
    ExpectRejected(SafetensorsBytes("{\"t\":" + entry + "}", "abcd"), code, fragment);
  }

  TempDir dir_;
  std::string path_ = dir_.File("m.safetensors");
};

std::string ValidFile(const TempDir& dir) {
  const std::string a(12, 'a');
  const std::string b(6, 'b');
  const std::string path = dir.File("valid.safetensors");
  EXPECT_TRUE(WriteSafetensors(path,
                               {{"a", TensorView{DType::kFloat32, {3}, a.data(), a.size()}},
                                {"b", TensorView{DType::kInt16, {3}, b.data(), b.size()}}},
                               {{"format", "pt"}})
                  .ok());
  return ReadBytes(path);
}

TEST_F(SafetensorsMalformedTest, EmptyAndTinyFilesAreDataLoss) {
  ExpectRejected("", kDataLoss, "too short");
  ExpectRejected(std::string("\x02\0\0", 3), kDataLoss, "too short");
}

TEST_F(SafetensorsMalformedTest, TruncationAtEveryCutPointIsDataLoss) {
  const std::string valid = ValidFile(dir_);
  ASSERT_TRUE(OpenBytes(valid).ok());
  for (size_t cut = 0; cut < valid.size(); ++cut) {
    SCOPED_TRACE(cut);
    ExpectRejected(valid.substr(0, cut), kDataLoss);
  }
}

TEST_F(SafetensorsMalformedTest, TruncatedFixtureIsDataLoss) {
  const std::string fixture =
      ReadBytes(liger::testing::FixtureModel("llama3-tiny") + "/model.safetensors");
  ASSERT_GT(fixture.size(), 10000u);
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i)
    header_size = (header_size << 8) | static_cast<unsigned char>(fixture[i]);
  const size_t data_begin = 8 + header_size;
  for (size_t cut : {size_t{7}, size_t{8}, size_t{9}, size_t{100}, data_begin - 1, data_begin,
                     data_begin + 1, data_begin + 4096, fixture.size() / 2, fixture.size() - 1}) {
    SCOPED_TRACE(cut);
    ExpectRejected(fixture.substr(0, cut), kDataLoss);
  }
}

TEST_F(SafetensorsMalformedTest, HeaderLengthBeyondFileIsDataLoss) {
  const std::string header = "{}";
  ExpectRejected(LittleEndian64(3) + header, kDataLoss, "header length 3");
  ExpectRejected(LittleEndian64(~uint64_t{0}) + header, kDataLoss, "header length");
  ExpectRejected(LittleEndian64(uint64_t{1} << 63) + header, kDataLoss, "header length");
  ExpectRejected(LittleEndian64(200'000'000) + header, kDataLoss, "header length");
}

TEST_F(SafetensorsMalformedTest, HeaderOverTheSizeLimitIsInvalidArgument) {
  // A sparse file: the header length fits in the file but exceeds the 100 MB limit.
  const uint64_t header_size = kMaxSafetensorsHeaderBytes + 8;
  WriteBytes(path_, LittleEndian64(header_size) + "{");
  ASSERT_EQ(::truncate(path_.c_str(), static_cast<off_t>(8 + header_size)), 0);
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path_);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), kInvalid) << file.status();
  EXPECT_THAT(file.status().message(), HasSubstr("limit"));
}

TEST_F(SafetensorsMalformedTest, HeaderThatIsNotJsonIsDataLoss) {
  ExpectRejected(SafetensorsBytes("", ""), kDataLoss, "invalid JSON");
  ExpectRejected(SafetensorsBytes("{not json", ""), kDataLoss, "invalid JSON");
  ExpectRejected(SafetensorsBytes("{\"t\":{}} trailing", ""), kDataLoss, "invalid JSON");
  ExpectRejected(SafetensorsBytes(std::string(8, '\0'), ""), kDataLoss, "invalid JSON");
  ExpectRejected(SafetensorsBytes("{\"bad\xff\":1}", ""), kDataLoss, "invalid JSON");
  ExpectRejected(SafetensorsBytes(std::string(100000, '['), ""), kDataLoss, "invalid JSON");
}

TEST_F(SafetensorsMalformedTest, HeaderThatIsNotAnObjectIsDataLoss) {
  for (const std::string header : {"[]", "\"text\"", "42", "null", "[{\"t\":1}]"}) {
    SCOPED_TRACE(header);
    ExpectRejected(SafetensorsBytes(header, ""), kDataLoss, "not a JSON object");
  }
}

TEST_F(SafetensorsMalformedTest, MalformedMetadataIsDataLoss) {
  ExpectRejected(SafetensorsBytes(R"({"__metadata__":{"format":1}})", ""), kDataLoss, "\"format\"");
  ExpectRejected(SafetensorsBytes(R"({"__metadata__":{"a":null}})", ""), kDataLoss, "not a string");
  ExpectRejected(SafetensorsBytes(R"({"__metadata__":{"a":{"b":"c"}}})", ""), kDataLoss,
                 "not a string");
  ExpectRejected(SafetensorsBytes(R"({"__metadata__":["x"]})", ""), kDataLoss, "__metadata__");
  ExpectRejected(SafetensorsBytes(R"({"__metadata__":"x"})", ""), kDataLoss, "__metadata__");
}

TEST_F(SafetensorsMalformedTest, UnsupportedDtypeIsInvalidArgument) {
  ExpectEntryRejected(R"({"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]})", kInvalid,
                      "F8_E4M3");
  ExpectEntryRejected(R"({"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]})", kInvalid,
                      "tensor \"t\"");
  ExpectEntryRejected(R"({"dtype":"float32","shape":[1],"data_offsets":[0,4]})", kInvalid,
                      "float32");
}

TEST_F(SafetensorsMalformedTest, MalformedEntriesAreDataLoss) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("not an object")", "not a JSON object"},
      {R"({"dtype":7,"shape":[4],"data_offsets":[0,4]})", "dtype"},
      {R"({"shape":[4],"data_offsets":[0,4]})", "dtype"},
      {R"({"dtype":"U8","data_offsets":[0,4]})", "shape"},
      {R"({"dtype":"U8","shape":4,"data_offsets":[0,4]})", "shape"},
      {R"({"dtype":"U8","shape":[4]})", "data_offsets"},
      {R"({"dtype":"U8","shape":[4],"data_offsets":[0,4],"extra":1})", "unknown field \"extra\""},
      // Shapes.
      {R"({"dtype":"U8","shape":[-4],"data_offsets":[0,4]})", "negative"},
      {R"({"dtype":"U8","shape":[2,-2],"data_offsets":[0,4]})", "negative"},
      {R"({"dtype":"U8","shape":[4.0],"data_offsets":[0,4]})", "non-integer"},
      {R"({"dtype":"U8","shape":[2.5],"data_offsets":[0,4]})", "non-integer"},
      {R"({"dtype":"U8","shape":["4"],"data_offsets":[0,4]})", "string"},
      {R"({"dtype":"U8","shape":[1e30],"data_offsets":[0,4]})", "non-integer"},
      {R"({"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,4]})", "overflow"},
      {R"({"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,4]})", "overflow"},
      {R"({"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,4]})", "overflow"},
      // A zero later in the shape does not excuse an overflowing prefix (numel() would overflow).
      {R"({"dtype":"U8","shape":[4611686018427387904,3,0],"data_offsets":[0,0]})", "overflow"},
      // Offsets.
      {R"({"dtype":"U8","shape":[4],"data_offsets":[0,5]})", "past"},
      {R"({"dtype":"U8","shape":[8],"data_offsets":[0,8]})", "past"},
      {R"({"dtype":"U8","shape":[0],"data_offsets":[5,5]})", "past"},
      {R"({"dtype":"U8","shape":[0],"data_offsets":[18446744073709551615,18446744073709551615]})",
       "past"},
      {R"({"dtype":"U8","shape":[2],"data_offsets":[3,1]})", "begin 3 > end 1"},
      {R"({"dtype":"U8","shape":[4],"data_offsets":[-1,3]})", "negative"},
      {R"({"dtype":"U8","shape":[4],"data_offsets":[0.5,4]})", "non-integer"},
      {R"({"dtype":"U8","shape":[4],"data_offsets":[0]})", "data_offsets"},
      {R"({"dtype":"U8","shape":[4],"data_offsets":[0,2,4]})", "data_offsets"},
      {R"({"dtype":"U8","shape":[4],"data_offsets":{"begin":0}})", "data_offsets"},
      // Byte size against shape x dtype.
      {R"({"dtype":"U8","shape":[3],"data_offsets":[0,4]})", "need 3"},
      {R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})", "need 8"},
      {R"({"dtype":"I16","shape":[],"data_offsets":[0,4]})", "need 2"},
      {R"({"dtype":"U8","shape":[0],"data_offsets":[0,4]})", "need 0"},
  };
  for (const auto& [entry, fragment] : cases) {
    SCOPED_TRACE(entry);
    ExpectEntryRejected(entry, kDataLoss, fragment);
    ExpectEntryRejected(entry, kDataLoss, "tensor \"t\"");
  }
}

TEST_F(SafetensorsMalformedTest, OverlappingTensorsAreDataLoss) {
  const std::string data(16, 'x');
  ExpectRejected(SafetensorsBytes(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                                  R"("b":{"dtype":"U8","shape":[4],"data_offsets":[6,10]}})",
                                  data),
                 kDataLoss, "overlap");
  ExpectRejected(SafetensorsBytes(R"({"outer":{"dtype":"U8","shape":[16],"data_offsets":[0,16]},)"
                                  R"("inner":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})",
                                  data),
                 kDataLoss, "\"outer\" and \"inner\"");
  ExpectRejected(SafetensorsBytes(R"({"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},)"
                                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                                  data),
                 kDataLoss, "overlap");
}

TEST_F(SafetensorsMalformedTest, GapsAndEmptyTensorsAreAccepted) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      OpenBytes(SafetensorsBytes(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                                 R"("b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]},)"
                                 R"("e1":{"dtype":"F32","shape":[0],"data_offsets":[2,2]},)"
                                 R"("e2":{"dtype":"F32","shape":[3,0],"data_offsets":[2,2]}}  )",
                                 "aaaa----bbbb"));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(std::string(static_cast<const char*>((*file)->Find("b")->data), 4), "bbbb");
  EXPECT_EQ((*file)->Find("e2")->nbytes, 0u);
}

TEST_F(SafetensorsMalformedTest, DuplicateKeysAreDataLoss) {
  ExpectRejected(SafetensorsBytes(R"({"t":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                                  R"("t":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})",
                                  "abcd"),
                 kDataLoss, "repeats the key \"t\"");
  ExpectEntryRejected(R"({"dtype":"U8","dtype":"U8","shape":[4],"data_offsets":[0,4]})", kDataLoss,
                      "repeats the key \"dtype\"");
  ExpectRejected(SafetensorsBytes(R"({"__metadata__":{"a":"1","a":"2"}})", ""), kDataLoss,
                 "repeats the key \"a\"");
}

TEST_F(SafetensorsMalformedTest, NonFilesAreRejected) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(dir_.path());
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kFailedPrecondition) << file.status();
  EXPECT_THAT(file.status().message(), HasSubstr(dir_.path()));

  const std::string missing = dir_.File("missing.safetensors");
  file = SafetensorsFile::Open(missing);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound) << file.status();
  EXPECT_THAT(file.status().message(), HasSubstr(missing));

  // Opening a FIFO with no writer must not block.
  const std::string fifo = dir_.File("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  file = SafetensorsFile::Open(fifo);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kFailedPrecondition) << file.status();
}

// Random byte corruption of a valid file: every outcome is either a clean error or a file whose
// views are consistent and readable.
TEST_F(SafetensorsMalformedTest, RandomCorruptionNeverMisbehaves) {
  const std::string valid = ValidFile(dir_);
  std::mt19937 rng(12345);
  int accepted = 0;
  for (int round = 0; round < 1000; ++round) {
    std::string bytes = valid;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < flips; ++i) {
      bytes[rng() % bytes.size()] = static_cast<char>(rng() & 0xff);
    }
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = OpenBytes(bytes);
    if (!file.ok()) {
      EXPECT_THAT(file.status().code(), ::testing::AnyOf(kDataLoss, kInvalid)) << file.status();
      EXPECT_THAT(file.status().message(), HasSubstr(path_));
      continue;
    }
    ++accepted;
    for (const auto& [name, view] : (*file)->tensors()) {
      EXPECT_EQ(view.nbytes, static_cast<size_t>(view.numel()) * DTypeSize(view.dtype)) << name;
      // Touch every byte: a view reaching outside the mapping would fault here.
      unsigned sum = 0;
      for (size_t i = 0; i < view.nbytes; ++i)
        sum += static_cast<const unsigned char*>(view.data)[i];
      volatile unsigned sink = sum;
      (void)sink;
    }
  }
  // Flips in the data section keep the file valid, so some rounds must be accepted.
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace liger
