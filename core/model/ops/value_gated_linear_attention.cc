#include "core/model/ops/value_gated_linear_attention.h"

#include <algorithm>
#include <limits>

#include "core/model/ops/tensor_checks.h"

namespace liger {
namespace {

// With b_t the cumulative log gate (over value channels) from the chunk start and S0 the incoming
// state, writing A_tj = q_t . k_j:
//   o_t = (q_t S0) * exp(b_t) + sum_{j<=t} A_tj v_j * exp(b_t - b_j)
//   S_L = S0 * exp(b_L) + k^T (v * exp(b_L - b))
// As in the key-gated kernel, every exponent is a forward-interval decay, hence <= 0.
void ValueGatedChunk(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& log_gate, torch::Tensor& state, torch::Tensor out) {
  const int64_t len = q.size(2);
  const torch::Tensor b = log_gate.to(torch::kDouble).cumsum(2);
  out.copy_(torch::matmul(q, state) * DecayFactor(b));
  for (int64_t s0 = 0; s0 < len; s0 += kSubChunk) {
    const int64_t n = std::min(kSubChunk, len - s0);
    const torch::Tensor q_s = q.narrow(2, s0, n), k_s = k.narrow(2, s0, n);
    const torch::Tensor v_s = v.narrow(2, s0, n), b_s = b.narrow(2, s0, n);
    torch::Tensor o_s = out.narrow(2, s0, n);
    if (s0 > 0) {
      // Earlier sub-chunks through the reference point r = b just before this sub-chunk.
      const torch::Tensor r = b.narrow(2, s0 - 1, 1);
      const torch::Tensor v_dec = v.narrow(2, 0, s0) * DecayFactor(r - b.narrow(2, 0, s0));
      const torch::Tensor scores = torch::matmul(q_s, k.narrow(2, 0, s0).transpose(-1, -2));
      o_s.add_(torch::matmul(scores, v_dec) * DecayFactor(b_s - r));
    }
    // Diagonal block: the exact per-channel decay exp(b_t - b_j), zero above the diagonal.
    const torch::Tensor future = torch::ones({n, n}, b.options().dtype(torch::kBool)).triu(1);
    const torch::Tensor log_decay = (b_s.unsqueeze(3) - b_s.unsqueeze(2))
                                        .masked_fill(future.unsqueeze(-1),
                                                     -std::numeric_limits<double>::infinity());
    const torch::Tensor scores = torch::matmul(q_s, k_s.transpose(-1, -2));
    o_s.add_((scores.unsqueeze(-1) * v_s.unsqueeze(2) * DecayFactor(log_decay)).sum(3));
  }
  const torch::Tensor b_last = b.narrow(2, len - 1, 1);
  state = state * DecayFactor(b_last) +
          torch::matmul(k.transpose(-1, -2), v * DecayFactor(b_last - b));
}

}  // namespace

absl::StatusOr<GlaResult> GatedLinearAttentionValueGate(const torch::Tensor& q, const torch::Tensor& k,
                                                        const torch::Tensor& v,
                                                        const torch::Tensor& log_gate_v,
                                                        const torch::Tensor& state,
                                                        int64_t chunk_size) {
  return RunChunkedRecurrence("GatedLinearAttentionValueGate", GateDim::kValue, &ValueGatedChunk, q, k,
                              v, log_gate_v, state, chunk_size);
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
    return torch::matmul(q.to(torch::kFloat).unsqueeze(-2), state).squeeze(-2).to(q.scalar_type());
  } catch (const std::exception& e) {
    return StatusFromException(kOp, e);
  }
}

}  // namespace liger
