#pragma once

#include <cstddef>
#include <string_view>

#include "absl/status/statusor.h"

namespace liger {

// Element types that safetensors files can hold and this project supports.
enum class DType {
  kBool,
  kUInt8,
  kInt8,
  kInt16,
  kUInt16,
  kInt32,
  kUInt32,
  kInt64,
  kUInt64,
  kFloat16,
  kBFloat16,
  kFloat32,
  kFloat64,
};

// Parses a safetensors dtype name ("BF16", "F32", ...). Names of types this project does not
// support (e.g. "F8_E4M3") or that do not exist give INVALID_ARGUMENT naming them.
absl::StatusOr<DType> DTypeFromName(std::string_view name);

// The safetensors name of `dtype`; "INVALID" for a value outside the enum.
std::string_view DTypeName(DType dtype);

// Bytes per element; 0 for a value outside the enum.
size_t DTypeSize(DType dtype);

}  // namespace liger
