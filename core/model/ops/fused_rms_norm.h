#pragma once

#include <torch/torch.h>

// Built only with CUDA (LIGER_WITH_CUDA): RMSNorm in one kernel (core/model/ops/cuda/
// rms_norm_kernels.h) for inference, where the ATen composition in core/model/rms_norm.cc is six.
namespace liger {

// Whether the kernel takes x [..., width] and weight [width]: CUDA, one float dtype, no gradient
// wanted, the width contiguous and the leading dims one stride apart.
bool FusedRmsNormApplies(const torch::Tensor& x, const torch::Tensor& weight);

// RmsNorm(x, weight, eps) for arguments FusedRmsNormApplies accepts; a contiguous result.
torch::Tensor FusedRmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

}  // namespace liger
