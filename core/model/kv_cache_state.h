#pragma once

#include <torch/torch.h>

#include "core/model/layer_state.h"

namespace liger {

// A KV cache for one sequence: rotary keys and values [KV, capacity, D], the first `length` valid.
// Capacity grows geometrically so appending a token is amortised O(1).
class KvCacheState : public LayerState {
 public:
  // The layout a cache of this layer holds, checked when importing saved contents.
  KvCacheState(int64_t kv_heads, int64_t head_dim, torch::TensorOptions options);

  int64_t bytes() const override;
  std::unique_ptr<LayerState> Clone() const override;
  int64_t tokens() const override { return length_; }
  absl::string_view kind() const override { return "kv_cache"; }
  // Tensors "keys" and "values" [KV, length, D]; integer "capacity", so an imported cache reserves
  // (and reports in bytes()) what the saved one did.
  LayerStateContents Export() const override;
  absl::Status Import(LayerStateContents contents, int64_t tokens) override;

  void Append(const torch::Tensor& k, const torch::Tensor& v);  // [KV, T, D] each
  torch::Tensor keys() const;                                   // [KV, length, D]
  torch::Tensor values() const;                                 // [KV, length, D]
  int64_t length() const { return length_; }

 private:
  int64_t kv_heads_, head_dim_;
  torch::TensorOptions options_;
  torch::Tensor k_, v_;
  int64_t length_ = 0;
};

}  // namespace liger
