// The fused decode kernel against a float64 composition of the step's definition (rotary
// embedding, feature maps, window softmax over the ring, gated state update, mix), on awkward
// sizes: 3 KV heads of 3 query heads, a 7-token window, sequences before, at and past the window,
// rows out of order.
#include "core/model/ops/fused_liger_decode.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "tests/core/model/ops/naive_reference.h"

namespace liger::testing {
namespace {

constexpr int64_t kKv = 3, kGroups = 3, kWindow = 7, kPoolRows = 8;

torch::Tensor RotateHalf(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

struct Case {
  LigerDecodeBatch batch;
  LigerStateRows store;
};

Case MakeCase(int64_t d, torch::ScalarType dtype, const std::vector<int64_t>& rows,
              const std::vector<int64_t>& positions) {
  const torch::Device cuda(torch::kCUDA);
  const auto options = torch::TensorOptions().dtype(dtype).device(cuda);
  const auto b = static_cast<int64_t>(rows.size());
  const torch::Tensor angles =
      torch::tensor(positions, torch::kFloat).unsqueeze(1) *
      torch::pow(10000.0, -torch::arange(0, d, 2, torch::kFloat) / d).unsqueeze(0);
  const torch::Tensor emb = torch::cat({angles, angles}, -1).to(cuda);
  Case c;
  // q as a strided view (a [B, 1, H, D] projection seen as [B, H, D]), like the model's.
  c.batch.q = (2 * torch::randn({b, 1, kKv * kGroups, d}, options)).select(1, 0);
  c.batch.k = 2 * torch::randn({b, kKv, d}, options);
  c.batch.v = torch::randn({b, kKv, d}, options);
  c.batch.cos = emb.cos();
  c.batch.sin = emb.sin();
  c.batch.rows = torch::tensor(rows, torch::kInt64).to(cuda);
  c.batch.positions = torch::tensor(positions, torch::kInt64).to(cuda);
  c.store.memory = torch::randn({kPoolRows, kKv, d, d}, options.dtype(torch::kFloat));
  c.store.ring_k = torch::randn({kPoolRows, kKv, kWindow, d}, options);
  c.store.ring_v = torch::randn({kPoolRows, kKv, kWindow, d}, options);
  return c;
}

struct Expected {
  torch::Tensor output, memory, ring_k, ring_v;
};

// The step in float64 on the CPU, rounding rotary q and k to the activations' dtype as the model
// stores them.
Expected Reference(const Case& c, const LigerMixing& mixing) {
  auto f64 = [](const torch::Tensor& t) { return t.cpu().to(torch::kFloat64); };
  const torch::ScalarType dtype = c.batch.q.scalar_type();
  const torch::Tensor q = f64(c.batch.q), k = f64(c.batch.k), v = f64(c.batch.v);
  const torch::Tensor cos = f64(c.batch.cos).unsqueeze(1), sin = f64(c.batch.sin).unsqueeze(1);
  const torch::Tensor rows = c.batch.rows.cpu(), positions = c.batch.positions.cpu();
  const int64_t b = q.size(0), d = q.size(2);
  auto rounded = [&](const torch::Tensor& x) { return x.to(dtype).to(torch::kFloat64); };
  const torch::Tensor q_rot = rounded(q * cos + RotateHalf(q) * sin).view({b, kKv, kGroups, d});
  const torch::Tensor k_rot = rounded(k * cos + RotateHalf(k) * sin);
  const bool gla = mixing.feature_map == LigerFeatureMap::kGla;
  const torch::Tensor q_feat = torch::softmax(q, -1).view({b, kKv, kGroups, d});
  const torch::Tensor k_feat = gla ? torch::softmax(k, -1) : torch::sigmoid(-k);
  const torch::Tensor decay = (torch::log_sigmoid(k) / mixing.gate_normalizer).exp();

  Expected e{torch::Tensor(), f64(c.store.memory), f64(c.store.ring_k), f64(c.store.ring_v)};
  const torch::Tensor state = e.memory.index_select(0, rows) * decay.unsqueeze(-1) +
                              k_feat.unsqueeze(-1) * v.unsqueeze(-2);
  const torch::Tensor linear = torch::matmul(q_feat, state);  // [B, KV, G, D]
  const torch::Tensor ring_k = e.ring_k.index_select(0, rows), ring_v = e.ring_v.index_select(0, rows);
  torch::Tensor scores = torch::matmul(q_rot, ring_k.transpose(-1, -2)) / std::sqrt(double(d));
  const torch::Tensor seen = positions.clamp_max(kWindow).view({b, 1, 1, 1});
  scores.masked_fill_(torch::arange(kWindow).view({1, 1, 1, kWindow}) >= seen, -INFINITY);
  const torch::Tensor self = (q_rot * k_rot.unsqueeze(2)).sum(-1, true) / std::sqrt(double(d));
  const torch::Tensor p = torch::cat({scores, self}, -1).softmax(-1);
  const torch::Tensor window = torch::matmul(p.narrow(-1, 0, kWindow), ring_v) +
                               p.narrow(-1, kWindow, 1) * v.unsqueeze(2);
  e.output = ((1 - mixing.window_weight) * linear + mixing.window_weight * window).view({b, -1, d});
  e.memory.index_copy_(0, rows, state);
  for (int64_t i = 0; i < b; ++i) {
    const int64_t row = rows[i].item<int64_t>(), slot = positions[i].item<int64_t>() % kWindow;
    e.ring_k.select(0, row).select(1, slot).copy_(k_rot[i]);
    e.ring_v.select(0, row).select(1, slot).copy_(rounded(v[i]));
  }
  return e;
}

class FusedLigerDecodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  }
};

TEST_F(FusedLigerDecodeTest, MatchesFloat64Definition) {
  torch::manual_seed(3);
  const std::vector<int64_t> rows = {6, 1, 3, 0, 5}, positions = {0, 3, 7, 12, 100};
  for (int64_t d : {32, 64, 128}) {
    for (torch::ScalarType dtype : {torch::kFloat32, torch::kBFloat16, torch::kFloat16}) {
      for (LigerFeatureMap map : {LigerFeatureMap::kGla, LigerFeatureMap::kHgrn2}) {
        SCOPED_TRACE(absl::StrCat("D=", d, " dtype=", c10::toString(dtype),
                                  " map=", map == LigerFeatureMap::kGla ? "gla" : "hgrn2"));
        const LigerMixing mixing{map, map == LigerFeatureMap::kGla ? 16.0 : 1.0, 0.5};
        Case c = MakeCase(d, dtype, rows, positions);
        ASSERT_TRUE(FusedLigerDecodeApplies(c.batch, c.store));
        const Expected want = Reference(c, mixing);
        const auto got = FusedLigerDecode(c.batch, c.store, mixing);
        ASSERT_TRUE(got.ok()) << got.status();
        // Outputs round once to the dtype; the float32 state matches to float32 rounding; values
        // are only copied into the ring.
        const double tolerance = dtype == torch::kFloat32 ? 1e-5 : 1e-2;
        EXPECT_LE(RelativeError(got->cpu().to(torch::kFloat64), want.output), tolerance);
        EXPECT_LE(RelativeError(c.store.memory.cpu().to(torch::kFloat64), want.memory), 1e-5);
        // Rotary keys may round to the neighbouring value of a 16-bit dtype.
        EXPECT_LE(RelativeError(c.store.ring_k.cpu().to(torch::kFloat64), want.ring_k), tolerance);
        EXPECT_LE(RelativeError(c.store.ring_v.cpu().to(torch::kFloat64), want.ring_v), 1e-6);
      }
    }
  }
}

TEST_F(FusedLigerDecodeTest, RejectsInconsistentArguments) {
  Case c = MakeCase(64, torch::kBFloat16, {0, 1}, {0, 1});
  const LigerMixing mixing;
  Case wrong_ring = c;
  wrong_ring.store.ring_k = c.store.ring_k.to(torch::kFloat32);
  Case wrong_rows = c;
  wrong_rows.batch.rows = c.batch.rows.to(torch::kInt32);
  Case odd_dim = MakeCase(64, torch::kBFloat16, {0, 1}, {0, 1});
  odd_dim.batch.q = torch::randn({2, kKv * kGroups, 48}, c.batch.q.options());
  for (const Case* bad : {&wrong_ring, &wrong_rows, &odd_dim}) {
    EXPECT_FALSE(FusedLigerDecodeApplies(bad->batch, bad->store));
    EXPECT_EQ(FusedLigerDecode(bad->batch, bad->store, mixing).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace liger::testing
