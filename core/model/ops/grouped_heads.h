#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace liger {

// Grouped-query attention: H query heads share KV key/value heads, G = H / KV query heads per KV
// head, query head h reading KV head h / G.

// x [B,KV,...] -> [B,KV*G,...]: each KV head repeated for the G query heads of its group.
inline torch::Tensor RepeatHeads(const torch::Tensor& x, int64_t groups) {
  if (groups == 1) return x;
  std::vector<int64_t> expanded = x.sizes().vec();
  expanded.insert(expanded.begin() + 2, groups);
  std::vector<int64_t> merged = x.sizes().vec();
  merged[1] *= groups;
  return x.unsqueeze(2).expand(expanded).reshape(merged);
}

// q [B,H,...] -> [B,KV,G,...], a view: the query heads of each group side by side.
inline torch::Tensor GroupQueries(const torch::Tensor& q, int64_t kv_heads) {
  std::vector<int64_t> sizes = q.sizes().vec();
  sizes[1] = q.size(1) / kv_heads;
  sizes.insert(sizes.begin() + 1, kv_heads);
  return q.view(sizes);
}

}  // namespace liger
