#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "core/model/ops/linear_attention_common.h"

namespace liger {

// Gated linear attention with the decay on the KEY dimension (Liger-GLA, HGRN2, GSA's second pass).
// Per KV head: S_t = diag(exp(log_gate_t)) S_{t-1} + k_t^T v_t ; per query head: o_t = q_t S_t
// (scale 1), reading its group's state (grouped-query heads: linear_attention_common.h).
//
// q: [B,H,T,K]; k,log_gate: [B,KV,T,K]; v: [B,KV,T,V]; q,k,v share a dtype; log_gate <= 0 (any
// float dtype); state: [B,KV,K,V] float32, or undefined for zeros. The math runs in float32, in chunks
// (chunk_size tokens, cost linear in T); the output has q's dtype. `state` is not modified; the
// returned final_state is new, except that T == 0 returns `state` itself (zeros if undefined).
// In CUDA builds, float32 CUDA inputs with K == V in {32, 64, 128} run the fused kernels
// (fused_key_gated_recurrence.h), which choose their own chunk length.
absl::StatusOr<GlaResult> GatedLinearAttention(const torch::Tensor& q, const torch::Tensor& k,
                                               const torch::Tensor& v, const torch::Tensor& log_gate,
                                               const torch::Tensor& state, int64_t chunk_size = 64);

// The same recurrence for one token per sequence: q [B,H,K], k,log_gate [B,KV,K], v [B,KV,V];
// `state` [B,KV,K,V] float32 is advanced in place. Returns o [B,H,V] in q's dtype.
absl::StatusOr<torch::Tensor> GatedLinearAttentionStep(const torch::Tensor& q, const torch::Tensor& k,
                                                       const torch::Tensor& v,
                                                       const torch::Tensor& log_gate,
                                                       torch::Tensor& state);

}  // namespace liger
