// The one-kernel rotary embedding and SwiGLU product against the ATen compositions they replace.
#include "core/model/ops/fused_elementwise.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "tests/core/model/ops/naive_reference.h"

namespace liger::testing {
namespace {

torch::Tensor AtenRotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const torch::Tensor rotated = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos.to(x.scalar_type()).unsqueeze(1) + rotated * sin.to(x.scalar_type()).unsqueeze(1);
}

double Tolerance(torch::ScalarType dtype) { return dtype == torch::kFloat32 ? 1e-6 : 1e-2; }

class FusedElementwiseTest : public ::testing::TestWithParam<torch::ScalarType> {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  }
};

TEST_P(FusedElementwiseTest, RotaryMatchesAten) {
  torch::manual_seed(7);
  torch::NoGradGuard no_grad;
  const auto options = torch::TensorOptions().dtype(GetParam()).device(torch::kCUDA);
  const auto f32 = options.dtype(torch::kFloat32);
  // A stacked q/k/v projection's output viewed as [B, H, T, D] (strided), and a contiguous one;
  // cos/sin shared by the batch ([1, T, D]) and per sequence ([B, T, D]).
  const int64_t b = 3, h = 5, t = 37, d = 64;
  const torch::Tensor stacked =
      torch::randn({b, t, 3 * h * d}, options).narrow(-1, h * d, h * d).view({b, t, h, d}).transpose(1, 2);
  const torch::Tensor contiguous = torch::randn({b, h, t, d}, options);
  const torch::Tensor angles = torch::rand({b, t, d}, f32) * 100;
  for (const torch::Tensor& x : {stacked, contiguous}) {
    for (const torch::Tensor& a : {angles, angles.narrow(0, 0, 1).contiguous()}) {
      const torch::Tensor cos = a.cos(), sin = a.sin();
      ASSERT_TRUE(FusedRotaryApplies(x, cos, sin));
      const torch::Tensor got = FusedRotary(x, cos, sin);
      EXPECT_LE(RelativeError(got.to(torch::kFloat64), AtenRotary(x, cos, sin).to(torch::kFloat64)),
                Tolerance(GetParam()));
    }
  }
}

TEST_P(FusedElementwiseTest, SiluMulMatchesAten) {
  torch::manual_seed(8);
  torch::NoGradGuard no_grad;
  const auto options = torch::TensorOptions().dtype(GetParam()).device(torch::kCUDA);
  // Rows of a prefill and of one decode step; widths within one block's slice and across several.
  for (auto [rows, width] : {std::pair<int64_t, int64_t>{18, 100}, {1, 8192}, {3, 1025}, {5, 8195}}) {
    SCOPED_TRACE(absl::StrCat("rows=", rows, " width=", width));
    const torch::Tensor gate_up = 3 * torch::randn({1, rows, 2 * width}, options);
    const torch::Tensor gate = gate_up.narrow(-1, 0, width), up = gate_up.narrow(-1, width, width);
    ASSERT_TRUE(FusedSiluMulApplies(gate, up));
    const torch::Tensor got = FusedSiluMul(gate, up);
    EXPECT_LE(RelativeError(got.to(torch::kFloat64), (torch::silu(gate) * up).to(torch::kFloat64)),
              Tolerance(GetParam()));
  }
}

TEST_P(FusedElementwiseTest, LeavesGradientsAndOddLayoutsToAten) {
  const auto options = torch::TensorOptions().dtype(GetParam()).device(torch::kCUDA);
  const torch::Tensor trig = torch::zeros({1, 4, 8}, options.dtype(torch::kFloat32));
  EXPECT_FALSE(FusedRotaryApplies(torch::randn({2, 3, 4, 8}, options).requires_grad_(), trig, trig));
  EXPECT_FALSE(FusedRotaryApplies(torch::randn({2, 3, 8, 4}, options).transpose(2, 3), trig, trig));
  const torch::Tensor x = torch::randn({4, 16}, options);
  EXPECT_FALSE(FusedSiluMulApplies(x, x.t().contiguous().t()));
  EXPECT_FALSE(FusedSiluMulApplies(x.requires_grad_(), x));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, FusedElementwiseTest,
                         ::testing::Values(torch::kFloat32, torch::kBFloat16, torch::kFloat16),
                         [](const auto& info) { return std::string(c10::toString(info.param)); });

}  // namespace
}  // namespace liger::testing
