#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "core/model/ops/linear_attention_common.h"

namespace liger {

// Gated linear attention with the decay on the VALUE dimension (GSA's first pass, where the readout
// contracts over the ungated dimension). Per head:
//   S_t = S_{t-1} diag(exp(log_gate_v_t)) + k_t^T v_t ;  o_t = q_t S_t  (scale 1).
//
// q,k: [B,H,T,K]; v, log_gate_v: [B,H,T,V]; otherwise the conventions of GatedLinearAttention.
absl::StatusOr<GlaResult> GatedLinearAttentionValueGate(const torch::Tensor& q, const torch::Tensor& k,
                                                        const torch::Tensor& v,
                                                        const torch::Tensor& log_gate_v,
                                                        const torch::Tensor& state,
                                                        int64_t chunk_size = 64);

// One token per sequence: q,k [B,H,K], v, log_gate_v [B,H,V]; `state` [B,H,K,V] float32 is
// advanced in place. Returns o [B,H,V] in q's dtype.
absl::StatusOr<torch::Tensor> GatedLinearAttentionValueGateStep(const torch::Tensor& q,
                                                                const torch::Tensor& k,
                                                                const torch::Tensor& v,
                                                                const torch::Tensor& log_gate_v,
                                                                torch::Tensor& state);

}  // namespace liger
