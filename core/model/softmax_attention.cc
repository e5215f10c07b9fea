#include "core/model/softmax_attention.h"

#include <cmath>

#include "core/model/ops/grouped_heads.h"
#include "core/model/rotary_embedding.h"

namespace liger {

SoftmaxAttention::SoftmaxAttention(const ModelConfig& config, std::optional<int64_t> sliding_window,
                                   torch::Device device, torch::ScalarType dtype)
    : groups_(config.num_attention_heads / config.num_key_value_heads),
      kv_heads_(config.num_key_value_heads),
      head_dim_(config.head_dim),
      scale_(1.0 / std::sqrt(static_cast<double>(config.head_dim))),
      cache_options_(torch::TensorOptions().dtype(dtype).device(device)),
      sliding_window_(sliding_window) {}

std::unique_ptr<LayerState> SoftmaxAttention::NewState() const {
  return std::make_unique<KvCacheState>(kv_heads_, head_dim_, cache_options_);
}

torch::Tensor SoftmaxAttention::Attend(const torch::Tensor& q, const torch::Tensor& k,
                                       const torch::Tensor& v, int64_t query_start,
                                       int64_t key_start) const {
  const int64_t tq = q.size(2);
  const int64_t tk = k.size(2);
  torch::Tensor scores = torch::matmul(q, RepeatHeads(k, groups_).transpose(-1, -2)) * scale_;
  auto idx = torch::TensorOptions().dtype(torch::kInt64).device(q.device());
  torch::Tensor qpos = torch::arange(query_start, query_start + tq, idx).unsqueeze(1);
  torch::Tensor kpos = torch::arange(key_start, key_start + tk, idx).unsqueeze(0);
  torch::Tensor allowed = kpos <= qpos;
  if (sliding_window_) allowed = allowed.logical_and(qpos - kpos < *sliding_window_);
  scores = scores.masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity());
  torch::Tensor probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
  return torch::matmul(probs, RepeatHeads(v, groups_));
}

torch::Tensor SoftmaxAttention::Forward(const MixerInputs& in) const {
  torch::Tensor q = RotaryEmbedding::Apply(in.q, in.cos, in.sin);
  torch::Tensor k = RotaryEmbedding::Apply(in.k, in.cos, in.sin);
  return Attend(q, k, in.v, 0, 0);
}

torch::Tensor SoftmaxAttention::Prefill(const MixerInputs& in, LayerState& state) const {
  auto& cache = static_cast<KvCacheState&>(state);
  const int64_t start = cache.length();
  torch::Tensor q = RotaryEmbedding::Apply(in.q, in.cos, in.sin);
  torch::Tensor k = RotaryEmbedding::Apply(in.k, in.cos, in.sin);
  cache.Append(k[0], in.v[0]);
  return Attend(q, cache.keys().unsqueeze(0), cache.values().unsqueeze(0), start, 0);
}

torch::Tensor SoftmaxAttention::Decode(const MixerInputs& in,
                                       absl::Span<LayerState* const> states) const {
  // Caches differ in length, so each sequence attends on its own; the projections around this
  // call are still batched.
  torch::Tensor q = RotaryEmbedding::Apply(in.q, in.cos, in.sin);
  torch::Tensor k = RotaryEmbedding::Apply(in.k, in.cos, in.sin);
  std::vector<torch::Tensor> outputs;
  outputs.reserve(states.size());
  for (size_t b = 0; b < states.size(); ++b) {
    auto& cache = static_cast<KvCacheState&>(*states[b]);
    const int64_t position = cache.length();
    cache.Append(k[b], in.v[b]);
    outputs.push_back(Attend(q.narrow(0, b, 1), cache.keys().unsqueeze(0),
                             cache.values().unsqueeze(0), position, 0));
  }
  return torch::cat(outputs, 0);
}

}  // namespace liger
