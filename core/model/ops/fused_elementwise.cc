#include "core/model/ops/fused_elementwise.h"

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "core/model/ops/cuda/elementwise_kernels.h"
#include "core/model/ops/cuda_element_type.h"
#include "core/model/ops/row_layout.h"

namespace liger {
namespace {

bool WantsGradient(const torch::Tensor& t) {
  return torch::GradMode::is_enabled() && t.requires_grad();
}

void ThrowIfLaunchFailed(cudaError_t error, const char* op) {
  TORCH_CHECK(error == cudaSuccess, op, ": launch failed: ", cudaGetErrorString(error));
}

}  // namespace

bool FusedRotaryApplies(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  return x.is_cuda() && x.dim() == 4 && x.stride(3) == 1 && x.size(3) % 2 == 0 &&
         CudaElementType(x.scalar_type()).ok() && !WantsGradient(x) && cos.dim() == 3 &&
         cos.sizes() == sin.sizes() && (cos.size(0) == 1 || cos.size(0) == x.size(0)) &&
         cos.size(1) == x.size(2) && cos.size(2) == x.size(3) &&
         cos.scalar_type() == torch::kFloat32 && sin.scalar_type() == torch::kFloat32 &&
         cos.is_contiguous() && sin.is_contiguous() && cos.device() == x.device() &&
         sin.device() == x.device();
}

torch::Tensor FusedRotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  TORCH_CHECK(FusedRotaryApplies(x, cos, sin), "FusedRotary: unsupported arguments");
  const c10::cuda::CUDAGuard guard(x.device());
  torch::Tensor y = torch::empty(x.sizes(), x.options().memory_format(torch::MemoryFormat::Contiguous));
  cuda::RotaryArgs a{};
  a.x = x.data_ptr();
  a.x_stride_b = x.stride(0);
  a.x_stride_h = x.stride(1);
  a.x_stride_t = x.stride(2);
  a.cos = cos.data_ptr<float>();
  a.sin = sin.data_ptr<float>();
  a.cos_stride_b = cos.size(0) == 1 ? 0 : cos.stride(0);
  a.y = y.data_ptr();
  a.batch = x.size(0);
  a.heads = x.size(1);
  a.tokens = x.size(2);
  a.head_dim = x.size(3);
  a.element_type = *CudaElementType(x.scalar_type());
  ThrowIfLaunchFailed(cuda::LaunchRotary(a, c10::cuda::getCurrentCUDAStream().stream()), "FusedRotary");
  return y;
}

bool FusedSiluMulApplies(const torch::Tensor& gate, const torch::Tensor& up) {
  return gate.is_cuda() && up.device() == gate.device() && gate.dim() >= 1 &&
         gate.sizes() == up.sizes() && gate.strides() == up.strides() &&
         gate.scalar_type() == up.scalar_type() && CudaElementType(gate.scalar_type()).ok() &&
         gate.stride(-1) == 1 && RowStride(gate) > 0 && !WantsGradient(gate) && !WantsGradient(up);
}

torch::Tensor FusedSiluMul(const torch::Tensor& gate, const torch::Tensor& up) {
  TORCH_CHECK(FusedSiluMulApplies(gate, up), "FusedSiluMul: unsupported arguments");
  const c10::cuda::CUDAGuard guard(gate.device());
  torch::Tensor y = torch::empty(gate.sizes(), gate.options().memory_format(torch::MemoryFormat::Contiguous));
  cuda::SiluMulArgs a{};
  a.gate = gate.data_ptr();
  a.up = up.data_ptr();
  a.row_stride = RowStride(gate);
  a.y = y.data_ptr();
  a.width = gate.size(-1);
  a.rows = a.width == 0 ? 0 : gate.numel() / a.width;
  a.element_type = *CudaElementType(gate.scalar_type());
  ThrowIfLaunchFailed(cuda::LaunchSiluMul(a, c10::cuda::getCurrentCUDAStream().stream()), "FusedSiluMul");
  return y;
}

}  // namespace liger
