#include "core/model/ops/linear_attention_common.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/model/ops/tensor_checks.h"

namespace liger {
namespace {

// Shapes shared by prefill ([B,H,T,*] tensors) and step ([B,H,*] tensors) calls. k, v, the gates
// and the state carry KV heads, KV dividing q's H.
absl::Status CheckArgs(GateDim gate_dim, const torch::Tensor& q, const torch::Tensor& k,
                       const torch::Tensor& v, const torch::Tensor& log_gate,
                       const torch::Tensor& state, bool has_time) {
  const int64_t rank = has_time ? 4 : 3;
  if (!q.defined() || q.dim() != rank) {
    return absl::InvalidArgumentError(absl::StrCat("q: expected a defined rank-", rank, " tensor"));
  }
  const int64_t b = q.size(0), h = q.size(1), t = has_time ? q.size(2) : 0, kd = q.size(rank - 1);
  auto shape = [&](int64_t heads, int64_t last) {
    return has_time ? std::vector<int64_t>{b, heads, t, last} : std::vector<int64_t>{b, heads, last};
  };
  if (absl::Status s = CheckTensor(q, "q", shape(h, kd), q); !s.ok()) return s;
  if (absl::Status s = CheckTensor(k, "k", shape(-1, kd), q); !s.ok()) return s;
  if (absl::Status s = CheckGroupedHeads(q, k); !s.ok()) return s;
  const int64_t kv = k.size(1);
  if (absl::Status s = CheckTensor(v, "v", shape(kv, -1), q); !s.ok()) return s;
  const int64_t vd = v.size(rank - 1);
  const int64_t gd = gate_dim == GateDim::kKey ? kd : vd;
  if (absl::Status s = CheckTensor(log_gate, "log_gate", shape(kv, gd), q); !s.ok()) return s;
  if (absl::Status s = CheckDtype(k, "k", q.scalar_type()); !s.ok()) return s;
  if (absl::Status s = CheckDtype(v, "v", q.scalar_type()); !s.ok()) return s;
  if (!has_time && !state.defined()) return absl::InvalidArgumentError("state: tensor is undefined");
  if (state.defined()) {
    if (absl::Status s = CheckTensor(state, "state", {b, kv, kd, vd}, q); !s.ok()) return s;
    if (absl::Status s = CheckDtype(state, "state", torch::kFloat); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

torch::Tensor DecayFactor(const torch::Tensor& log_decay64) {
  return log_decay64.to(torch::kFloat).exp();
}

absl::Status CheckRecurrencePrefill(const char* op, GateDim gate_dim, const torch::Tensor& q,
                                    const torch::Tensor& k, const torch::Tensor& v,
                                    const torch::Tensor& log_gate, const torch::Tensor& state,
                                    int64_t chunk_size) {
  if (absl::Status s = CheckArgs(gate_dim, q, k, v, log_gate, state, true); !s.ok()) {
    return Annotate(op, s);
  }
  if (chunk_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat(op, ": chunk_size must be >= 1, got ", chunk_size));
  }
  return absl::OkStatus();
}

namespace {

// Largest decay within one sub-chunk for which the diagonal blocks factor through the reference
// point: exp(60) and exp(-60) are well inside float32's range.
constexpr double kMaxFactoredDecay = 60;

// x [B,H,T,D] -> [B,H,N,C,D], zero-padded at the end to N*C tokens. A zero log gate is no decay and
// a zero key writes nothing, so padding changes neither the outputs kept nor the final state.
torch::Tensor ToChunks(const torch::Tensor& x, int64_t chunk) {
  const int64_t t = x.size(2), n = (t + chunk - 1) / chunk;
  torch::Tensor padded = n * chunk == t ? x : torch::constant_pad_nd(x, {0, 0, 0, n * chunk - t});
  return padded.view({x.size(0), x.size(1), n, chunk, x.size(3)});
}

// Outputs of every chunk from its own tokens only (the incoming state is the caller's). With b the
// cumulative log gate from the chunk start, a token s contributes to a later token t through the
// decay exp(b_t - b_s), per key channel (kKey) or per value channel (kValue). Sub-chunks of `sub`
// tokens split each chunk into blocks, and the decay factors through the reference point r_i (b just
// before sub-chunk i) as exp(b_t - r_i) * exp(r_i - b_s): one factor on the queries' side, one on
// the keys' (or values') side, so the blocks are plain matmuls. Below the diagonal both factors are
// <= 1. On the diagonal blocks the second exceeds 1, by at most the sub-chunk's own decay: when
// that stays below kMaxFactoredDecay in every channel (all realistic gates), they use the same
// product; otherwise (gates that wipe the state within a few tokens) they take the exact decay from
// a [S,S,channels] tensor whose exponents are all <= 0.
// q,k: [B,H,N,C,K]; v: [B,H,N,C,V]; b: [B,H,N,C,K or V] in float64. Returns [B,H,N,C,V].
torch::Tensor IntraChunkOutputs(GateDim gate_dim, const torch::Tensor& q, const torch::Tensor& k,
                                const torch::Tensor& v, const torch::Tensor& b, int64_t sub) {
  const int64_t bs = q.size(0), h = q.size(1), n = q.size(2), c = q.size(3);
  const int64_t m = c / sub;
  auto blocks = [&](const torch::Tensor& x) { return x.view({bs, h, n, m, sub, x.size(4)}); };
  const torch::Tensor qb = blocks(q), kb = blocks(k), vb = blocks(v), bb = blocks(b);
  const auto bool_options = q.options().dtype(torch::kBool);

  // r_i: 0 for the first sub-chunk, else b at the last token of sub-chunk i-1. [B,H,N,M,1,G]
  const torch::Tensor block_ends = bb.narrow(4, sub - 1, 1);
  const torch::Tensor r =
      torch::cat({torch::zeros_like(block_ends.narrow(3, 0, 1)), block_ends.narrow(3, 0, m - 1)}, 3);
  const bool factored = (r - block_ends).max().item<double>() <= kMaxFactoredDecay;
  // Masked-out exponents (blocks j > i, and j == i when not factored) are clamped only to stay finite.
  const torch::Tensor query_decay = DecayFactor(bb - r);  // [B,H,N,M,S,G], <= 1
  const torch::Tensor source_decay = DecayFactor(
      (r.unsqueeze(4) - bb.unsqueeze(3)).clamp_max(factored ? kMaxFactoredDecay : 0));  // [..,i,j,S,G]
  const torch::Tensor lower_blocks = torch::ones({m, m}, bool_options).tril(-1).view({m, m, 1, 1});
  const torch::Tensor diagonal_blocks = torch::eye(m, bool_options).view({m, m, 1, 1});
  const torch::Tensor causal = torch::ones({sub, sub}, bool_options).tril();  // s <= t
  const torch::Tensor hidden =
      (factored ? lower_blocks.logical_or(diagonal_blocks.logical_and(causal)) : lower_blocks)
          .logical_not();
  // The exact diagonal-block decays [B,H,N,M,S(t),S(s),G], zero above the diagonal.
  auto exact_diagonal_decay = [&] {
    return DecayFactor((bb.unsqueeze(5) - bb.unsqueeze(4))
                           .masked_fill(causal.logical_not().unsqueeze(-1),
                                        -std::numeric_limits<double>::infinity()));
  };

  if (gate_dim == GateDim::kKey) {
    // Scores [.., i, j, t, s] = sum_c q_tc k_sc exp(b_tc - b_sc), then one [C,C] matmul with v.
    torch::Tensor scores =
        torch::matmul((qb * query_decay).unsqueeze(4), (kb.unsqueeze(3) * source_decay).transpose(-1, -2))
            .masked_fill(hidden, 0);
    if (!factored) {
      const torch::Tensor diagonal = (qb.unsqueeze(5) * kb.unsqueeze(4) * exact_diagonal_decay()).sum(-1);
      scores = scores + diagonal.unsqueeze(4) * diagonal_blocks.to(q.scalar_type());
    }
    scores = scores.permute({0, 1, 2, 3, 5, 4, 6}).reshape({bs, h, n, c, c});
    return torch::matmul(scores, v);
  }
  // Value-gated: A = q k^T carries no decay; o_tv = sum_s A_ts v_sv exp(b_tv - b_sv).
  const torch::Tensor a = torch::matmul(q, k.transpose(-1, -2))
                              .view({bs, h, n, m, sub, m, sub})
                              .permute({0, 1, 2, 3, 5, 4, 6});  // [.., i, j, t, s]
  torch::Tensor out =
      torch::matmul(a.masked_fill(hidden, 0), vb.unsqueeze(3) * source_decay).sum(4) * query_decay;
  if (!factored) {
    const torch::Tensor a_diagonal = a.diagonal(0, 3, 4).permute({0, 1, 2, 5, 3, 4});  // [.., i, t, s]
    out = out + (a_diagonal.unsqueeze(-1) * vb.unsqueeze(4) * exact_diagonal_decay()).sum(5);
  }
  return out.reshape({bs, h, n, c, v.size(4)});
}

}  // namespace

absl::StatusOr<GlaResult> RunChunkedRecurrence(const char* op, GateDim gate_dim,
                                               const torch::Tensor& q, const torch::Tensor& k,
                                               const torch::Tensor& v, const torch::Tensor& log_gate,
                                               const torch::Tensor& state, int64_t chunk_size) {
  if (absl::Status s = CheckRecurrencePrefill(op, gate_dim, q, k, v, log_gate, state, chunk_size);
      !s.ok()) {
    return s;
  }
  try {
    const int64_t b = q.size(0), h = q.size(1), t = q.size(2), kd = q.size(3), vd = v.size(3);
    const int64_t kv = k.size(1), groups = h / kv;
    if (groups > 1) {
      // The reference path: every query head gets its own copy of its group's recurrence, whose
      // G copies stay equal, so the group's final state is any one of them.
      const torch::Tensor expanded_state =
          state.defined() ? RepeatHeads(state, groups) : torch::Tensor();
      absl::StatusOr<GlaResult> r = RunChunkedRecurrence(
          op, gate_dim, q, RepeatHeads(k, groups), RepeatHeads(v, groups),
          RepeatHeads(log_gate, groups), expanded_state, chunk_size);
      if (!r.ok()) return r.status();
      r->final_state = r->final_state.view({b, kv, groups, kd, vd}).select(2, 0);
      return r;
    }
    torch::Tensor s =
        state.defined() ? state : torch::zeros({b, h, kd, vd}, q.options().dtype(torch::kFloat));
    if (t == 0) return GlaResult{torch::empty({b, h, 0, vd}, v.options()), s};
    // Whole sub-chunks per chunk; short inputs need no chunk longer than themselves.
    const int64_t sub = std::min({kSubChunk, chunk_size, t});
    const int64_t chunk = std::min((chunk_size + sub - 1) / sub, (t + sub - 1) / sub) * sub;
    const torch::Tensor qc = ToChunks(q.to(torch::kFloat), chunk);
    const torch::Tensor kc = ToChunks(k.to(torch::kFloat), chunk);
    const torch::Tensor vc = ToChunks(v.to(torch::kFloat), chunk);
    const torch::Tensor bc = ToChunks(log_gate.to(torch::kDouble), chunk).cumsum(3);
    torch::Tensor out = IntraChunkOutputs(gate_dim, qc, kc, vc, bc, sub);

    // Between chunks, S_out = exp(b_last) S_in + (what the chunk writes, decayed to its end): a
    // short sequential pass over per-chunk terms computed for all chunks at once.
    const torch::Tensor b_last = bc.narrow(3, chunk - 1, 1);  // [B,H,N,1,G]
    const bool key = gate_dim == GateDim::kKey;
    const torch::Tensor to_end = DecayFactor(b_last - bc);
    const torch::Tensor written = key ? torch::matmul((kc * to_end).transpose(-1, -2), vc)
                                      : torch::matmul(kc.transpose(-1, -2), vc * to_end);
    const torch::Tensor kept = key ? DecayFactor(b_last).transpose(-1, -2) : DecayFactor(b_last);
    std::vector<torch::Tensor> incoming;
    incoming.reserve(qc.size(2));
    for (int64_t i = 0; i < qc.size(2); ++i) {
      incoming.push_back(s);
      s = s * kept.select(2, i) + written.select(2, i);
    }
    const torch::Tensor from_start = DecayFactor(bc);
    const torch::Tensor states = torch::stack(incoming, 2);  // [B,H,N,K,V]
    out = out + (key ? torch::matmul(qc * from_start, states) : torch::matmul(qc, states) * from_start);
    out = out.view({b, h, -1, vd}).narrow(2, 0, t);
    return GlaResult{out.to(q.scalar_type()), s};
  } catch (const std::exception& e) {
    return StatusFromException(op, e);
  }
}

absl::Status CheckRecurrenceStep(const char* op, GateDim gate_dim, const torch::Tensor& q,
                                 const torch::Tensor& k, const torch::Tensor& v,
                                 const torch::Tensor& log_gate, const torch::Tensor& state) {
  return Annotate(op, CheckArgs(gate_dim, q, k, v, log_gate, state, false));
}

}  // namespace liger
