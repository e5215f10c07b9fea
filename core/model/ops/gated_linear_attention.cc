#include "core/model/ops/gated_linear_attention.h"

#include <algorithm>
#include <limits>

#include "core/model/ops/tensor_checks.h"

namespace liger {
namespace {

// With b_t the cumulative log gate from the chunk start (b_t includes g_t) and S0 the incoming state:
//   o_t = (q_t * exp(b_t)) S0 + sum_{j<=t} [sum_c q_tc k_jc exp(b_tc - b_jc)] v_j
//   S_L = exp(b_L) * S0 + sum_j (k_j * exp(b_L - b_j))^T v_j
// Every exponent used is a decay over a forward interval, so it is <= 0: nothing overflows, and
// factors that underflow to 0 stand for contributions below float32 resolution anyway.
void KeyGatedChunk(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                   const torch::Tensor& log_gate, torch::Tensor& state, torch::Tensor out) {
  const int64_t len = q.size(2);
  const torch::Tensor b = log_gate.to(torch::kDouble).cumsum(2);
  out.copy_(torch::matmul(q * DecayFactor(b), state));
  for (int64_t s0 = 0; s0 < len; s0 += kSubChunk) {
    const int64_t n = std::min(kSubChunk, len - s0);
    const torch::Tensor q_s = q.narrow(2, s0, n), k_s = k.narrow(2, s0, n);
    const torch::Tensor v_s = v.narrow(2, s0, n), b_s = b.narrow(2, s0, n);
    torch::Tensor o_s = out.narrow(2, s0, n);
    if (s0 > 0) {
      // Earlier sub-chunks, through the reference point r = b just before this sub-chunk:
      // exp(b_t - b_j) = exp(b_t - r) * exp(r - b_j), both factors <= 1.
      const torch::Tensor r = b.narrow(2, s0 - 1, 1);
      const torch::Tensor q_dec = q_s * DecayFactor(b_s - r);
      const torch::Tensor k_dec = k.narrow(2, 0, s0) * DecayFactor(r - b.narrow(2, 0, s0));
      o_s.add_(torch::matmul(torch::matmul(q_dec, k_dec.transpose(-1, -2)), v.narrow(2, 0, s0)));
    }
    // Diagonal block: the exact per-channel decay exp(b_t - b_j), zero above the diagonal.
    const torch::Tensor future = torch::ones({n, n}, b.options().dtype(torch::kBool)).triu(1);
    const torch::Tensor log_decay = (b_s.unsqueeze(3) - b_s.unsqueeze(2))
                                        .masked_fill(future.unsqueeze(-1),
                                                     -std::numeric_limits<double>::infinity());
    const torch::Tensor scores = (q_s.unsqueeze(3) * k_s.unsqueeze(2) * DecayFactor(log_decay)).sum(-1);
    o_s.add_(torch::matmul(scores, v_s));
  }
  const torch::Tensor b_last = b.narrow(2, len - 1, 1);
  state = state * DecayFactor(b_last).transpose(-1, -2) +
          torch::matmul((k * DecayFactor(b_last - b)).transpose(-1, -2), v);
}

}  // namespace

absl::StatusOr<GlaResult> GatedLinearAttention(const torch::Tensor& q, const torch::Tensor& k,
                                               const torch::Tensor& v, const torch::Tensor& log_gate,
                                               const torch::Tensor& state, int64_t chunk_size) {
  return RunChunkedRecurrence("GatedLinearAttention", GateDim::kKey, &KeyGatedChunk, q, k, v, log_gate,
                              state, chunk_size);
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
    return torch::matmul(q.to(torch::kFloat).unsqueeze(-2), state).squeeze(-2).to(q.scalar_type());
  } catch (const std::exception& e) {
    return StatusFromException(kOp, e);
  }
}

}  // namespace liger
