#pragma once

#include <torch/torch.h>

// Built only with CUDA (LIGER_WITH_CUDA): torch::linear for the few rows of a small-batch decode
// step as one weight-streaming kernel (core/model/ops/cuda/small_batch_linear_kernels.h). There
// the product reads every weight byte for a handful of outputs, and the library's general GEMM
// kernels leave part of the memory bandwidth unused.
namespace liger {

// Whether the kernel takes the arguments: CUDA, float16 or bfloat16 throughout, no gradient
// wanted, weight [N, K] contiguous with K a multiple of 8, x [..., K] with at most 8 rows one
// stride apart, 16-byte aligned, bias undefined or [N] contiguous, and residual undefined or
// contiguous with the result's sizes.
bool SmallBatchLinearApplies(const torch::Tensor& x, const torch::Tensor& weight,
                             const torch::Tensor& bias, const torch::Tensor& residual = {});

// residual + torch::linear(x, weight, bias) (without residual when it is undefined), rounded as
// that expression rounds, for arguments SmallBatchLinearApplies accepts; a contiguous result.
torch::Tensor SmallBatchLinear(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, const torch::Tensor& residual = {});

}  // namespace liger
