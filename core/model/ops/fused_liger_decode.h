#pragma once

#include <torch/torch.h>

#include "absl/status/statusor.h"

// Built only with CUDA (LIGER_WITH_CUDA): a Liger layer's whole decode step (GLA or HGRN2) as one
// kernel over pooled state rows (core/model/ops/cuda/liger_decode_kernels.h). It computes what
// LigerAttention's ATen decode path computes from RotaryEmbedding, the feature maps,
// WindowAttentionStep and GatedLinearAttentionStep, which stay the reference and the CPU path.
// It reads only device tensors and never synchronizes, so a CUDA graph can capture it.
namespace liger {

enum class LigerFeatureMap { kGla, kHgrn2 };

// One token for each of B sequences. q [B, H, D], k and v [B, KV, D] (one floating dtype, last
// dim contiguous, q and k before rotary embedding); cos and sin [B, D] float32 for each sequence's
// position; rows and positions [B] int64: the sequences' pool rows and the tokens each has seen.
struct LigerDecodeBatch {
  torch::Tensor q, k, v, cos, sin, rows, positions;
};

// The pool, updated in place: memory [N, KV, D, D] float32; ring_k, ring_v [N, KV, W, D] in the
// activations' dtype, slot = position % W.
struct LigerStateRows {
  torch::Tensor memory, ring_k, ring_v;
};

struct LigerMixing {
  LigerFeatureMap feature_map = LigerFeatureMap::kGla;
  double gate_normalizer = 16;  // 1 for HGRN2
  double window_weight = 0.5;   // output = w * window + (1 - w) * recurrence
};

// Whether the kernel takes a step of this shape on this device (CUDA, D in {32, 64, 128}, at
// most 8 query heads per KV head).
bool FusedLigerDecodeApplies(const LigerDecodeBatch& batch, const LigerStateRows& rows);

// Returns [B, H, D] in q's dtype and advances the rows by one token. INVALID_ARGUMENT for
// inconsistent shapes, dtypes or devices.
absl::StatusOr<torch::Tensor> FusedLigerDecode(const LigerDecodeBatch& batch,
                                               const LigerStateRows& rows,
                                               const LigerMixing& mixing);

}  // namespace liger
