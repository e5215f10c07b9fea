#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/io/dtype.h"

namespace liger {

// A non-owning view of a dense row-major tensor; `data` stays valid only while its owner (e.g. a
// SafetensorsFile) lives. `data` need not be aligned to the element size.
struct TensorView {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;

  // Product of `shape`; 1 for a 0-d tensor.
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t dim : shape) n *= dim;
    return n;
  }
};

}  // namespace liger
