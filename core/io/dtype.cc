#include "core/io/dtype.h"

#include <array>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"

namespace liger {
namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
};

// Indexed by the enum's value, so the order must follow the declaration.
constexpr std::array<DTypeInfo, 13> kDTypes = {{
    {DType::kBool, "BOOL", 1},
    {DType::kUInt8, "U8", 1},
    {DType::kInt8, "I8", 1},
    {DType::kInt16, "I16", 2},
    {DType::kUInt16, "U16", 2},
    {DType::kInt32, "I32", 4},
    {DType::kUInt32, "U32", 4},
    {DType::kInt64, "I64", 8},
    {DType::kUInt64, "U64", 8},
    {DType::kFloat16, "F16", 2},
    {DType::kBFloat16, "BF16", 2},
    {DType::kFloat32, "F32", 4},
    {DType::kFloat64, "F64", 8},
}};

constexpr bool TableFollowsEnum() {
  for (size_t i = 0; i < kDTypes.size(); ++i) {
    if (static_cast<size_t>(kDTypes[i].dtype) != i) return false;
  }
  return true;
}
static_assert(TableFollowsEnum(), "kDTypes must list DType values in declaration order");

const DTypeInfo* Info(DType dtype) {
  const auto index = static_cast<size_t>(dtype);
  if (index >= kDTypes.size()) return nullptr;
  return &kDTypes[index];
}

}  // namespace

absl::StatusOr<DType> DTypeFromName(std::string_view name) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.name == name) return info.dtype;
  }
  // CHexEscape keeps hostile bytes from a file out of logs.
  return absl::InvalidArgumentError(absl::StrFormat(
      "unsupported dtype \"%s\" (supported: BOOL, U8, I8, I16, U16, I32, U32, I64, U64, F16, BF16, "
      "F32, F64)",
      absl::CHexEscape(absl::string_view(name.data(), name.size()))));
}

std::string_view DTypeName(DType dtype) {
  const DTypeInfo* info = Info(dtype);
  return info == nullptr ? "INVALID" : info->name;
}

size_t DTypeSize(DType dtype) {
  const DTypeInfo* info = Info(dtype);
  return info == nullptr ? 0 : info->size;
}

}  // namespace liger
