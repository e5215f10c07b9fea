#include "core/io/dtype.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace liger {
namespace {

using ::testing::HasSubstr;

struct Expected {
  DType dtype;
  const char* name;
  size_t size;
};

// From the safetensors format description.
const std::vector<Expected>& Table() {
  static const std::vector<Expected> table = {
      {DType::kBool, "BOOL", 1},   {DType::kUInt8, "U8", 1},      {DType::kInt8, "I8", 1},
      {DType::kInt16, "I16", 2},   {DType::kUInt16, "U16", 2},    {DType::kInt32, "I32", 4},
      {DType::kUInt32, "U32", 4},  {DType::kInt64, "I64", 8},     {DType::kUInt64, "U64", 8},
      {DType::kFloat16, "F16", 2}, {DType::kBFloat16, "BF16", 2}, {DType::kFloat32, "F32", 4},
      {DType::kFloat64, "F64", 8},
  };
  return table;
}

TEST(DTypeTest, NamesAndSizesFollowTheSafetensorsSpec) {
  for (const Expected& e : Table()) {
    EXPECT_EQ(DTypeName(e.dtype), e.name);
    EXPECT_EQ(DTypeSize(e.dtype), e.size) << e.name;
    absl::StatusOr<DType> parsed = DTypeFromName(e.name);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, e.dtype) << e.name;
  }
}

TEST(DTypeTest, RejectsUnsupportedAndUnknownNames) {
  for (const std::string name : {"F8_E4M3", "F8_E5M2", "C64", "bf16", "f32", "", "F32 "}) {
    absl::StatusOr<DType> parsed = DTypeFromName(name);
    ASSERT_FALSE(parsed.ok()) << name;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(), HasSubstr("\"" + name + "\""));
  }
}

TEST(DTypeTest, OutOfRangeValueIsNotAValidType) {
  const auto bogus = static_cast<DType>(200);
  EXPECT_EQ(DTypeSize(bogus), 0u);
  EXPECT_FALSE(DTypeFromName(DTypeName(bogus)).ok());
}

}  // namespace
}  // namespace liger
