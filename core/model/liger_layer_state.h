#pragma once

#include <memory>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "core/model/layer_state.h"
#include "core/model/liger_state_pool.h"

namespace liger {

// A Liger layer's memory of one sequence, fixed in size however many tokens it has seen: one row of
// its layer's LigerStatePool, holding the float32 recurrent state(s) [KV, K, V] (GSA keeps two:
// keys->slots and slots->values) and a ring of the last `window` rotary keys and values
// [KV, window, D], slot = position % window. The row goes back to the pool on destruction.
//
// The row views (memory() ... ring_v(), Window, Append) are valid only while the caller holds
// pool().mutex(); the other methods take it themselves.
class LigerLayerState : public LayerState {
 public:
  LigerLayerState(std::shared_ptr<LigerStatePool> pool, int64_t row)
      : pool_(std::move(pool)), row_(row) {}
  ~LigerLayerState() override { pool_->Release(row_); }
  LigerLayerState(const LigerLayerState&) = delete;
  LigerLayerState& operator=(const LigerLayerState&) = delete;

  int64_t bytes() const override { return pool_->row_bytes(); }
  std::unique_ptr<LayerState> Clone() const override;
  int64_t tokens() const override { return seen_; }
  absl::string_view kind() const override { return "liger"; }
  // Tensors "memory", "slot_memory" (GSA only), "ring_k", "ring_v", all fixed-size copies; no
  // integers, since `seen` is the token count.
  LayerStateContents Export() const override;
  absl::Status Import(LayerStateContents contents, int64_t tokens) override;

  LigerStatePool& pool() const { return *pool_; }
  int64_t row() const { return row_; }
  int64_t seen() const { return seen_; }
  void set_seen(int64_t seen) { seen_ = seen; }

  torch::Tensor memory() const { return pool_->memory().select(0, row_); }
  torch::Tensor slot_memory() const {  // GSA only; undefined otherwise
    return pool_->has_slot_memory() ? pool_->slot_memory().select(0, row_) : torch::Tensor();
  }
  torch::Tensor ring_k() const { return pool_->ring_k().select(0, row_); }
  torch::Tensor ring_v() const { return pool_->ring_v().select(0, row_); }
  // The ring's valid entries in chronological order: [KV, min(seen, window), D] each.
  std::pair<torch::Tensor, torch::Tensor> Window() const;
  // Stores rotary keys/values [KV, T, D] of positions seen .. seen + T - 1 (only the last `window`
  // matter) and advances `seen` by T.
  void Append(const torch::Tensor& k, const torch::Tensor& v);

 private:
  // The row views in Export's order.
  std::vector<std::pair<const char*, torch::Tensor>> Views() const;

  std::shared_ptr<LigerStatePool> pool_;
  const int64_t row_;
  int64_t seen_ = 0;
};

}  // namespace liger
