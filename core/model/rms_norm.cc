#include "core/model/rms_norm.h"

#ifdef LIGER_WITH_CUDA
#include "core/model/ops/fused_rms_norm.h"
#endif

namespace liger {

torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
#ifdef LIGER_WITH_CUDA
  if (FusedRmsNormApplies(x, weight)) return FusedRmsNorm(x, weight, eps);
#endif
  torch::Tensor h = x.to(torch::kFloat32);
  torch::Tensor variance = h.pow(2).mean(-1, /*keepdim=*/true);
  h = h * torch::rsqrt(variance + eps);
  return weight * h.to(x.scalar_type());
}

}  // namespace liger
