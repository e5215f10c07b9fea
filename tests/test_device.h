#pragma once

#include <cstdlib>
#include <string>

#include <torch/torch.h>

namespace liger::testing {

// The device model tests run on: cpu unless LIGER_TEST_DEVICE names another (the GPU machine sets
// LIGER_TEST_DEVICE=cuda so the same suites check the CUDA path).
inline torch::Device TestDevice() {
  const char* name = std::getenv("LIGER_TEST_DEVICE");
  return torch::Device(name != nullptr && *name != '\0' ? std::string(name) : std::string("cpu"));
}

inline std::string TestDeviceName() { return TestDevice().str(); }

}  // namespace liger::testing
