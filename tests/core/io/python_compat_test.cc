// Compatibility with the reference implementation. The files in testdata/ were written by Python
// safetensors 0.8.0 with torch 2.11:
//   python_golden.safetensors: save_file({"a": tensor([[1.5, -2.0], [3.25, 0.0]], float32),
//       "b": tensor([7, -8, 9], int32), "c": tensor([1, 2, 3, 4, 5], uint8)},
//       metadata={"format": "pt"})
//   python_all_dtypes.safetensors: "t_<DTYPE>": torch.arange(6).reshape(2, 3).to(dtype) for BOOL,
//       U8, I8, I16, I32, I64, F16, BF16, F32, F64; "scalar": tensor(2.5); "empty": zeros(0, 4,
//       int64)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/io/safetensors_file.h"
#include "core/io/safetensors_writer.h"
#include "tests/core/io/temp_dir.h"
#include "tests/core/io/test_files.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

using ::liger::testing::ReadBytes;
using ::liger::testing::TempDir;
using ::testing::ElementsAre;

std::string TestData(const std::string& name) {
  return liger::testing::SourceDir() + "/tests/core/io/testdata/" + name;
}

template <typename T>
std::vector<T> Values(const TensorView& view) {
  std::vector<T> values(view.nbytes / sizeof(T));
  std::memcpy(values.data(), view.data, values.size() * sizeof(T));
  return values;
}

TEST(PythonCompatTest, WriterOutputIsByteIdenticalToPythonSafetensors) {
  const std::vector<float> a = {1.5f, -2.0f, 3.25f, 0.0f};
  const std::vector<int32_t> b = {7, -8, 9};
  const std::vector<uint8_t> c = {1, 2, 3, 4, 5};
  TempDir dir;
  const std::string path = dir.File("ours.safetensors");
  ASSERT_TRUE(WriteSafetensors(path,
                               {{"a", TensorView{DType::kFloat32, {2, 2}, a.data(), 16}},
                                {"b", TensorView{DType::kInt32, {3}, b.data(), 12}},
                                {"c", TensorView{DType::kUInt8, {5}, c.data(), 5}}},
                               {{"format", "pt"}})
                  .ok());
  const std::string expected = ReadBytes(TestData("python_golden.safetensors"));
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(ReadBytes(path), expected);
}

TEST(PythonCompatTest, ReadsEveryDtypePythonWrites) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::Open(TestData("python_all_dtypes.safetensors"));
  ASSERT_TRUE(file.ok()) << file.status();
  const auto& f = **file;
  EXPECT_EQ(f.tensors().size(), 12u);
  for (const auto& [name, view] : f.tensors()) {
    if (name.rfind("t_", 0) != 0) continue;
    absl::StatusOr<DType> dtype = DTypeFromName(name.substr(2));
    ASSERT_TRUE(dtype.ok()) << name;
    EXPECT_EQ(view.dtype, *dtype) << name;
    EXPECT_THAT(view.shape, ElementsAre(2, 3)) << name;
  }
  EXPECT_THAT(Values<uint8_t>(*f.Find("t_BOOL")), ElementsAre(0, 1, 1, 1, 1, 1));
  EXPECT_THAT(Values<uint8_t>(*f.Find("t_U8")), ElementsAre(0, 1, 2, 3, 4, 5));
  EXPECT_THAT(Values<int8_t>(*f.Find("t_I8")), ElementsAre(0, 1, 2, 3, 4, 5));
  EXPECT_THAT(Values<int16_t>(*f.Find("t_I16")), ElementsAre(0, 1, 2, 3, 4, 5));
  EXPECT_THAT(Values<int32_t>(*f.Find("t_I32")), ElementsAre(0, 1, 2, 3, 4, 5));
  EXPECT_THAT(Values<int64_t>(*f.Find("t_I64")), ElementsAre(0, 1, 2, 3, 4, 5));
  // IEEE half and bfloat16 encodings of 0..5.
  EXPECT_THAT(Values<uint16_t>(*f.Find("t_F16")),
              ElementsAre(0x0000, 0x3C00, 0x4000, 0x4200, 0x4400, 0x4500));
  EXPECT_THAT(Values<uint16_t>(*f.Find("t_BF16")),
              ElementsAre(0x0000, 0x3F80, 0x4000, 0x4040, 0x4080, 0x40A0));
  EXPECT_THAT(Values<float>(*f.Find("t_F32")), ElementsAre(0, 1, 2, 3, 4, 5));
  EXPECT_THAT(Values<double>(*f.Find("t_F64")), ElementsAre(0, 1, 2, 3, 4, 5));

  const TensorView* scalar = f.Find("scalar");
  ASSERT_NE(scalar, nullptr);
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_THAT(Values<float>(*scalar), ElementsAre(2.5f));
  const TensorView* empty = f.Find("empty");
  ASSERT_NE(empty, nullptr);
  EXPECT_THAT(empty->shape, ElementsAre(0, 4));
  EXPECT_EQ(empty->nbytes, 0u);
}

}  // namespace
}  // namespace liger
