#include "core/model/ops/value_gated_linear_attention.h"

#include "core/model/ops/tensor_checks.h"

namespace liger {

absl::StatusOr<GlaResult> GatedLinearAttentionValueGate(const torch::Tensor& q, const torch::Tensor& k,
                                                        const torch::Tensor& v,
                                                        const torch::Tensor& log_gate_v,
                                                        const torch::Tensor& state,
                                                        int64_t chunk_size) {
  return RunChunkedRecurrence("GatedLinearAttentionValueGate", GateDim::kValue, q, k, v, log_gate_v,
                              state, chunk_size);
}

absl::StatusOr<torch::Tensor> GatedLinearAttentionValueGateStep(const torch::Tensor& q,
                                                                const torch::Tensor& k,
                                                                const torch::Tensor& v,
                                                                const torch::Tensor& log_gate_v,
                                                                torch::Tensor& state) {
  constexpr char kOp[] = "GatedLinearAttentionValueGateStep";
  if (absl::Status s = CheckRecurrenceStep(kOp, GateDim::kValue, q, k, v, log_gate_v, state);
      !s.ok()) {
    return s;
  }
  try {
    const torch::Tensor kf = k.to(torch::kFloat), vf = v.to(torch::kFloat);
    state.mul_(log_gate_v.to(torch::kFloat).exp().unsqueeze(-2));
    state.add_(kf.unsqueeze(-1) * vf.unsqueeze(-2));
    return torch::matmul(GroupQueries(q.to(torch::kFloat), k.size(1)), state)
        .flatten(1, 2)
        .to(q.scalar_type());
  } catch (const std::exception& e) {
    return StatusFromException(kOp, e);
  }
}

}  // namespace liger
