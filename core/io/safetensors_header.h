#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/io/dtype.h"

namespace liger {

// The validated table of contents of a safetensors file.
struct SafetensorsHeader {
  struct Entry {
    DType dtype;
    std::vector<int64_t> shape;
    uint64_t begin = 0;  // byte offsets into the file (not the data section), begin <= end
    uint64_t end = 0;
  };

  std::map<std::string, Entry> tensors;
  std::map<std::string, std::string> metadata;
};

// The largest header the reference implementation accepts.
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// Parses and validates the header of the whole safetensors file `file` (its bytes; `path` only
// names it in messages): every tensor's byte range lies in the data section, matches its shape and
// dtype, and no two tensors share a byte (gaps between tensors are accepted). Truncated or corrupt
// files give DATA_LOSS; well-formed content this project does not support (an unknown dtype, a
// header beyond kMaxSafetensorsHeaderBytes) gives INVALID_ARGUMENT.
absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(std::string_view file,
                                                         const std::string& path);

}  // namespace liger
