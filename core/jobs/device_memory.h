#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace liger {

struct DeviceMemoryReading {
  std::string device;  // "cpu", "cuda:0", ...
  int64_t bytes = 0;
};

// The devices ReadDeviceMemory reports: "cpu", then each visible CUDA device
// when this build has CUDA. Fixed for the life of the process.
std::vector<std::string> MemoryDevices();

// Memory in use now: the process's resident bytes for "cpu" (/proc/self/statm),
// and the bytes the CUDA caching allocator holds in tensors on each CUDA device
// (0 before CUDA is first used). A device that cannot be read reports 0; this
// never fails.
int64_t ReadDeviceMemory(const std::string& device);

// The most bytes the CUDA caching allocator has held in tensors on `device` ("cuda:N") since the
// process started; 0 for "cpu", for a device that cannot be read, and in builds without CUDA.
int64_t ReadPeakDeviceMemory(const std::string& device);

}  // namespace liger
