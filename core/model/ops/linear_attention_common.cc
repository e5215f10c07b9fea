#include "core/model/ops/linear_attention_common.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/model/ops/tensor_checks.h"

namespace liger {
namespace {

// Shapes shared by prefill ([B,H,T,*] tensors) and step ([B,H,*] tensors) calls.
absl::Status CheckArgs(GateDim gate_dim, const torch::Tensor& q, const torch::Tensor& k,
                       const torch::Tensor& v, const torch::Tensor& log_gate,
                       const torch::Tensor& state, bool has_time) {
  const int64_t rank = has_time ? 4 : 3;
  if (!q.defined() || q.dim() != rank) {
    return absl::InvalidArgumentError(absl::StrCat("q: expected a defined rank-", rank, " tensor"));
  }
  const int64_t b = q.size(0), h = q.size(1), t = has_time ? q.size(2) : 0, kd = q.size(rank - 1);
  auto shape = [&](int64_t last) {
    return has_time ? std::vector<int64_t>{b, h, t, last} : std::vector<int64_t>{b, h, last};
  };
  if (absl::Status s = CheckTensor(q, "q", shape(kd), q); !s.ok()) return s;
  if (absl::Status s = CheckTensor(k, "k", shape(kd), q); !s.ok()) return s;
  if (absl::Status s = CheckTensor(v, "v", shape(-1), q); !s.ok()) return s;
  const int64_t vd = v.size(rank - 1);
  const int64_t gd = gate_dim == GateDim::kKey ? kd : vd;
  if (absl::Status s = CheckTensor(log_gate, "log_gate", shape(gd), q); !s.ok()) return s;
  if (absl::Status s = CheckDtype(k, "k", q.scalar_type()); !s.ok()) return s;
  if (absl::Status s = CheckDtype(v, "v", q.scalar_type()); !s.ok()) return s;
  if (!has_time && !state.defined()) return absl::InvalidArgumentError("state: tensor is undefined");
  if (state.defined()) {
    if (absl::Status s = CheckTensor(state, "state", {b, h, kd, vd}, q); !s.ok()) return s;
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

absl::StatusOr<GlaResult> RunChunkedRecurrence(const char* op, GateDim gate_dim, ChunkKernel kernel,
                                               const torch::Tensor& q, const torch::Tensor& k,
                                               const torch::Tensor& v, const torch::Tensor& log_gate,
                                               const torch::Tensor& state, int64_t chunk_size) {
  if (absl::Status s = CheckRecurrencePrefill(op, gate_dim, q, k, v, log_gate, state, chunk_size);
      !s.ok()) {
    return s;
  }
  try {
    const int64_t b = q.size(0), h = q.size(1), t = q.size(2), kd = q.size(3), vd = v.size(3);
    if (t == 0) {
      torch::Tensor s = state.defined() ? state : torch::zeros({b, h, kd, vd}, q.options().dtype(torch::kFloat));
      return GlaResult{torch::empty({b, h, 0, vd}, v.options()), s};
    }
    torch::Tensor s = state.defined() ? state.clone() : torch::zeros({b, h, kd, vd}, q.options().dtype(torch::kFloat));
    const torch::Tensor qf = q.to(torch::kFloat), kf = k.to(torch::kFloat), vf = v.to(torch::kFloat);
    const torch::Tensor gf = log_gate.to(torch::kFloat);
    torch::Tensor out = torch::empty({b, h, t, vd}, qf.options());
    for (int64_t t0 = 0; t0 < t; t0 += chunk_size) {
      const int64_t n = std::min(chunk_size, t - t0);
      kernel(qf.narrow(2, t0, n), kf.narrow(2, t0, n), vf.narrow(2, t0, n), gf.narrow(2, t0, n), s,
             out.narrow(2, t0, n));
    }
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
