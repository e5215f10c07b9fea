#pragma once

#include <torch/torch.h>

// Built only with CUDA (LIGER_WITH_CUDA): rotary embedding and SwiGLU's product as one kernel each
// (core/model/ops/cuda/elementwise_kernels.h) for inference, with the results of the ATen
// compositions they replace (RotaryEmbedding::Apply, silu(gate) * up). Arguments that need
// gradients, or layouts the kernels do not take, stay on the ATen path: callers check Applies.
namespace liger {

// x [B, H, T, D] (the last dim contiguous), cos and sin [B or 1, T, D] float32.
bool FusedRotaryApplies(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);
torch::Tensor FusedRotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

// gate and up [..., width] of one layout: the width contiguous, the leading dims one stride apart
// (as the two halves of a stacked gate/up projection's output are).
bool FusedSiluMulApplies(const torch::Tensor& gate, const torch::Tensor& up);
torch::Tensor FusedSiluMul(const torch::Tensor& gate, const torch::Tensor& up);

}  // namespace liger
