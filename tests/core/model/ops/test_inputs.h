#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

namespace liger::testing {

// Gate regimes the recurrences must survive (log decay per step, all <= 0).
enum class GateKind {
  kRealistic,  // logsigmoid(randn) / 16, Liger-GLA
  kHarsh,      // logsigmoid(4 randn)
  kExtreme,    // uniform in [-50, -30], the strongest HGRN2 decays
  kMixed,      // kExtreme or kHarsh per element: huge cumulative sums next to near-1 decays
};

std::string GateKindName(GateKind kind);
std::vector<GateKind> AllGateKinds();

// A log gate of the given shape and regime, float32 on `device`.
torch::Tensor MakeLogGate(torch::IntArrayRef shape, GateKind kind, torch::Device device);

// softmax(randn) over the last dimension, the Liger feature map on q and k.
torch::Tensor SoftmaxFeatures(torch::IntArrayRef shape, torch::Device device);

// CPU, plus CUDA when this LibTorch build sees a GPU.
std::vector<torch::Device> TestDevices();

}  // namespace liger::testing
