#include "core/model/ops/window_attention.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include <torch/version.h>

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
  const int64_t b = q.size(0), t = q.size(2), d = q.size(3);
  if (absl::Status s = CheckTensor(k, "k", {b, -1, t, d}, q); !s.ok()) return s;
  if (absl::Status s = CheckGroupedHeads(q, k); !s.ok()) return s;
  const int64_t kv = k.size(1);
  if (absl::Status s = CheckTensor(v, "v", k.sizes(), q); !s.ok()) return s;
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
  if (absl::Status s = CheckTensor(past_k, "past_k", {b, kv, -1, d}, q); !s.ok()) return s;
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
  const int64_t b = q.size(0), d = q.size(2);
  if (absl::Status s = CheckTensor(k_new, "k_new", {b, -1, d}, q); !s.ok()) return s;
  if (absl::Status s = CheckGroupedHeads(q, k_new); !s.ok()) return s;
  const int64_t kv = k_new.size(1);
  if (absl::Status s = CheckTensor(v_new, "v_new", k_new.sizes(), q); !s.ok()) return s;
  if (absl::Status s = CheckTensor(ring_k, "ring_k", {b, kv, -1, d}, q); !s.ok()) return s;
  if (absl::Status s = CheckTensor(ring_v, "ring_v", ring_k.sizes(), q); !s.ok()) return s;
  if (absl::Status s = CheckShape(valid_mask, "valid_mask", {b, ring_k.size(2)}, q); !s.ok()) return s;
  if (absl::Status s = CheckDtype(valid_mask, "valid_mask", torch::kBool); !s.ok()) return s;
  for (const auto& [t, name] : {std::pair{&k_new, "k_new"}, std::pair{&v_new, "v_new"},
                                std::pair{&ring_k, "ring_k"}, std::pair{&ring_v, "ring_v"}}) {
    if (absl::Status s = CheckDtype(*t, name, q.scalar_type()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// The products' precision: float32 on the CPU (no fast low-precision GEMMs there, and it keeps the
// CPU path the reference), the inputs' own on CUDA, where bf16/f16 products use tensor cores.
// Which keys each query block must not see ([N, G*L, L+W], true = hidden), and its negation for
// the fused kernel. Every layer of a forward pass asks for the same one, and building it costs
// about ten small launches, so the calling thread keeps the last it built.
struct BlockMasks {
  torch::Tensor hidden, visible;
};

const BlockMasks& BlockMasksFor(int64_t block, int64_t window, int64_t groups, int64_t n, int64_t p,
                                const torch::Device& device) {
  struct Cached {
    std::array<int64_t, 5> key{};
    torch::Device device{torch::kCPU};
    BlockMasks masks;
  };
  thread_local Cached cached;
  const std::array<int64_t, 5> key{block, window, groups, n, p};
  if (cached.masks.hidden.defined() && cached.key == key && cached.device == device) {
    return cached.masks;
  }
  // Query i of block n sits at absolute position p + nL + i, key j at p + nL - W + j: it is seen
  // when i <= j <= i + W and it is a real token (absolute position >= 0).
  const auto index_options = torch::TensorOptions().dtype(torch::kLong).device(device);
  const torch::Tensor i = torch::arange(block, index_options).repeat({groups}).view({1, -1, 1});
  const torch::Tensor j = torch::arange(block + window, index_options).view({1, 1, block + window});
  const torch::Tensor first_key = torch::arange(n, index_options).view({n, 1, 1}) * block + p - window;
  const torch::Tensor hidden = (j < i).logical_or(j > i + window).logical_or(first_key + j < 0);
  cached.masks = BlockMasks{hidden, hidden.logical_not().unsqueeze(0)};
  cached.key = key;
  cached.device = device;
  return cached.masks;
}

torch::ScalarType ProductType(const torch::Tensor& q) {
  return q.is_cuda() ? q.scalar_type() : torch::kFloat;
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
    const int64_t kv = k.size(1), groups = h / kv;
    const int64_t p = past_k.defined() ? past_k.size(2) : 0;
    if (t == 0) return torch::empty_like(q);
    const torch::ScalarType product = ProductType(q);
    // Query block n (queries n*L .. n*L+L-1 of this call, L = block_size) sees the keys at
    // relative offsets j - window .. j + L - 1 from its first query: a [G*L, L + window] score
    // matrix per block and KV head (the G query heads of a group share its keys), all blocks at
    // once. Keys are padded with `window` zeros in front (masked out below) and zeros at the end,
    // so each block's keys are one strided window of them.
    const int64_t block = std::min(block_size, t), n = (t + block - 1) / block;
    auto keyed = [&](const torch::Tensor& past, const torch::Tensor& x) {
      const torch::Tensor all = p > 0 ? torch::cat({past, x}, 2) : x;
      return torch::constant_pad_nd(all.to(product), {0, 0, window - p, n * block - t})
          .unfold(2, block + window, block);  // [B,KV,N,D,L+W]
    };
    const torch::Tensor keys = keyed(past_k, k), values = keyed(past_v, v);
    const double scale = 1.0 / std::sqrt(static_cast<double>(d));
    const torch::Tensor queries =  // [B,KV,N,G*L,D], rows ordered (head in group, position)
        torch::constant_pad_nd(q.to(product), {0, 0, 0, n * block - t})
            .view({b, kv, groups, n, block, d})
            .permute({0, 1, 3, 2, 4, 5})
            .reshape({b, kv, n, groups * block, d});
    const BlockMasks& masks = BlockMasksFor(block, window, groups, n, p, q.device());
    torch::Tensor out;  // [B,KV,N,G*L,D]
#if TORCH_VERSION_MAJOR >= 2
    if (q.is_cuda()) {
      // LibTorch 2's fused attention (the memory-efficient kernel, which takes a mask) forward and
      // backward, with the blocks as heads: it reads the unfolded keys in place and never
      // materializes the scores. [B*KV, N, rows, D] views throughout.
      out = at::scaled_dot_product_attention(
                queries.flatten(0, 1), keys.transpose(-1, -2).flatten(0, 1),
                values.transpose(-1, -2).flatten(0, 1), masks.visible,
                /*dropout_p=*/0.0, /*is_causal=*/false, scale)
                .view({b, kv, n, groups * block, d});
    }
#endif
    if (!out.defined()) {
      torch::Tensor scores = torch::matmul(queries * scale, keys);  // [B,KV,N,G*L,L+W]
      scores.masked_fill_(masks.hidden, -std::numeric_limits<float>::infinity());
      const torch::Tensor probs = torch::softmax(scores, -1, torch::kFloat).to(product);
      out = torch::matmul(probs, values.transpose(-1, -2));
    }
    return out.view({b, kv, n, groups, block, d})
        .permute({0, 1, 3, 2, 4, 5})
        .reshape({b, h, n * block, d})
        .narrow(2, 0, t)
        .to(q.scalar_type());
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
    const int64_t b = q.size(0), h = q.size(1), d = q.size(2), kv = k_new.size(1), w = ring_k.size(2);
    const double scale = 1.0 / std::sqrt(static_cast<double>(d));
    const torch::Tensor qf = q.to(torch::kFloat).view({b, kv, h / kv, d});  // [B,KV,G,D]
    torch::Tensor ring_scores =
        torch::matmul(qf, ring_k.to(torch::kFloat).transpose(-1, -2)) * scale;  // [B,KV,G,W]
    ring_scores.masked_fill_(valid_mask.logical_not().view({b, 1, 1, w}),
                             -std::numeric_limits<float>::infinity());
    const torch::Tensor self_score =
        torch::matmul(qf, k_new.to(torch::kFloat).unsqueeze(-1)) * scale;  // [B,KV,G,1]
    // The current token is always attended, so no row is all -inf.
    const torch::Tensor probs = torch::cat({ring_scores, self_score}, -1).softmax(-1);
    const torch::Tensor out = torch::matmul(probs.narrow(-1, 0, w), ring_v.to(torch::kFloat)) +
                              probs.narrow(-1, w, 1) * v_new.to(torch::kFloat).unsqueeze(2);
    return out.reshape({b, h, d}).to(q.scalar_type());
  } catch (const std::exception& e) {
    return StatusFromException(kStepOp, e);
  }
}

}  // namespace liger
