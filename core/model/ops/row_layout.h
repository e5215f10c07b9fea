#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace liger {

// The stride between consecutive rows of x seen as [rows, x.size(-1)], or 0 when its leading dims
// do not collapse into one stride (size-1 dims are skipped). The fused row kernels take such views.
inline int64_t RowStride(const torch::Tensor& x) {
  const int64_t dims = x.dim();
  if (dims < 2) return x.size(-1);
  for (int64_t i = 0; i + 2 < dims; ++i) {
    if (x.size(i) != 1 && x.stride(i) != x.stride(i + 1) * x.size(i + 1)) return 0;
  }
  return x.stride(dims - 2);
}

}  // namespace liger
