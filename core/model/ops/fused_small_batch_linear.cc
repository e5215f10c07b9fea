#include "core/model/ops/fused_small_batch_linear.h"

#include <cstdint>
#include <vector>

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "core/model/ops/cuda/small_batch_linear_kernels.h"
#include "core/model/ops/cuda_element_type.h"
#include "core/model/ops/row_layout.h"

namespace liger {
namespace {

constexpr int64_t kVector = 8;  // elements per 16-byte load

bool Aligned16(const torch::Tensor& t) {
  return reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0;
}

int64_t Rows(const torch::Tensor& x) { return x.size(-1) == 0 ? 0 : x.numel() / x.size(-1); }

}  // namespace

bool SmallBatchLinearApplies(const torch::Tensor& x, const torch::Tensor& weight,
                             const torch::Tensor& bias, const torch::Tensor& residual) {
  const torch::ScalarType dtype = x.scalar_type();
  if (!x.is_cuda() || !weight.is_cuda() || x.dim() < 1 || weight.dim() != 2 ||
      weight.scalar_type() != dtype ||
      (dtype != torch::kBFloat16 && dtype != torch::kFloat16) || !weight.is_contiguous() ||
      x.size(-1) != weight.size(1) || weight.size(1) % kVector != 0 || weight.size(0) < 1 ||
      x.stride(-1) != 1 || !Aligned16(x) || !Aligned16(weight)) {
    return false;
  }
  const int64_t rows = Rows(x);
  if (rows < 1 || rows > cuda::kSmallBatchLinearMaxRows) return false;
  if (rows > 1 && (RowStride(x) <= 0 || RowStride(x) % kVector != 0)) return false;
  if (bias.defined() && (!bias.is_cuda() || bias.scalar_type() != dtype || bias.dim() != 1 ||
                         bias.size(0) != weight.size(0) || !bias.is_contiguous())) {
    return false;
  }
  if (residual.defined()) {
    std::vector<int64_t> sizes = x.sizes().vec();
    sizes.back() = weight.size(0);
    if (!residual.is_cuda() || residual.scalar_type() != dtype || residual.sizes() != sizes ||
        !residual.is_contiguous()) {
      return false;
    }
  }
  const bool wants_grad = x.requires_grad() || weight.requires_grad() ||
                          (bias.defined() && bias.requires_grad()) ||
                          (residual.defined() && residual.requires_grad());
  return !(torch::GradMode::is_enabled() && wants_grad);
}

torch::Tensor SmallBatchLinear(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, const torch::Tensor& residual) {
  TORCH_CHECK(SmallBatchLinearApplies(x, weight, bias, residual),
              "SmallBatchLinear: unsupported arguments");
  const c10::cuda::CUDAGuard guard(x.device());
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes.back() = weight.size(0);
  torch::Tensor y = torch::empty(sizes, x.options().memory_format(torch::MemoryFormat::Contiguous));
  cuda::SmallBatchLinearArgs a{};
  a.x = x.data_ptr();
  a.weight = weight.data_ptr();
  a.bias = bias.defined() ? bias.data_ptr() : nullptr;
  a.residual = residual.defined() ? residual.data_ptr() : nullptr;
  a.y = y.data_ptr();
  a.rows = Rows(x);
  a.in_features = weight.size(1);
  a.out_features = weight.size(0);
  a.x_row_stride = a.rows > 1 ? RowStride(x) : a.in_features;
  a.element_type = *CudaElementType(x.scalar_type());
  const cudaError_t error =
      cuda::LaunchSmallBatchLinear(a, c10::cuda::getCurrentCUDAStream().stream());
  TORCH_CHECK(error == cudaSuccess, "SmallBatchLinear: launch failed: ", cudaGetErrorString(error));
  return y;
}

}  // namespace liger
