#include "tests/core/model/ops/test_inputs.h"

namespace liger::testing {

std::string GateKindName(GateKind kind) {
  switch (kind) {
    case GateKind::kRealistic:
      return "realistic";
    case GateKind::kHarsh:
      return "harsh";
    case GateKind::kExtreme:
      return "extreme";
    case GateKind::kMixed:
      return "mixed";
  }
  return "unknown";
}

std::vector<GateKind> AllGateKinds() {
  return {GateKind::kRealistic, GateKind::kHarsh, GateKind::kExtreme, GateKind::kMixed};
}

torch::Tensor MakeLogGate(torch::IntArrayRef shape, GateKind kind, torch::Device device) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat).device(device);
  switch (kind) {
    case GateKind::kRealistic:
      return torch::log_sigmoid(torch::randn(shape, options)) / 16;
    case GateKind::kHarsh:
      return torch::log_sigmoid(torch::randn(shape, options) * 4);
    case GateKind::kExtreme:
      return torch::rand(shape, options) * -20 - 30;
    case GateKind::kMixed:
      return torch::where(torch::rand(shape, options) < 0.5,
                          MakeLogGate(shape, GateKind::kExtreme, device),
                          MakeLogGate(shape, GateKind::kHarsh, device));
  }
  return {};
}

torch::Tensor SoftmaxFeatures(torch::IntArrayRef shape, torch::Device device) {
  return torch::randn(shape, torch::TensorOptions().dtype(torch::kFloat).device(device)).softmax(-1);
}

std::vector<torch::Device> TestDevices() {
  std::vector<torch::Device> devices = {torch::kCPU};
  if (torch::cuda::is_available()) devices.emplace_back(torch::kCUDA);
  return devices;
}

}  // namespace liger::testing
