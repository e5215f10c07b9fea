// The weight-streaming small-batch linear against torch::linear, on awkward sizes and strided rows.
#include "core/model/ops/fused_small_batch_linear.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "tests/core/model/ops/naive_reference.h"

namespace liger::testing {
namespace {

TEST(SmallBatchLinearTest, MatchesTorchLinear) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(11);
  torch::NoGradGuard no_grad;
  for (torch::ScalarType dtype : {torch::kBFloat16, torch::kFloat16}) {
    const auto options = torch::TensorOptions().dtype(dtype).device(torch::kCUDA);
    for (int64_t rows : {1, 2, 3, 5, 8}) {
      for (auto [in, out] : {std::pair<int64_t, int64_t>{2048, 3072}, {8192, 2048}, {8, 1},
                             {40, 17}, {2056, 1001}}) {
        SCOPED_TRACE(absl::StrCat(c10::toString(dtype), " rows=", rows, " in=", in, " out=", out));
        const torch::Tensor weight = torch::randn({out, in}, options) / std::sqrt(in + 1.0);
        const torch::Tensor bias = torch::randn({out}, options);
        // Contiguous [rows, in], [1, rows, in]; and the middle of wider rows, as a view of a
        // stacked projection's output is.
        const torch::Tensor contiguous = torch::randn({rows, in}, options);
        const torch::Tensor batched = torch::randn({1, rows, in}, options);
        const torch::Tensor strided = torch::randn({rows, 3 * in + 8}, options).narrow(-1, in + 8, in);
        for (const torch::Tensor& x : {contiguous, batched, strided}) {
          for (const torch::Tensor& b : {torch::Tensor(), bias}) {
            ASSERT_TRUE(SmallBatchLinearApplies(x, weight, b));
            const torch::Tensor got = SmallBatchLinear(x, weight, b);
            EXPECT_TRUE(got.is_contiguous());
            ASSERT_EQ(got.sizes(), torch::linear(x, weight, b).sizes());
            // float64 reference; the kernel accumulates in float32 and rounds once, as GEMMs do.
            torch::Tensor want = torch::matmul(x.to(torch::kFloat64), weight.to(torch::kFloat64).t());
            if (b.defined()) want = want + b.to(torch::kFloat64);
            EXPECT_LE(RelativeError(got.to(torch::kFloat64), want), 1e-2);
          }
        }
      }
    }
  }
}

TEST(SmallBatchLinearTest, AddsTheResidualAsResidualPlusLinearRounds) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(12);
  torch::NoGradGuard no_grad;
  for (torch::ScalarType dtype : {torch::kBFloat16, torch::kFloat16}) {
    const auto options = torch::TensorOptions().dtype(dtype).device(torch::kCUDA);
    for (int64_t rows : {1, 3, 8}) {
      for (auto [in, out] : {std::pair<int64_t, int64_t>{2048, 2048}, {8192, 2048}, {40, 17}}) {
        SCOPED_TRACE(absl::StrCat(c10::toString(dtype), " rows=", rows, " in=", in, " out=", out));
        const torch::Tensor weight = torch::randn({out, in}, options) / std::sqrt(in + 1.0);
        const torch::Tensor x = torch::randn({1, rows, in}, options);
        const torch::Tensor residual = torch::randn({1, rows, out}, options) * 4;
        for (const torch::Tensor& b : {torch::Tensor(), torch::randn({out}, options)}) {
          ASSERT_TRUE(SmallBatchLinearApplies(x, weight, b, residual));
          const torch::Tensor got = SmallBatchLinear(x, weight, b, residual);
          ASSERT_EQ(got.sizes(), residual.sizes());
          // The product rounds to the element type before the add, as residual + linear(...) does:
          // so the sum with the kernel's own product is exact.
          const torch::Tensor product = SmallBatchLinear(x, weight, b);
          EXPECT_TRUE(torch::equal(got, residual + product));
          torch::Tensor want = torch::matmul(x.to(torch::kFloat64), weight.to(torch::kFloat64).t());
          if (b.defined()) want = want + b.to(torch::kFloat64);
          EXPECT_LE(RelativeError(got.to(torch::kFloat64), want + residual.to(torch::kFloat64)), 1e-2);
        }
      }
    }
  }
}

TEST(SmallBatchLinearTest, LeavesLargeBatchesGradientsAndOddLayoutsToTorch) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto options = torch::TensorOptions().dtype(torch::kBFloat16).device(torch::kCUDA);
  const torch::Tensor weight = torch::randn({64, 128}, options);
  EXPECT_TRUE(SmallBatchLinearApplies(torch::randn({8, 128}, options), weight, {}));
  EXPECT_FALSE(SmallBatchLinearApplies(torch::randn({9, 128}, options), weight, {}));
  EXPECT_FALSE(SmallBatchLinearApplies(torch::randn({2, 128}, options).requires_grad_(), weight, {}));
  EXPECT_FALSE(SmallBatchLinearApplies(torch::randn({2, 128}, options.dtype(torch::kFloat32)),
                                       weight.to(torch::kFloat32), {}));
  EXPECT_FALSE(SmallBatchLinearApplies(torch::randn({2, 128}, options), weight.t().contiguous().t(), {}));
  EXPECT_FALSE(SmallBatchLinearApplies(torch::randn({128, 2}, options).t(), weight, {}));
  EXPECT_FALSE(SmallBatchLinearApplies(torch::randn({2, 130}, options).narrow(-1, 1, 128), weight, {}));
  EXPECT_FALSE(SmallBatchLinearApplies(torch::randn({2, 128}, options), weight,
                                       torch::randn({63}, options)));
  EXPECT_FALSE(SmallBatchLinearApplies(torch::randn({2, 128}, options.device(torch::kCPU)),
                                       weight.cpu(), {}));
  // A residual must be the result's shape, contiguous, of the same type and not need a gradient.
  const torch::Tensor x = torch::randn({2, 128}, options);
  EXPECT_TRUE(SmallBatchLinearApplies(x, weight, {}, torch::randn({2, 64}, options)));
  EXPECT_FALSE(SmallBatchLinearApplies(x, weight, {}, torch::randn({2, 63}, options)));
  EXPECT_FALSE(SmallBatchLinearApplies(x, weight, {}, torch::randn({64, 2}, options).t()));
  EXPECT_FALSE(SmallBatchLinearApplies(x, weight, {}, torch::randn({2, 64}, options.dtype(torch::kFloat16))));
  EXPECT_FALSE(SmallBatchLinearApplies(x, weight, {}, torch::randn({2, 64}, options).requires_grad_()));
}

}  // namespace
}  // namespace liger::testing
