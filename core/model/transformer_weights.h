#pragma once

#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "core/io/checkpoint_weights.h"
#include "core/model/model_config.h"

namespace liger {

// One decoder layer's tensors; optional ones (biases, q/k norms) are undefined when absent.
struct LayerWeights {
  torch::Tensor input_norm, post_attention_norm;
  torch::Tensor q_proj, k_proj, v_proj, o_proj;
  torch::Tensor q_bias, k_bias, v_bias, o_bias;
  torch::Tensor q_norm, k_norm;
  torch::Tensor gate_proj, up_proj, down_proj;
  torch::Tensor gate_bias, up_bias, down_bias;
  // q/k/v and gate/up stacked by output rows, so that inference runs one GEMM for each group: the
  // tensors above (and their biases) are views into these, nothing is stored twice.
  torch::Tensor qkv_proj, qkv_bias, gate_up_proj, gate_up_bias;
};

// All weights of a Llama-family checkpoint, validated against its config and converted to the
// compute dtype on the target device.
struct TransformerWeights {
  torch::Tensor embed_tokens;  // [V, hidden]
  torch::Tensor final_norm;
  torch::Tensor lm_head;  // [V, hidden]; the embedding itself when tied
  std::vector<LayerWeights> layers;

  // Every expected tensor must exist with exactly the config's shape and a float dtype; tensors the
  // architecture does not use are rejected so a mismatched checkpoint cannot load silently.
  static absl::StatusOr<TransformerWeights> Load(const CheckpointWeights& checkpoint,
                                                 const ModelConfig& config, torch::Device device,
                                                 torch::ScalarType dtype);
};

}  // namespace liger
