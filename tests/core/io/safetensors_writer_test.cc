#include "core/io/safetensors_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/io/safetensors_file.h"
#include "nlohmann/json.hpp"
#include "tests/core/io/temp_dir.h"
#include "tests/core/io/test_files.h"

namespace liger {
namespace {

using ::liger::testing::ReadBytes;
using ::liger::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<DType>& AllDTypes() {
  static const std::vector<DType> all = {
      DType::kBool,     DType::kUInt8,   DType::kInt8,   DType::kInt16,  DType::kUInt16,
      DType::kInt32,    DType::kUInt32,  DType::kInt64,  DType::kUInt64, DType::kFloat16,
      DType::kBFloat16, DType::kFloat32, DType::kFloat64};
  return all;
}

// Bytes that differ per tensor so that swapped data would be noticed.
std::string Pattern(size_t nbytes, int seed) {
  std::string bytes(nbytes, '\0');
  for (size_t i = 0; i < nbytes; ++i) bytes[i] = static_cast<char>((i * 31 + seed * 7 + 1) & 0xff);
  return bytes;
}

TensorView View(DType dtype, std::vector<int64_t> shape, const std::string& bytes) {
  TensorView view;
  view.dtype = dtype;
  view.shape = std::move(shape);
  view.data = bytes.data();
  view.nbytes = bytes.size();
  return view;
}

std::string Bytes(const TensorView& view) {
  return std::string(static_cast<const char*>(view.data), view.nbytes);
}

TEST(SafetensorsWriterTest, RoundTripsEveryDtypeWithMetadata) {
  TempDir dir;
  std::vector<std::string> buffers;
  buffers.reserve(AllDTypes().size());
  std::vector<std::pair<std::string, TensorView>> tensors;
  for (size_t i = 0; i < AllDTypes().size(); ++i) {
    const DType dtype = AllDTypes()[i];
    buffers.push_back(Pattern(2 * 3 * DTypeSize(dtype), static_cast<int>(i)));
    tensors.emplace_back("t." + std::string(DTypeName(dtype)), View(dtype, {2, 3}, buffers.back()));
  }
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "héllo"}};
  const std::string path = dir.File("all.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, tensors, metadata).ok());

  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->metadata(), metadata);
  EXPECT_EQ((*file)->path(), path);
  ASSERT_EQ((*file)->tensors().size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorView* view = (*file)->Find(tensors[i].first);
    ASSERT_NE(view, nullptr) << tensors[i].first;
    EXPECT_EQ(view->dtype, tensors[i].second.dtype);
    EXPECT_THAT(view->shape, ElementsAre(2, 3));
    EXPECT_EQ(view->numel(), 6);
    EXPECT_EQ(Bytes(*view), buffers[i]) << tensors[i].first;
  }
}

TEST(SafetensorsWriterTest, RoundTripsZeroDimensionalAndEmptyTensors) {
  TempDir dir;
  const float scalar = 3.5f;
  const std::string scalar_bytes(reinterpret_cast<const char*>(&scalar), sizeof(scalar));
  const std::string none;
  const std::vector<std::pair<std::string, TensorView>> tensors = {
      {"scalar", View(DType::kFloat32, {}, scalar_bytes)},
      {"empty", View(DType::kInt64, {0}, none)},
      {"empty3d", View(DType::kBFloat16, {2, 0, 3}, none)},
      {"null_empty", TensorView{DType::kUInt8, {0, 5}, nullptr, 0}},
  };
  const std::string path = dir.File("edge.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, tensors).ok());

  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE((*file)->metadata().empty());
  const TensorView* s = (*file)->Find("scalar");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->shape.empty());
  EXPECT_EQ(s->numel(), 1);
  float read = 0;
  ASSERT_EQ(s->nbytes, sizeof(read));
  std::memcpy(&read, s->data, sizeof(read));
  EXPECT_EQ(read, 3.5f);
  for (const char* name : {"empty", "empty3d", "null_empty"}) {
    const TensorView* e = (*file)->Find(name);
    ASSERT_NE(e, nullptr) << name;
    EXPECT_EQ(e->numel(), 0) << name;
    EXPECT_EQ(e->nbytes, 0u) << name;
  }
  EXPECT_THAT((*file)->Find("empty3d")->shape, ElementsAre(2, 0, 3));
  EXPECT_EQ((*file)->Find("empty3d")->dtype, DType::kBFloat16);
}

TEST(SafetensorsWriterTest, LayoutFollowsTheReferenceFormat) {
  TempDir dir;
  const std::string a = Pattern(3, 1);      // U8 [3]
  const std::string b = Pattern(2 * 8, 2);  // F64 [2]
  const std::string c = Pattern(5 * 4, 3);  // I32 [5]
  const std::string path = dir.File("layout.safetensors");
  ASSERT_TRUE(WriteSafetensors(path,
                               {{"a", View(DType::kUInt8, {3}, a)},
                                {"b", View(DType::kFloat64, {2}, b)},
                                {"c", View(DType::kInt32, {5}, c)}},
                               {{"k", "v"}})
                  .ok());

  // Decode the file by hand, independently of SafetensorsFile.
  const std::string raw = ReadBytes(path);
  ASSERT_GE(raw.size(), 8u);
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i)
    header_size = (header_size << 8) | static_cast<unsigned char>(raw[i]);
  EXPECT_EQ(header_size % 8, 0u);
  ASSERT_LE(8 + header_size, raw.size());
  const std::string header = raw.substr(8, header_size);
  EXPECT_EQ(header.front(), '{');
  const size_t last_brace = header.rfind('}');
  EXPECT_EQ(header.find_first_not_of(' ', last_brace + 1), std::string::npos)
      << "pad must be spaces";
  EXPECT_LT(header.size() - last_brace - 1, 8u);

  const nlohmann::json json = nlohmann::json::parse(header);
  EXPECT_EQ(json["__metadata__"], nlohmann::json({{"k", "v"}}));
  // Contiguous, larger elements first so each tensor is aligned to its element size.
  EXPECT_EQ(json["b"]["data_offsets"], nlohmann::json({0, 16}));
  EXPECT_EQ(json["c"]["data_offsets"], nlohmann::json({16, 36}));
  EXPECT_EQ(json["a"]["data_offsets"], nlohmann::json({36, 39}));
  EXPECT_EQ(json["c"]["dtype"], "I32");
  EXPECT_EQ(json["c"]["shape"], nlohmann::json({5}));
  EXPECT_EQ(raw.size(), 8 + header_size + 39);
  EXPECT_EQ(raw.substr(8 + header_size), b + c + a);
}

TEST(SafetensorsWriterTest, ReplacesAnExistingFile) {
  TempDir dir;
  const std::string path = dir.File("x.safetensors");
  const std::string one = Pattern(4, 1);
  const std::string two = Pattern(8, 2);
  ASSERT_TRUE(WriteSafetensors(path, {{"one", View(DType::kFloat32, {1}, one)}}).ok());
  ASSERT_TRUE(WriteSafetensors(path, {{"two", View(DType::kFloat32, {2}, two)}}).ok());
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->Find("one"), nullptr);
  ASSERT_NE((*file)->Find("two"), nullptr);
  EXPECT_EQ(Bytes(*(*file)->Find("two")), two);
  EXPECT_THAT(dir.List(), ElementsAre("x.safetensors"));
}

TEST(SafetensorsWriterTest, RejectsInvalidInputWithoutWritingAnything) {
  TempDir dir;
  const std::string path = dir.File("bad.safetensors");
  const std::string four = Pattern(4, 0);
  const std::string bad_utf8 = "bad\xff";
  struct Case {
    const char* what;
    std::vector<std::pair<std::string, TensorView>> tensors;
    std::map<std::string, std::string> metadata;
  };
  const std::vector<Case> cases = {
      {"duplicate",
       {{"x", View(DType::kUInt8, {4}, four)}, {"x", View(DType::kUInt8, {4}, four)}},
       {}},
      {"reserved", {{"__metadata__", View(DType::kUInt8, {4}, four)}}, {}},
      {"size mismatch", {{"x", View(DType::kFloat32, {2}, four)}}, {}},
      {"negative dim", {{"x", View(DType::kUInt8, {-4}, four)}}, {}},
      {"overflow", {{"x", TensorView{DType::kUInt8, {1ll << 40, 1ll << 40}, four.data(), 4}}}, {}},
      {"null data", {{"x", TensorView{DType::kUInt8, {4}, nullptr, 4}}}, {}},
      {"bad dtype", {{"x", TensorView{static_cast<DType>(99), {4}, four.data(), 4}}}, {}},
      {"utf8 name", {{bad_utf8, View(DType::kUInt8, {4}, four)}}, {}},
      {"utf8 metadata", {{"x", View(DType::kUInt8, {4}, four)}}, {{"k", bad_utf8}}},
  };
  for (const Case& c : cases) {
    const absl::Status status = WriteSafetensors(path, c.tensors, c.metadata);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.what << ": " << status;
    EXPECT_THAT(status.message(), HasSubstr(path)) << c.what;
    EXPECT_TRUE(dir.List().empty()) << c.what;
  }
}

TEST(SafetensorsWriterTest, MissingDirectoryIsNotFound) {
  TempDir dir;
  const std::string four = Pattern(4, 0);
  const absl::Status status =
      WriteSafetensors(dir.File("no/such/x.safetensors"), {{"x", View(DType::kUInt8, {4}, four)}});
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_TRUE(dir.List().empty());
}

}  // namespace
}  // namespace liger
