#include "core/model/ops/window_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/core/model/ops/naive_reference.h"
#include "tests/core/model/ops/test_inputs.h"

namespace liger::testing {
namespace {

constexpr int64_t kBatch = 2, kHeads = 3, kHeadDim = 8;
constexpr double kWindowTol = 1e-5;

torch::Tensor Randn(int64_t t, torch::Device device = torch::kCPU, int64_t d = kHeadDim) {
  return torch::randn({kBatch, kHeads, t, d}, torch::TensorOptions().device(device));
}

torch::Tensor Last(const torch::Tensor& x, int64_t n) { return x.narrow(2, x.size(2) - n, n); }

TEST(WindowAttentionTest, MatchesNaiveLoop) {
  torch::manual_seed(11);
  double worst = 0;
  for (const torch::Device& device : TestDevices()) {
    for (int64_t window : {1, 4, 64}) {
      for (int64_t block : {16, 128}) {
        for (int64_t t : {int64_t{1}, window, window + 1, 2 * window + 3, block - 1, block, block + 1,
                          2 * block + 5}) {
          for (int64_t p : {int64_t{0}, (window + 1) / 2, window}) {
            SCOPED_TRACE(absl::StrCat(device.str(), " window=", window, " block=", block, " T=", t,
                                      " P=", p));
            const torch::Tensor q = Randn(t, device), k = Randn(t, device), v = Randn(t, device);
            const torch::Tensor past_k = p > 0 ? Randn(p, device) : torch::Tensor();
            const torch::Tensor past_v = p > 0 ? Randn(p, device) : torch::Tensor();
            const auto got = WindowAttention(q, k, v, past_k, past_v, window, block);
            ASSERT_TRUE(got.ok()) << got.status();
            const double err =
                RelativeError(*got, NaiveWindowAttention(q, k, v, past_k, past_v, window));
            EXPECT_LE(err, kWindowTol);
            worst = std::max(worst, err);
          }
        }
      }
    }
  }
  RecordProperty("max_rel_err", absl::StrCat(worst));
}

// Dense [T, P+T] scores with the band mask, out-of-place in float64: autograd's reference.
torch::Tensor DenseBandAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                 int64_t past, int64_t window) {
  const int64_t t = q.size(2);
  const torch::Tensor query_pos = torch::arange(past, past + t).unsqueeze(1);
  const torch::Tensor key_pos = torch::arange(past + t).unsqueeze(0);
  const torch::Tensor hidden = (key_pos > query_pos).logical_or(key_pos < query_pos - window);
  const torch::Tensor scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(double(q.size(3)));
  return torch::matmul(scores.masked_fill(hidden, -INFINITY).softmax(-1), v);
}

TEST(WindowAttentionTest, GradientsMatchDenseBandAttention) {
  torch::manual_seed(9);
  for (int64_t past : {0, 3}) {
    SCOPED_TRACE(absl::StrCat("past=", past));
    const int64_t t = 37, window = 5;
    const torch::Tensor q = Randn(t), k = Randn(past + t), v = Randn(past + t);
    const torch::Tensor weight = torch::randn({kBatch, kHeads, t, kHeadDim}, torch::kDouble);
    auto gradients = [&](torch::ScalarType dtype, bool reference) {
      std::vector<torch::Tensor> leaves = {q.to(dtype).requires_grad_(), k.to(dtype).requires_grad_(),
                                           v.to(dtype).requires_grad_()};
      torch::Tensor out;
      if (reference) {
        out = DenseBandAttention(leaves[0], leaves[1], leaves[2], past, window);
      } else {
        auto got = WindowAttention(leaves[0], Last(leaves[1], t), Last(leaves[2], t),
                                   leaves[1].narrow(2, 0, past), leaves[2].narrow(2, 0, past), window, 8);
        EXPECT_TRUE(got.ok()) << got.status();
        if (!got.ok()) return std::vector<torch::Tensor>{};
        out = *got;
      }
      return torch::autograd::grad({(out.to(torch::kDouble) * weight).sum()}, leaves);
    };
    const std::vector<torch::Tensor> got = gradients(torch::kFloat, false);
    const std::vector<torch::Tensor> want = gradients(torch::kDouble, true);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_LE(RelativeError(got[i], want[i]), 1e-5) << i;
  }
}

TEST(WindowAttentionTest, EmptyPastEqualsNoPast) {
  torch::manual_seed(12);
  const torch::Tensor q = Randn(20), k = Randn(20), v = Randn(20);
  const auto none = WindowAttention(q, k, v, torch::Tensor(), torch::Tensor(), 4);
  const auto empty = WindowAttention(q, k, v, Randn(0), Randn(0), 4);
  ASSERT_TRUE(none.ok()) << none.status();
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(torch::equal(*none, *empty));
}

TEST(WindowAttentionTest, ZeroWindowReturnsValues) {
  torch::manual_seed(13);
  const torch::Tensor q = Randn(9), k = Randn(9), v = Randn(9);
  const auto got = WindowAttention(q, k, v, torch::Tensor(), torch::Tensor(), 0, 4);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(torch::allclose(*got, v, 1e-6, 1e-6));
}

TEST(WindowAttentionTest, EmptyQueryGivesEmptyOutput) {
  const auto got = WindowAttention(Randn(0), Randn(0), Randn(0), Randn(3), Randn(3), 4);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->sizes(), torch::IntArrayRef({kBatch, kHeads, 0, kHeadDim}));
}

TEST(WindowAttentionTest, ChunkedPrefillEqualsOnePrefill) {
  torch::manual_seed(14);
  const int64_t t = 300;
  double worst = 0;
  for (int64_t window : {4, 64}) {
    const torch::Tensor q = Randn(t), k = Randn(t), v = Randn(t);
    const auto whole = WindowAttention(q, k, v, torch::Tensor(), torch::Tensor(), window, 32);
    ASSERT_TRUE(whole.ok()) << whole.status();
    std::vector<torch::Tensor> outputs;
    int64_t begin = 0;
    for (int64_t n : {50, 1, 3, 100, 146}) {
      SCOPED_TRACE(absl::StrCat("window=", window, " piece at ", begin));
      // The caller keeps only the last `window` keys and values as the past.
      const int64_t p = std::min(window, begin);
      const auto piece = WindowAttention(q.narrow(2, begin, n), k.narrow(2, begin, n),
                                         v.narrow(2, begin, n), k.narrow(2, begin - p, p),
                                         v.narrow(2, begin - p, p), window, 32);
      ASSERT_TRUE(piece.ok()) << piece.status();
      outputs.push_back(*piece);
      begin += n;
    }
    ASSERT_EQ(begin, t);
    const double err = RelativeError(torch::cat(outputs, 2), *whole);
    EXPECT_LE(err, kWindowTol);
    worst = std::max(worst, err);
  }
  RecordProperty("max_rel_err", absl::StrCat(worst));
}

TEST(WindowAttentionTest, StepFromRingEqualsPrefillRow) {
  torch::manual_seed(15);
  const int64_t t = 150;
  double worst = 0;
  for (const torch::Device& device : TestDevices()) {
    for (int64_t window : {1, 4, 64}) {
      SCOPED_TRACE(absl::StrCat(device.str(), " window=", window));
      const torch::Tensor q = Randn(t, device), k = Randn(t, device), v = Randn(t, device);
      const auto prefill = WindowAttention(q, k, v, torch::Tensor(), torch::Tensor(), window);
      ASSERT_TRUE(prefill.ok()) << prefill.status();
      // Unfilled slots hold garbage that the mask must hide.
      torch::Tensor ring_k = Randn(window, device) * 100, ring_v = Randn(window, device) * 100;
      torch::Tensor valid = torch::zeros({kBatch, window}, torch::TensorOptions().dtype(torch::kBool).device(device));
      for (int64_t i = 0; i < t; ++i) {
        const auto o = WindowAttentionStep(q.select(2, i), k.select(2, i), v.select(2, i), ring_k,
                                           ring_v, valid);
        ASSERT_TRUE(o.ok()) << o.status();
        const double err = RelativeError(*o, prefill->select(2, i));
        EXPECT_LE(err, kWindowTol) << "token " << i;
        worst = std::max(worst, err);
        const int64_t slot = i % window;
        ring_k.select(2, slot).copy_(k.select(2, i));
        ring_v.select(2, slot).copy_(v.select(2, i));
        valid.select(1, slot).fill_(true);
      }
    }
  }
  RecordProperty("max_rel_err", absl::StrCat(worst));
}

TEST(WindowAttentionTest, StepMasksEachSequenceSeparately) {
  torch::manual_seed(16);
  const int64_t w = 6;
  const torch::Tensor q = Randn(1).squeeze(2), k_new = Randn(1).squeeze(2), v_new = Randn(1).squeeze(2);
  const torch::Tensor ring_k = Randn(w), ring_v = Randn(w);
  const torch::Tensor valid =
      torch::tensor({1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 1, 0}, torch::kBool).reshape({kBatch, w});
  const auto got = WindowAttentionStep(q, k_new, v_new, ring_k, ring_v, valid);
  ASSERT_TRUE(got.ok()) << got.status();
  const double err = RelativeError(*got, NaiveWindowStep(q, k_new, v_new, ring_k, ring_v, valid));
  EXPECT_LE(err, kWindowTol);
  RecordProperty("max_rel_err", absl::StrCat(err));
}

// Query heads h of a group read KV head h / G: the same as expanding k and v to every query head.
TEST(WindowAttentionTest, GroupedQueryHeadsEqualExpandedKeys) {
  torch::manual_seed(18);
  const int64_t heads = 6, window = 8, block = 16;
  for (const torch::Device& device : TestDevices()) {
    for (int64_t kv_heads : {1, 2, 3}) {
      auto randn = [&](int64_t h, int64_t t) {
        return torch::randn({kBatch, h, t, kHeadDim}, torch::TensorOptions().device(device));
      };
      auto expand = [&](const torch::Tensor& x) { return x.repeat_interleave(heads / kv_heads, 1); };
      for (int64_t t : {1, 5, 37}) {
        SCOPED_TRACE(absl::StrCat(device.str(), " kv_heads=", kv_heads, " T=", t));
        const torch::Tensor q = randn(heads, t), k = randn(kv_heads, t), v = randn(kv_heads, t);
        const torch::Tensor past_k = randn(kv_heads, 5), past_v = randn(kv_heads, 5);
        const auto got = WindowAttention(q, k, v, past_k, past_v, window, block);
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_LE(RelativeError(*got, NaiveWindowAttention(q, expand(k), expand(v), expand(past_k),
                                                           expand(past_v), window)),
                  kWindowTol);
      }
      const torch::Tensor q = randn(heads, 1).squeeze(2), k_new = randn(kv_heads, 1).squeeze(2);
      const torch::Tensor v_new = randn(kv_heads, 1).squeeze(2);
      const torch::Tensor ring_k = randn(kv_heads, window), ring_v = randn(kv_heads, window);
      const torch::Tensor valid = torch::rand({kBatch, window}, torch::TensorOptions().device(device)) < 0.5;
      const auto step = WindowAttentionStep(q, k_new, v_new, ring_k, ring_v, valid);
      ASSERT_TRUE(step.ok()) << step.status();
      EXPECT_LE(RelativeError(*step, NaiveWindowStep(q, expand(k_new), expand(v_new), expand(ring_k),
                                                     expand(ring_v), valid)),
                kWindowTol);
    }
  }
}

// On CUDA the products run in bf16 on tensor cores; the result stays within bf16 rounding.
TEST(WindowAttentionTest, HalfPrecisionPrefillOnEachDevice) {
  torch::manual_seed(19);
  for (const torch::Device& device : TestDevices()) {
    SCOPED_TRACE(device.str());
    const torch::Tensor q = Randn(300, device), k = Randn(300, device), v = Randn(300, device);
    const auto got = WindowAttention(q.to(torch::kBFloat16), k.to(torch::kBFloat16),
                                     v.to(torch::kBFloat16), {}, {}, 64, 64);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->scalar_type(), torch::kBFloat16);
    EXPECT_LE(RelativeError(*got, NaiveWindowAttention(q, k, v, {}, {}, 64)), 2e-2);
  }
}

TEST(WindowAttentionTest, HalfPrecisionInputsGiveHalfPrecisionOutputs) {
  torch::manual_seed(17);
  const torch::Tensor q = Randn(40).to(torch::kBFloat16), k = Randn(40).to(torch::kBFloat16);
  const torch::Tensor v = Randn(40).to(torch::kBFloat16);
  const auto prefill = WindowAttention(q, k, v, k.narrow(2, 0, 0), v.narrow(2, 0, 0), 8);
  ASSERT_TRUE(prefill.ok()) << prefill.status();
  EXPECT_EQ(prefill->scalar_type(), torch::kBFloat16);
  EXPECT_LE(RelativeError(*prefill, NaiveWindowAttention(q, k, v, {}, {}, 8)), 1e-2);
  const auto step = WindowAttentionStep(q.select(2, 8), k.select(2, 8), v.select(2, 8),
                                        k.narrow(2, 0, 8), v.narrow(2, 0, 8),
                                        torch::ones({kBatch, 8}, torch::kBool));
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_EQ(step->scalar_type(), torch::kBFloat16);
  EXPECT_LE(RelativeError(*step, prefill->select(2, 8)), 1e-2);
}

TEST(WindowAttentionTest, RejectsBadArguments) {
  const torch::Tensor q = Randn(5), k = Randn(5), v = Randn(5), past = Randn(3);
  auto expect_invalid = [](const absl::StatusOr<torch::Tensor>& got, const char* what) {
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << what;
  };
  expect_invalid(WindowAttention(torch::Tensor(), k, v, {}, {}, 4), "undefined q");
  expect_invalid(WindowAttention(q.select(2, 0), k, v, {}, {}, 4), "rank-3 q");
  expect_invalid(WindowAttention(q, Randn(5, torch::kCPU, kHeadDim + 1), v, {}, {}, 4), "k head dim");
  expect_invalid(WindowAttention(q, k, Randn(6), {}, {}, 4), "v length");
  expect_invalid(WindowAttention(q, k, v.to(torch::kDouble), {}, {}, 4), "v dtype");
  const torch::Tensor two_heads = torch::randn({kBatch, 2, 5, kHeadDim});
  expect_invalid(WindowAttention(q, two_heads, two_heads, {}, {}, 4), "KV heads not dividing H");
  expect_invalid(WindowAttention(q, k.narrow(1, 0, 1), v, {}, {}, 4), "k and v heads differ");
  expect_invalid(WindowAttention(q, k, v, past, {}, 4), "past_v missing");
  expect_invalid(WindowAttention(q, k, v, past, Randn(2), 4), "past lengths differ");
  expect_invalid(WindowAttention(q, k, v, past, past, 2), "past longer than the window");
  expect_invalid(WindowAttention(q, k, v, Randn(3, torch::kCPU, kHeadDim + 1), Randn(3, torch::kCPU, kHeadDim + 1), 4),
                 "past head dim");
  expect_invalid(WindowAttention(q, k, v, {}, {}, -1), "negative window");
  expect_invalid(WindowAttention(q, k, v, {}, {}, 4, 0), "block_size 0");

  const torch::Tensor q1 = q.select(2, 0), k1 = k.select(2, 0), v1 = v.select(2, 0);
  const torch::Tensor ring = Randn(4), mask = torch::ones({kBatch, 4}, torch::kBool);
  expect_invalid(WindowAttentionStep(q1, k1, v1, ring, ring, mask.to(torch::kFloat)), "float mask");
  expect_invalid(WindowAttentionStep(q1, k1, v1, ring, ring, torch::ones({kBatch, 3}, torch::kBool)),
                 "mask width");
  expect_invalid(WindowAttentionStep(q1, k1, v1, ring, Randn(3), mask), "ring_v length");
  expect_invalid(WindowAttentionStep(q1, k1.narrow(1, 0, 1), v1.narrow(1, 0, 1), ring, ring, mask),
                 "ring heads differ from k_new's");
  expect_invalid(WindowAttentionStep(q1, k1.narrow(1, 0, 2), v1.narrow(1, 0, 2), ring.narrow(1, 0, 2),
                                     ring.narrow(1, 0, 2), mask),
                 "KV heads not dividing H");
  expect_invalid(WindowAttentionStep(q1, k1, v1, Randn(4, torch::kCPU, kHeadDim + 1), ring, mask), "ring head dim");
  expect_invalid(WindowAttentionStep(q, k1, v1, ring, ring, mask), "q with a time dimension");
  expect_invalid(WindowAttentionStep(q1, k1, v1.to(torch::kDouble), ring, ring, mask), "v_new dtype");
  expect_invalid(WindowAttentionStep(q1, k1, v1, torch::Tensor(), ring, mask), "undefined ring");
}

// 2^17 tokens: a T x T float32 score matrix would need 64 GiB, so this only passes in linear memory.
TEST(WindowAttentionTest, LongSequenceRunsInLinearMemory) {
  torch::manual_seed(18);
  const int64_t t = int64_t{1} << 17, window = 64, tail = 256;
  const auto options = torch::TensorOptions().dtype(torch::kFloat);
  const torch::Tensor q = torch::randn({1, 1, t, 4}, options), k = torch::randn({1, 1, t, 4}, options);
  const torch::Tensor v = torch::randn({1, 1, t, 4}, options);
  const auto got = WindowAttention(q, k, v, {}, {}, window);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(AllFinite(*got));
  // The last rows only see the last window + tail tokens.
  const torch::Tensor want = NaiveWindowAttention(Last(q, tail), Last(k, tail), Last(v, tail),
                                                  Last(k, tail + window).narrow(2, 0, window),
                                                  Last(v, tail + window).narrow(2, 0, window), window);
  const double err = RelativeError(Last(*got, tail), want);
  EXPECT_LE(err, kWindowTol);
  RecordProperty("max_rel_err", absl::StrCat(err));
}

}  // namespace
}  // namespace liger::testing
