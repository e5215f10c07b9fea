#include "core/jobs/device_memory.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace liger {
namespace {

TEST(DeviceMemoryTest, CpuReportsResidentBytesAndNoPeak) {
  EXPECT_GT(ReadDeviceMemory("cpu"), 0);
  EXPECT_EQ(ReadPeakDeviceMemory("cpu"), 0);
}

TEST(DeviceMemoryTest, UnknownDevicesReadZero) {
  for (const char* device : {"", "cuda:", "cuda:x", "tpu:0", "cuda:99"}) {
    EXPECT_EQ(ReadDeviceMemory(device), 0) << device;
    EXPECT_EQ(ReadPeakDeviceMemory(device), 0) << device;
  }
}

TEST(DeviceMemoryTest, PeakCoversATensorThatIsGone) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const int64_t bytes = int64_t{64} << 20;
  { torch::Tensor t = torch::empty({bytes}, torch::TensorOptions().dtype(torch::kByte).device(torch::kCUDA)); }
  EXPECT_GE(ReadPeakDeviceMemory("cuda:0"), bytes);
  EXPECT_LT(ReadDeviceMemory("cuda:0"), ReadPeakDeviceMemory("cuda:0"));
}

}  // namespace
}  // namespace liger
