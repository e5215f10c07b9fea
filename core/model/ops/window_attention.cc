#include "core/model/ops/window_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/model/ops/tensor_checks.h"

namespace liger {
namespace {

constexpr char kPrefillOp[] = "WindowAttention";
constexpr char kStepOp[] = "WindowAttentionStep";

absl::Status CheckPrefill(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                          const torch::Tensor& past_k, const torch::Tensor& past_v, int64_t window,
                          int64_t block_size) {
  if (absl::Status s = CheckTensor(q, "q", {-1, -1, -1, -1}, q); !s.ok()) return s;
  const int64_t b = q.size(0), h = q.size(1), d = q.size(3);
  if (absl::Status s = CheckTensor(k, "k", q.sizes(), q); !s.ok()) return s;
  if (absl::Status s = CheckTensor(v, "v", q.sizes(), q); !s.ok()) return s;
  if (absl::Status s = CheckDtype(k, "k", q.scalar_type()); !s.ok()) return s;
  if (absl::Status s = CheckDtype(v, "v", q.scalar_type()); !s.ok()) return s;
  if (window < 0) return absl::InvalidArgumentError(absl::StrCat("window must be >= 0, got ", window));
  if (block_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("block_size must be >= 1, got ", block_size));
  }
  if (past_k.defined() != past_v.defined()) {
    return absl::InvalidArgumentError("past_k and past_v must both be defined or both undefined");
  }
  if (!past_k.defined()) return absl::OkStatus();
  if (absl::Status s = CheckTensor(past_k, "past_k", {b, h, -1, d}, q); !s.ok()) return s;
  if (absl::Status s = CheckTensor(past_v, "past_v", past_k.sizes(), q); !s.ok()) return s;
  if (absl::Status s = CheckDtype(past_k, "past_k", q.scalar_type()); !s.ok()) return s;
  if (absl::Status s = CheckDtype(past_v, "past_v", q.scalar_type()); !s.ok()) return s;
  if (past_k.size(2) > window) {
    return absl::InvalidArgumentError(
        absl::StrCat("past_k holds ", past_k.size(2), " tokens, more than the window of ", window));
  }
  return absl::OkStatus();
}

absl::Status CheckStep(const torch::Tensor& q, const torch::Tensor& k_new, const torch::Tensor& v_new,
                       const torch::Tensor& ring_k, const torch::Tensor& ring_v,
                       const torch::Tensor& valid_mask) {
  if (absl::Status s = CheckTensor(q, "q", {-1, -1, -1}, q); !s.ok()) return s;
  const int64_t b = q.size(0), h = q.size(1), d = q.size(2);
  if (absl::Status s = CheckTensor(k_new, "k_new", q.sizes(), q); !s.ok()) return s;
  if (absl::Status s = CheckTensor(v_new, "v_new", q.sizes(), q); !s.ok()) return s;
  if (absl::Status s = CheckTensor(ring_k, "ring_k", {b, h, -1, d}, q); !s.ok()) return s;
  if (absl::Status s = CheckTensor(ring_v, "ring_v", ring_k.sizes(), q); !s.ok()) return s;
  if (absl::Status s = CheckShape(valid_mask, "valid_mask", {b, ring_k.size(2)}, q); !s.ok()) return s;
  if (absl::Status s = CheckDtype(valid_mask, "valid_mask", torch::kBool); !s.ok()) return s;
  for (const auto& [t, name] : {std::pair{&k_new, "k_new"}, std::pair{&v_new, "v_new"},
                                std::pair{&ring_k, "ring_k"}, std::pair{&ring_v, "ring_v"}}) {
    if (absl::Status s = CheckDtype(*t, name, q.scalar_type()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<torch::Tensor> WindowAttention(const torch::Tensor& q, const torch::Tensor& k,
                                              const torch::Tensor& v, const torch::Tensor& past_k,
                                              const torch::Tensor& past_v, int64_t window,
                                              int64_t block_size) {
  if (absl::Status s = CheckPrefill(q, k, v, past_k, past_v, window, block_size); !s.ok()) {
    return Annotate(kPrefillOp, s);
  }
  try {
    const int64_t b = q.size(0), h = q.size(1), t = q.size(2), d = q.size(3);
    const int64_t p = past_k.defined() ? past_k.size(2) : 0;
    if (t == 0) return torch::empty_like(q);
    // Query block n (queries n*L .. n*L+L-1 of this call, L = block_size) sees the keys at
    // relative offsets j - window .. j + L - 1 from its first query: a [L, L + window] score
    // matrix per block, all blocks at once. Keys are padded with `window` zeros in front (masked
    // out below) and zeros at the end, so each block's keys are one strided window of them.
    const int64_t block = std::min(block_size, t), n = (t + block - 1) / block;
    auto keyed = [&](const torch::Tensor& past, const torch::Tensor& x) {
      const torch::Tensor all = p > 0 ? torch::cat({past, x}, 2) : x;
      return torch::constant_pad_nd(all.to(torch::kFloat), {0, 0, window - p, n * block - t})
          .unfold(2, block + window, block);  // [B,H,N,D,L+W]
    };
    const torch::Tensor keys = keyed(past_k, k), values = keyed(past_v, v);
    const torch::Tensor queries =
        torch::constant_pad_nd(q.to(torch::kFloat), {0, 0, 0, n * block - t}).view({b, h, n, block, d});
    const double scale = 1.0 / std::sqrt(static_cast<double>(d));
    torch::Tensor scores = torch::matmul(queries, keys) * scale;  // [B,H,N,L,L+W]
    // Query i of block n sits at absolute position p + nL + i, key j at p + nL - W + j: it is seen
    // when i <= j <= i + W and it is a real token (absolute position >= 0).
    const auto index_options = q.options().dtype(torch::kLong);
    const torch::Tensor i = torch::arange(block, index_options).view({1, block, 1});
    const torch::Tensor j = torch::arange(block + window, index_options).view({1, 1, block + window});
    const torch::Tensor first_key = torch::arange(n, index_options).view({n, 1, 1}) * block + p - window;
    const torch::Tensor hidden = (j < i).logical_or(j > i + window).logical_or(first_key + j < 0);
    scores.masked_fill_(hidden, -std::numeric_limits<float>::infinity());
    const torch::Tensor out = torch::matmul(scores.softmax(-1), values.transpose(-1, -2));
    return out.view({b, h, n * block, d}).narrow(2, 0, t).to(q.scalar_type());
  } catch (const std::exception& e) {
    return StatusFromException(kPrefillOp, e);
  }
}

absl::StatusOr<torch::Tensor> WindowAttentionStep(const torch::Tensor& q, const torch::Tensor& k_new,
                                                  const torch::Tensor& v_new,
                                                  const torch::Tensor& ring_k,
                                                  const torch::Tensor& ring_v,
                                                  const torch::Tensor& valid_mask) {
  if (absl::Status s = CheckStep(q, k_new, v_new, ring_k, ring_v, valid_mask); !s.ok()) {
    return Annotate(kStepOp, s);
  }
  try {
    const int64_t w = ring_k.size(2);
    const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(2)));
    const torch::Tensor qf = q.to(torch::kFloat);
    torch::Tensor ring_scores =
        torch::matmul(ring_k.to(torch::kFloat), qf.unsqueeze(-1)).squeeze(-1) * scale;  // [B,H,W]
    ring_scores.masked_fill_(valid_mask.logical_not().unsqueeze(1),
                             -std::numeric_limits<float>::infinity());
    const torch::Tensor self_score = (qf * k_new.to(torch::kFloat)).sum(-1, true) * scale;
    // The current token is always attended, so no row is all -inf.
    const torch::Tensor probs = torch::cat({ring_scores, self_score}, -1).softmax(-1);
    const torch::Tensor out =
        torch::matmul(probs.narrow(-1, 0, w).unsqueeze(-2), ring_v.to(torch::kFloat)).squeeze(-2) +
        probs.narrow(-1, w, 1) * v_new.to(torch::kFloat);
    return out.to(q.scalar_type());
  } catch (const std::exception& e) {
    return StatusFromException(kStepOp, e);
  }
}

}  // namespace liger
