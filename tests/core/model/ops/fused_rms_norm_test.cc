// The one-kernel RMSNorm against the ATen composition it replaces, on contiguous and strided rows.
#include "core/model/ops/fused_rms_norm.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "tests/core/model/ops/naive_reference.h"

namespace liger::testing {
namespace {

torch::Tensor AtenRmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  torch::Tensor h = x.to(torch::kFloat32);
  h = h * torch::rsqrt(h.pow(2).mean(-1, true) + eps);
  return weight * h.to(x.scalar_type());
}

TEST(FusedRmsNormTest, MatchesAtenComposition) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(5);
  torch::NoGradGuard no_grad;
  for (torch::ScalarType dtype : {torch::kFloat32, torch::kBFloat16, torch::kFloat16}) {
    for (int64_t width : {2048, 96, 33}) {
      SCOPED_TRACE(absl::StrCat(c10::toString(dtype), " width=", width));
      const auto options = torch::TensorOptions().dtype(dtype).device(torch::kCUDA);
      const torch::Tensor weight = 1 + 0.1 * torch::randn({width}, options);
      // Contiguous [3, 7, width]; and the middle third of wider rows, as a q/k/v view of a stacked
      // projection's output is.
      const torch::Tensor contiguous = 3 * torch::randn({3, 7, width}, options);
      const torch::Tensor strided = 3 * torch::randn({3, 7, 3 * width}, options).narrow(-1, width, width);
      for (const torch::Tensor& x : {contiguous, strided}) {
        ASSERT_TRUE(FusedRmsNormApplies(x, weight));
        const torch::Tensor got = FusedRmsNorm(x, weight, 1e-5);
        EXPECT_TRUE(got.is_contiguous());
        // The ATen path rounds at the same two places; only the sum's order differs.
        EXPECT_LE(RelativeError(got.to(torch::kFloat64), AtenRmsNorm(x, weight, 1e-5).to(torch::kFloat64)),
                  dtype == torch::kFloat32 ? 1e-6 : 1e-2);
      }
    }
  }
}

TEST(FusedRmsNormTest, LeavesGradientsAndOddLayoutsToAten) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto options = torch::TensorOptions().device(torch::kCUDA);
  const torch::Tensor weight = torch::ones({64}, options);
  EXPECT_FALSE(FusedRmsNormApplies(torch::randn({4, 64}, options).requires_grad_(), weight));
  EXPECT_FALSE(FusedRmsNormApplies(torch::randn({64, 4}, options).t(), weight));
  EXPECT_FALSE(FusedRmsNormApplies(torch::randn({4, 64}, options.dtype(torch::kBFloat16)), weight));
  EXPECT_FALSE(FusedRmsNormApplies(torch::randn({4, 64}), weight.cpu()));
}

}  // namespace
}  // namespace liger::testing
