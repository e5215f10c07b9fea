#pragma once

#include <torch/torch.h>

namespace liger {

// RMSNorm over the last dimension, computed in float32 and cast back before the weight multiply,
// exactly as Hugging Face's LlamaRMSNorm.
torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

}  // namespace liger
