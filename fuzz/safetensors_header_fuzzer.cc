// The header of an untrusted safetensors file: the whole input is the file.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "core/io/dtype.h"
#include "core/io/safetensors_header.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view file(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<liger::SafetensorsHeader> header = liger::ParseSafetensorsHeader(file, "fuzz");
  if (!header.ok()) return 0;
  // What ParseSafetensorsHeader promises of an accepted header: every tensor's bytes lie in the
  // file, match its shape and dtype, and no two tensors share a byte.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, entry] : header->tensors) {
    LIGER_FUZZ_CHECK(entry.begin <= entry.end && entry.end <= size);
    uint64_t elements = 1;
    for (const int64_t dim : entry.shape) {
      LIGER_FUZZ_CHECK(dim >= 0);
      elements *= static_cast<uint64_t>(dim);
    }
    LIGER_FUZZ_CHECK(elements * liger::DTypeSize(entry.dtype) == entry.end - entry.begin);
    if (entry.begin < entry.end) ranges.emplace_back(entry.begin, entry.end);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    LIGER_FUZZ_CHECK(ranges[i - 1].second <= ranges[i].first);
  }
  return 0;
}
