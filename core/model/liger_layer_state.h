#pragma once

#include <torch/torch.h>

#include "core/model/layer_state.h"

namespace liger {

// A Liger layer's memory of one sequence, fixed in size however many tokens it has seen:
// the float32 recurrent state(s) [H, K, V] (GSA keeps two: keys->slots and slots->values) and a ring
// of the last `window` rotary keys and values [KV, window, D], slot = position % window.
class LigerLayerState : public LayerState {
 public:
  LigerLayerState(torch::Tensor memory, torch::Tensor slot_memory, torch::Tensor ring_k,
                  torch::Tensor ring_v);

  int64_t bytes() const override;
  std::unique_ptr<LayerState> Clone() const override;
  int64_t tokens() const override { return seen_; }
  absl::string_view kind() const override { return "liger"; }
  // Tensors "memory", "slot_memory" (GSA only), "ring_k", "ring_v", all fixed-size; no integers,
  // since `seen` is the token count.
  LayerStateContents Export() const override;
  absl::Status Import(LayerStateContents contents, int64_t tokens) override;

  torch::Tensor& memory() { return memory_; }
  torch::Tensor& slot_memory() { return slot_memory_; }  // GSA only; undefined otherwise
  torch::Tensor& ring_k() { return ring_k_; }
  torch::Tensor& ring_v() { return ring_v_; }
  int64_t seen() const { return seen_; }
  void set_seen(int64_t seen) { seen_ = seen; }

  // The ring's valid entries in chronological order: [KV, min(seen, window), D] each.
  std::pair<torch::Tensor, torch::Tensor> Window() const;
  // Stores rotary keys/values [KV, T, D] of positions seen .. seen + T - 1 (only the last `window`
  // matter) and advances `seen` by T.
  void Append(const torch::Tensor& k, const torch::Tensor& v);

 private:
  torch::Tensor memory_, slot_memory_, ring_k_, ring_v_;
  int64_t seen_ = 0;
};

}  // namespace liger
