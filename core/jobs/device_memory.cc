#include "core/jobs/device_memory.h"

#include <unistd.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#if __has_include(<c10/cuda/CUDACachingAllocator.h>) && defined(LIGER_TORCH_HAS_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/util/Exception.h>
#define LIGER_READS_CUDA_MEMORY 1
#endif

namespace liger {
namespace {

int64_t ResidentBytes() {
  // statm's second field is the resident set in pages.
  std::ifstream statm("/proc/self/statm");
  int64_t total_pages = 0;
  int64_t resident_pages = 0;
  if (!(statm >> total_pages >> resident_pages)) return 0;
  return resident_pages * static_cast<int64_t>(::sysconf(_SC_PAGESIZE));
}

#ifdef LIGER_READS_CUDA_MEMORY
int CudaMemoryDeviceCount() {
  try {
    return static_cast<int>(c10::cuda::device_count());
  } catch (const c10::Error&) {
    return 0;
  }
}

int64_t CudaAllocatedBytes(int index, bool peak) {
  try {
    const auto stats =
        c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(index));
    // Index 0 is StatType::AGGREGATE (both pools) in every LibTorch release.
    return peak ? stats.allocated_bytes[0].peak : stats.allocated_bytes[0].current;
  } catch (const c10::Error&) {
    // The allocator has no state for a device until CUDA is first used.
    return 0;
  }
}
#endif

}  // namespace

std::vector<std::string> MemoryDevices() {
  std::vector<std::string> devices = {"cpu"};
#ifdef LIGER_READS_CUDA_MEMORY
  const int count = CudaMemoryDeviceCount();
  for (int i = 0; i < count; ++i) devices.push_back(absl::StrCat("cuda:", i));
#endif
  return devices;
}

int64_t ReadDeviceMemory(const std::string& device) {
  if (device == "cpu") return ResidentBytes();
#ifdef LIGER_READS_CUDA_MEMORY
  int index = 0;
  if (absl::StartsWith(device, "cuda:") && absl::SimpleAtoi(device.substr(5), &index)) {
    return CudaAllocatedBytes(index, false);
  }
#endif
  return 0;
}

int64_t ReadPeakDeviceMemory(const std::string& device) {
#ifdef LIGER_READS_CUDA_MEMORY
  int index = 0;
  if (absl::StartsWith(device, "cuda:") && absl::SimpleAtoi(device.substr(5), &index)) {
    return CudaAllocatedBytes(index, true);
  }
#endif
  return 0;
}

}  // namespace liger
