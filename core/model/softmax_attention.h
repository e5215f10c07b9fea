#pragma once

#include <optional>

#include "core/model/kv_cache_state.h"
#include "core/model/model_config.h"
#include "core/model/sequence_mixer.h"

namespace liger {

// Causal softmax attention with rotary embeddings and grouped-query heads: the teacher's mixer, and
// the full-attention layers of an inter-layer hybrid.
class SoftmaxAttention : public SequenceMixer {
 public:
  // sliding_window: Mistral-style limit on how far back a token may attend (none = unlimited);
  // device and dtype: where and in what the KV caches live.
  SoftmaxAttention(const ModelConfig& config, std::optional<int64_t> sliding_window,
                   torch::Device device, torch::ScalarType dtype);

  std::unique_ptr<LayerState> NewState() const override;
  torch::Tensor Forward(const MixerInputs& in) const override;
  torch::Tensor Prefill(const MixerInputs& in, LayerState& state) const override;
  torch::Tensor Decode(const MixerInputs& in, absl::Span<LayerState* const> states) const override;

 private:
  // q [B, H, Tq, D] over keys/values [B, KV, Tk, D] whose first key sits at absolute position
  // key_start; the queries sit at positions query_start .. query_start + Tq - 1.
  torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       int64_t query_start, int64_t key_start) const;

  int64_t groups_, kv_heads_, head_dim_;
  double scale_;
  torch::TensorOptions cache_options_;
  std::optional<int64_t> sliding_window_;
};

}  // namespace liger
