#include "core/model/ops/gated_linear_attention.h"

#include "core/model/ops/tensor_checks.h"
#ifdef LIGER_WITH_CUDA
#include "core/model/ops/fused_key_gated_recurrence.h"
#endif

namespace liger {

absl::StatusOr<GlaResult> GatedLinearAttention(const torch::Tensor& q, const torch::Tensor& k,
                                               const torch::Tensor& v, const torch::Tensor& log_gate,
                                               const torch::Tensor& state, int64_t chunk_size) {
  constexpr char kOp[] = "GatedLinearAttention";
#ifdef LIGER_WITH_CUDA
  if (absl::Status s = CheckRecurrencePrefill(kOp, GateDim::kKey, q, k, v, log_gate, state, chunk_size);
      !s.ok()) {
    return s;
  }
  if (FusedKeyGatedRecurrenceApplies(q, k, v, log_gate)) {
    return FusedKeyGatedRecurrence(q, k, v, log_gate, state);
  }
#endif
  return RunChunkedRecurrence(kOp, GateDim::kKey, q, k, v, log_gate, state, chunk_size);
}

absl::StatusOr<torch::Tensor> GatedLinearAttentionStep(const torch::Tensor& q, const torch::Tensor& k,
                                                       const torch::Tensor& v,
                                                       const torch::Tensor& log_gate,
                                                       torch::Tensor& state) {
  constexpr char kOp[] = "GatedLinearAttentionStep";
  if (absl::Status s = CheckRecurrenceStep(kOp, GateDim::kKey, q, k, v, log_gate, state); !s.ok()) {
    return s;
  }
  try {
    const torch::Tensor kf = k.to(torch::kFloat), vf = v.to(torch::kFloat);
    state.mul_(log_gate.to(torch::kFloat).exp().unsqueeze(-1));
    state.add_(kf.unsqueeze(-1) * vf.unsqueeze(-2));
    // [B,KV,G,K] x [B,KV,K,V]: the group's query heads read their shared state at once.
    return torch::matmul(GroupQueries(q.to(torch::kFloat), k.size(1)), state)
        .flatten(1, 2)
        .to(q.scalar_type());
  } catch (const std::exception& e) {
    return StatusFromException(kOp, e);
  }
}

}  // namespace liger
