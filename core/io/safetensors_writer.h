#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "core/io/tensor_view.h"

namespace liger {

// Writes `tensors` (each a dense row-major buffer) and `metadata` to `path` as a safetensors file
// that the reference library reads: the JSON header is padded with spaces to a multiple of 8 bytes
// and the tensors are laid out contiguously, largest element size first (input order otherwise),
// so every tensor's data is aligned to its element size. The file is replaced atomically.
// INVALID_ARGUMENT for a repeated or reserved ("__metadata__") name, names or metadata that are not
// valid UTF-8, or a view whose nbytes disagrees with shape x dtype; I/O errors as AtomicFileWriter.
absl::Status WriteSafetensors(const std::string& path,
                              const std::vector<std::pair<std::string, TensorView>>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace liger
