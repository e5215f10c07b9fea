#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "absl/status/statusor.h"

namespace liger {

// Sliding-window causal softmax attention: query t attends to keys j in [t - window, t] (itself plus
// `window` previous tokens), scale 1/sqrt(D). Grouped-query attention is native: k and v carry KV
// heads, q carries H = KV * G heads, and query head h reads KV head h / G (no expanded copies).
// On the CPU everything runs in float32. On CUDA, LibTorch 2 builds run LibTorch's fused attention
// kernel over the blocks (float32 softmax, scores never stored); otherwise the two products run
// in the inputs' precision on tensor cores, the softmax in float32. Outputs have q's dtype.
//
// q: [B,H,T,D]; k,v: [B,KV,T,D], one dtype (rotary already applied to q and k); past_k, past_v:
// [B,KV,P,D] with P <= window, the keys/values immediately preceding this chunk, in order (both
// undefined, or P == 0, for none). Returns [B,H,T,D]. Queries run in blocks of block_size, each
// against at most block_size + window keys, so cost and memory are linear in T.
absl::StatusOr<torch::Tensor> WindowAttention(const torch::Tensor& q, const torch::Tensor& k,
                                              const torch::Tensor& v, const torch::Tensor& past_k,
                                              const torch::Tensor& past_v, int64_t window,
                                              int64_t block_size = 128);

// Decode: one query per sequence, q [B,H,D], against a ring of earlier keys/values plus the current
// token k_new, v_new [B,KV,D] (always attended), H = KV * G as above. ring_k, ring_v: [B,KV,W,D] (W
// is the window) hold valid entries where valid_mask [B,W] (bool) is true; slot order does not
// matter. Runs in float32. Returns [B,H,D].
absl::StatusOr<torch::Tensor> WindowAttentionStep(const torch::Tensor& q, const torch::Tensor& k_new,
                                                  const torch::Tensor& v_new,
                                                  const torch::Tensor& ring_k,
                                                  const torch::Tensor& ring_v,
                                                  const torch::Tensor& valid_mask);

}  // namespace liger
