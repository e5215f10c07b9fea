#include "core/model/ops/fused_rms_norm.h"

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "core/model/ops/cuda/rms_norm_kernels.h"
#include "core/model/ops/cuda_element_type.h"
#include "core/model/ops/row_layout.h"

namespace liger {

bool FusedRmsNormApplies(const torch::Tensor& x, const torch::Tensor& weight) {
  return x.is_cuda() && weight.is_cuda() && x.dim() >= 1 && weight.dim() == 1 &&
         x.size(-1) == weight.size(0) && x.scalar_type() == weight.scalar_type() &&
         CudaElementType(x.scalar_type()).ok() && x.stride(-1) == 1 && weight.is_contiguous() &&
         RowStride(x) > 0 &&
         !(torch::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad()));
}

torch::Tensor FusedRmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  TORCH_CHECK(FusedRmsNormApplies(x, weight), "FusedRmsNorm: unsupported arguments");
  const c10::cuda::CUDAGuard guard(x.device());
  torch::Tensor y = torch::empty(x.sizes(), x.options().memory_format(torch::MemoryFormat::Contiguous));
  cuda::RmsNormArgs a{};
  a.x = x.data_ptr();
  a.weight = weight.data_ptr();
  a.y = y.data_ptr();
  a.width = x.size(-1);
  a.rows = a.width == 0 ? 0 : x.numel() / a.width;
  a.row_stride = RowStride(x);
  a.eps = static_cast<float>(eps);
  a.element_type = *CudaElementType(x.scalar_type());
  const cudaError_t error = cuda::LaunchRmsNorm(a, c10::cuda::getCurrentCUDAStream().stream());
  TORCH_CHECK(error == cudaSuccess, "FusedRmsNorm: launch failed: ", cudaGetErrorString(error));
  return y;
}

}  // namespace liger
