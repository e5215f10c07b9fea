#include "core/model/ops/gated_linear_attention.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "core/model/ops/tensor_checks.h"

namespace liger {
namespace {

constexpr char kGlaPrefillOp[] = "GatedLinearAttention";

// x [B,H,T,D] -> [B,H,N,C,D], zero-padded at the end to N*C tokens. A zero log gate is no decay and
// a zero key writes nothing, so padding changes neither the outputs kept nor the final state.
torch::Tensor ToChunks(const torch::Tensor& x, int64_t chunk) {
  const int64_t t = x.size(2), n = (t + chunk - 1) / chunk;
  torch::Tensor padded = n * chunk == t ? x : torch::constant_pad_nd(x, {0, 0, 0, n * chunk - t});
  return padded.view({x.size(0), x.size(1), n, chunk, x.size(3)});
}

// Largest decay within one sub-chunk for which the diagonal blocks factor through the reference
// point: exp(60) and exp(-60) are well inside float32's range.
constexpr double kMaxFactoredDecay = 60;

// Outputs of every chunk from its own tokens only (the incoming state is left to the caller). With b
// the cumulative log gate from the chunk start, o_t = sum_{s<=t} [sum_c q_tc k_sc exp(b_tc - b_sc)]
// v_s. Sub-chunks of `sub` tokens split the [C,C] score matrix into blocks, and the decay factors
// through the reference point r_i (b just before sub-chunk i) as exp(b_t - r_i) * exp(r_i - b_s):
// two matmul-ready tensors. Below the diagonal both factors are <= 1. On the diagonal blocks the
// second factor exceeds 1, by at most the sub-chunk's own decay; when that stays below
// kMaxFactoredDecay in every channel (all realistic gates), the diagonal uses the same product.
// Otherwise (gates that wipe the state within a few tokens) the diagonal blocks take the exact
// per-channel decay from a [S,S,channels] tensor, where every exponent is <= 0.
// q,k,b: [B,H,N,C,K]; v: [B,H,N,C,V]; b in float64.
torch::Tensor IntraChunkOutputs(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                const torch::Tensor& b, int64_t sub) {
  const int64_t bs = q.size(0), h = q.size(1), n = q.size(2), c = q.size(3);
  const int64_t m = c / sub;
  auto blocks = [&](const torch::Tensor& x) { return x.view({bs, h, n, m, sub, x.size(4)}); };
  const torch::Tensor qb = blocks(q), kb = blocks(k), bb = blocks(b);
  const auto bool_options = q.options().dtype(torch::kBool);

  // r_i: 0 for the first sub-chunk, else b at the last token of sub-chunk i-1. [B,H,N,M,1,K]
  const torch::Tensor block_ends = bb.narrow(4, sub - 1, 1);
  const torch::Tensor r =
      torch::cat({torch::zeros_like(block_ends.narrow(3, 0, 1)), block_ends.narrow(3, 0, m - 1)}, 3);
  const bool factored = (r - block_ends).max().item<double>() <= kMaxFactoredDecay;
  // Blocks [.., i, j, t, s]. Exponents of masked-out blocks (j > i, and j == i when not factored)
  // are clamped only to keep them finite.
  const torch::Tensor q_dec = qb * DecayFactor(bb - r);  // [B,H,N,M,S,K]
  const torch::Tensor k_dec =
      kb.unsqueeze(3) * DecayFactor((r.unsqueeze(4) - bb.unsqueeze(3))
                                        .clamp_max(factored ? kMaxFactoredDecay : 0));  // [.., i, j, S, K]
  const torch::Tensor lower_blocks = torch::ones({m, m}, bool_options).tril(-1).view({m, m, 1, 1});
  const torch::Tensor diagonal_blocks = torch::eye(m, bool_options).view({m, m, 1, 1});
  const torch::Tensor causal = torch::ones({sub, sub}, bool_options).tril();  // s <= t
  const torch::Tensor visible =
      factored ? lower_blocks.logical_or(diagonal_blocks.logical_and(causal)) : lower_blocks;
  torch::Tensor scores = torch::matmul(q_dec.unsqueeze(4), k_dec.transpose(-1, -2))
                             .masked_fill(visible.logical_not(), 0);
  if (!factored) {
    const torch::Tensor future = causal.logical_not().unsqueeze(-1);
    const torch::Tensor log_decay = (bb.unsqueeze(5) - bb.unsqueeze(4))
                                        .masked_fill(future, -std::numeric_limits<double>::infinity());
    const torch::Tensor diagonal =
        (qb.unsqueeze(5) * kb.unsqueeze(4) * DecayFactor(log_decay)).sum(-1);
    scores = scores + diagonal.unsqueeze(4) * diagonal_blocks.to(q.scalar_type());
  }
  // [.., i, j, t, s] -> [.., (i t), (j s)]: one [C,C] matrix per chunk.
  scores = scores.permute({0, 1, 2, 3, 5, 4, 6}).reshape({bs, h, n, c, c});
  return torch::matmul(scores, v);
}

}  // namespace

absl::StatusOr<GlaResult> GatedLinearAttention(const torch::Tensor& q, const torch::Tensor& k,
                                               const torch::Tensor& v, const torch::Tensor& log_gate,
                                               const torch::Tensor& state, int64_t chunk_size) {
  if (absl::Status s = CheckRecurrencePrefill(kGlaPrefillOp, GateDim::kKey, q, k, v, log_gate, state,
                                              chunk_size);
      !s.ok()) {
    return s;
  }
  try {
    const int64_t b = q.size(0), h = q.size(1), t = q.size(2), kd = q.size(3), vd = v.size(3);
    const auto f32 = q.options().dtype(torch::kFloat);
    torch::Tensor s = state.defined() ? state : torch::zeros({b, h, kd, vd}, f32);
    if (t == 0) return GlaResult{torch::empty({b, h, 0, vd}, v.options()), s};
    // Whole sub-chunks per chunk; short inputs need no chunk longer than themselves.
    const int64_t sub = std::min({kSubChunk, chunk_size, t});
    const int64_t chunk = std::min((chunk_size + sub - 1) / sub, (t + sub - 1) / sub) * sub;
    const torch::Tensor qc = ToChunks(q.to(torch::kFloat), chunk);
    const torch::Tensor kc = ToChunks(k.to(torch::kFloat), chunk);
    const torch::Tensor vc = ToChunks(v.to(torch::kFloat), chunk);
    const torch::Tensor bc = ToChunks(log_gate.to(torch::kDouble), chunk).cumsum(3);
    torch::Tensor out = IntraChunkOutputs(qc, kc, vc, bc, sub);

    // Between chunks: S_out = exp(b_last) * S_in + sum_s (k_s exp(b_last - b_s))^T v_s, a short
    // sequential pass over per-chunk terms computed for all chunks at once.
    const torch::Tensor b_last = bc.narrow(3, chunk - 1, 1);                      // [B,H,N,1,K]
    const torch::Tensor written =
        torch::matmul((kc * DecayFactor(b_last - bc)).transpose(-1, -2), vc);     // [B,H,N,K,V]
    const torch::Tensor kept = DecayFactor(b_last).transpose(-1, -2);             // [B,H,N,K,1]
    std::vector<torch::Tensor> incoming;
    incoming.reserve(qc.size(2));
    for (int64_t i = 0; i < qc.size(2); ++i) {
      incoming.push_back(s);
      s = s * kept.select(2, i) + written.select(2, i);
    }
    out = out + torch::matmul(qc * DecayFactor(bc), torch::stack(incoming, 2));
    out = out.view({b, h, -1, vd}).narrow(2, 0, t);
    return GlaResult{out.to(q.scalar_type()), s};
  } catch (const std::exception& e) {
    return StatusFromException(kGlaPrefillOp, e);
  }
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
