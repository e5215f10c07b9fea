#pragma once

#include <torch/torch.h>

#include "core/model/model_config.h"

namespace liger {

// Rotary position embedding as Hugging Face computes it (float32 frequencies, rotate_half layout),
// including the llama3 and linear frequency scalings.
class RotaryEmbedding {
 public:
  RotaryEmbedding(const ModelConfig& config, torch::Device device);

  // cos and sin for integer positions of any shape [...]: each [..., head_dim], float32.
  std::pair<torch::Tensor, torch::Tensor> CosSin(const torch::Tensor& positions) const;

  // Rotates x [B, heads, T, D] with cos/sin [B or 1, T, D] (cast to x's dtype first, as HF does).
  static torch::Tensor Apply(const torch::Tensor& x, const torch::Tensor& cos,
                             const torch::Tensor& sin);

 private:
  torch::Tensor inv_freq_;  // [head_dim / 2] float32
};

}  // namespace liger
