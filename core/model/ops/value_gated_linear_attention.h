#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "core/model/ops/linear_attention_common.h"

namespace liger {

// Gated linear attention with the decay on the VALUE dimension (GSA's first pass, where the readout
// contracts over the ungated dimension). Per KV head:
//   S_t = S_{t-1} diag(exp(log_gate_v_t)) + k_t^T v_t ;  per query head: o_t = q_t S_t  (scale 1).
//
// q: [B,H,T,K]; k: [B,KV,T,K]; v, log_gate_v: [B,KV,T,V]; otherwise the conventions of
// GatedLinearAttention.
absl::StatusOr<GlaResult> GatedLinearAttentionValueGate(const torch::Tensor& q, const torch::Tensor& k,
                                                        const torch::Tensor& v,
                                                        const torch::Tensor& log_gate_v,
                                                        const torch::Tensor& state,
                                                        int64_t chunk_size = 64);

// One token per sequence: q [B,H,K], k [B,KV,K], v, log_gate_v [B,KV,V]; `state` [B,KV,K,V]
// float32 is advanced in place. Returns o [B,H,V] in q's dtype.
absl::StatusOr<torch::Tensor> GatedLinearAttentionValueGateStep(const torch::Tensor& q,
                                                                const torch::Tensor& k,
                                                                const torch::Tensor& v,
                                                                const torch::Tensor& log_gate_v,
                                                                torch::Tensor& state);

}  // namespace liger
