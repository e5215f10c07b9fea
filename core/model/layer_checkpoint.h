#pragma once

#include <functional>
#include <vector>

#include <torch/types.h>

namespace liger {

// Activation checkpointing for one decoder layer: runs `layer` on `input` without recording a
// graph, keeping only `input` for the backward pass, which runs `layer` again with grad enabled and
// differentiates that. Activation memory drops from every layer's intermediates to one layer's, for
// one more forward pass. `parameters` must list every tensor requiring grad that `layer` reads
// besides `input` (e.g. the layer's LoRA factors), so that their gradients flow. The recomputation
// replays the default random generator of `input`'s device, so dropout draws the same masks. `layer`
// must stay callable until backward runs.
torch::Tensor CheckpointLayer(std::function<torch::Tensor(const torch::Tensor&)> layer,
                              const torch::Tensor& input,
                              const std::vector<torch::Tensor>& parameters);

}  // namespace liger
