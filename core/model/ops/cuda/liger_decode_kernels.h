#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "core/model/ops/cuda/element_type.h"

// The decode step of a Liger layer (GLA or HGRN2) as one kernel, batched over sequences whose
// states are rows of a pool: rotary embedding of q and k, the feature maps and gate, the window
// softmax over the ring of the last W keys plus the current token, the gated state update and its
// readout, the mix of the two branches, and the ring write of the new key and value. One block per
// (sequence, KV head) serves the G query heads of the group; the float32 state row is read and
// written in place, once.
namespace liger::cuda {

enum class DecodeFeatureMap {
  kGla,    // softmax q and k; log gate = logsigmoid(k) / normalizer
  kHgrn2,  // softmax q, 1 - sigmoid(k); log gate = logsigmoid(k)
};

struct LigerDecodeArgs {
  // Activations in `element_type`, the last dim contiguous: q [B, H, D], k and v [B, KV, D], with
  // these strides (elements) between sequences and heads. H = KV * G.
  const void* q;
  int64_t q_batch_stride, q_head_stride;
  const void* k;
  int64_t k_batch_stride, k_head_stride;
  const void* v;
  int64_t v_batch_stride, v_head_stride;
  const float* cos;  // [B, D] contiguous, for each sequence's position
  const float* sin;
  const int64_t* rows;       // [B]: each sequence's pool row
  const int64_t* positions;  // [B]: tokens each sequence has seen before this one
  float* memory;             // [rows, KV, D, D] float32 states
  void* ring_k;              // [rows, KV, W, D] in `element_type`; slot = position % W
  void* ring_v;
  void* output;  // [B, H, D] contiguous, `element_type`
  ElementType element_type;
  DecodeFeatureMap feature_map;
  int64_t batch, kv_heads, groups, head_dim, window;
  float gate_normalizer;
  float window_weight;  // output = window_weight * window + (1 - window_weight) * recurrence
};

// Whether the kernel handles this shape (head dims 32, 64 and 128, up to 8 query heads per KV
// head, a window whose scores fit in shared memory).
bool LigerDecodeSupports(int64_t head_dim, int64_t groups, int64_t window);

cudaError_t LaunchLigerDecode(const LigerDecodeArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
