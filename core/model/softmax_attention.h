#pragma once

#include <optional>

#include "core/model/model_config.h"
#include "core/model/sequence_mixer.h"

namespace liger {

// A KV cache for one sequence: rotary keys and values [KV, capacity, D], the first `length` valid.
// Capacity grows geometrically so appending a token is amortised O(1).
class KvCacheState : public LayerState {
 public:
  int64_t bytes() const override;
  std::unique_ptr<LayerState> Clone() const override;

  void Append(const torch::Tensor& k, const torch::Tensor& v);  // [KV, T, D] each
  torch::Tensor keys() const;    // [KV, length, D]
  torch::Tensor values() const;  // [KV, length, D]
  int64_t length() const { return length_; }

 private:
  torch::Tensor k_, v_;
  int64_t length_ = 0;
};

// Causal softmax attention with rotary embeddings and grouped-query heads: the teacher's mixer, and
// the full-attention layers of an inter-layer hybrid.
class SoftmaxAttention : public SequenceMixer {
 public:
  // sliding_window: Mistral-style limit on how far back a token may attend (none = unlimited).
  SoftmaxAttention(const ModelConfig& config, std::optional<int64_t> sliding_window);

  std::unique_ptr<LayerState> NewState() const override;
  torch::Tensor Forward(const MixerInputs& in) const override;
  torch::Tensor Prefill(const MixerInputs& in, LayerState& state) const override;
  torch::Tensor Decode(const MixerInputs& in, absl::Span<LayerState* const> states) const override;

 private:
  // q [B, H, Tq, D] over keys/values [B, KV, Tk, D] whose first key sits at absolute position
  // key_start; the queries sit at positions query_start .. query_start + Tq - 1.
  torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       int64_t query_start, int64_t key_start) const;

  int64_t groups_;
  double scale_;
  std::optional<int64_t> sliding_window_;
};

}  // namespace liger
