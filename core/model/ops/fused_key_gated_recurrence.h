#pragma once

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "core/model/ops/linear_attention_common.h"

// Built only with CUDA (LIGER_WITH_CUDA): the key-gated recurrence through the fused kernels of
// core/model/ops/cuda, differentiable, for GatedLinearAttention to dispatch to. The ATen path in
// linear_attention_common stays the reference and the CPU implementation.
namespace liger {

// Whether the fused kernels take these (already validated) prefill arguments: CUDA float32 tensors,
// K == V with a built head dim, at least one token.
bool FusedKeyGatedRecurrenceApplies(const torch::Tensor& q, const torch::Tensor& k,
                                    const torch::Tensor& v, const torch::Tensor& log_gate);

// The recurrence of GatedLinearAttention (its chunk size does not apply: the kernels choose their
// own, and the result does not depend on it). Gradients flow to q, k, v, log_gate and state.
absl::StatusOr<GlaResult> FusedKeyGatedRecurrence(const torch::Tensor& q, const torch::Tensor& k,
                                                  const torch::Tensor& v,
                                                  const torch::Tensor& log_gate,
                                                  const torch::Tensor& state);

}  // namespace liger
