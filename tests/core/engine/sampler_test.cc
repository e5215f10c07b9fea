#include "core/engine/sampler.h"

#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

namespace liger {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

Sampler MakeSampler(const SamplingParams& params) {
  absl::StatusOr<Sampler> sampler = Sampler::Create(params);
  EXPECT_TRUE(sampler.ok()) << sampler.status();
  return sampler.ok() ? std::move(*sampler) : *Sampler::Create(SamplingParams{});
}

SamplingParams Sampling(float temperature, uint64_t seed) {
  SamplingParams p;
  p.temperature = temperature;
  p.seed = seed;
  return p;
}

// Logits whose softmax is exactly `probs` (up to rounding).
torch::Tensor LogitsOf(const std::vector<double>& probs) {
  std::vector<float> logits;
  for (const double p : probs) logits.push_back(static_cast<float>(std::log(p)));
  return torch::tensor(logits, torch::kFloat32);
}

int32_t ArgMaxOf(const torch::Tensor& logits) {
  const auto a = logits.accessor<float, 1>();
  int32_t best = 0;
  for (int32_t i = 1; i < a.size(0); ++i) {
    if (a[i] > a[best]) best = i;
  }
  return best;
}

std::vector<int32_t> Draw(Sampler& sampler, const torch::Tensor& logits, int n) {
  std::vector<int32_t> tokens;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<int32_t> t = sampler.Sample(logits, {}, {});
    EXPECT_TRUE(t.ok()) << t.status();
    tokens.push_back(t.value_or(-1));
  }
  return tokens;
}

std::vector<float> Processed(const Sampler& sampler, const torch::Tensor& logits,
                             const std::vector<int32_t>& prompt_and_output,
                             const std::vector<int32_t>& output_only) {
  absl::StatusOr<torch::Tensor> t = sampler.ProcessLogits(logits, prompt_and_output, output_only);
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok()) return {};
  return std::vector<float>(t->data_ptr<float>(), t->data_ptr<float>() + t->numel());
}

TEST(SamplerTest, GreedyPicksArgmaxAndLowestIdOnTies) {
  Sampler greedy = MakeSampler(SamplingParams{});
  EXPECT_EQ(*greedy.Sample(torch::tensor({0.1f, 2.0f, -1.0f, 1.9f}), {}, {}), 1);
  EXPECT_EQ(*greedy.Sample(torch::tensor({1.0f, 3.0f, 3.0f, kNegInf}), {}, {}), 1);
  const torch::Tensor random = torch::randn({1000}, torch::kFloat32);
  EXPECT_EQ(*greedy.Sample(random, {}, {}), ArgMaxOf(random));
}

TEST(SamplerTest, SeededSamplingIsReproducibleAndSeedsDiffer) {
  const torch::Tensor logits = torch::zeros({16}, torch::kFloat32);
  Sampler a = MakeSampler(Sampling(1.0f, 42));
  Sampler b = MakeSampler(Sampling(1.0f, 42));
  Sampler c = MakeSampler(Sampling(1.0f, 43));
  const std::vector<int32_t> drawn_a = Draw(a, logits, 64);
  EXPECT_EQ(drawn_a, Draw(b, logits, 64));
  EXPECT_NE(drawn_a, Draw(c, logits, 64));
  EXPECT_EQ(a.seed(), 42u);
}

TEST(SamplerTest, SeedZeroDrawsARandomSeed) {
  Sampler a = MakeSampler(Sampling(1.0f, 0));
  Sampler b = MakeSampler(Sampling(1.0f, 0));
  EXPECT_NE(a.seed(), b.seed());
  // The drawn seed reproduces the run.
  const torch::Tensor logits = torch::zeros({16}, torch::kFloat32);
  Sampler replay = MakeSampler(Sampling(1.0f, a.seed()));
  EXPECT_EQ(Draw(a, logits, 32), Draw(replay, logits, 32));
}

TEST(SamplerTest, TinyTemperatureApproachesGreedy) {
  const torch::Tensor logits = torch::tensor({1.0f, 1.5f, 1.4f, -3.0f});
  Sampler cold = MakeSampler(Sampling(1e-4f, 5));
  for (const int32_t t : Draw(cold, logits, 200)) EXPECT_EQ(t, 1);
  // The same logits at temperature 1 do produce other tokens, so the check above can fail.
  Sampler warm = MakeSampler(Sampling(1.0f, 5));
  const std::vector<int32_t> drawn = Draw(warm, logits, 200);
  EXPECT_NE(std::count(drawn.begin(), drawn.end(), 1), 200);
}

TEST(SamplerTest, TopKOneAndTinyTopPEqualGreedy) {
  torch::manual_seed(3);
  for (int trial = 0; trial < 20; ++trial) {
    const torch::Tensor logits = torch::randn({50}, torch::kFloat32);
    SamplingParams k1 = Sampling(1.0f, 100 + trial);
    k1.top_k = 1;
    SamplingParams p0 = Sampling(1.0f, 200 + trial);
    p0.top_p = 1e-6f;
    Sampler top_k = MakeSampler(k1);
    Sampler top_p = MakeSampler(p0);
    for (const int32_t t : Draw(top_k, logits, 10)) EXPECT_EQ(t, ArgMaxOf(logits));
    for (const int32_t t : Draw(top_p, logits, 10)) EXPECT_EQ(t, ArgMaxOf(logits));
  }
}

TEST(SamplerTest, TopKKeepsTheKLargest) {
  SamplingParams p = Sampling(1.0f, 1);
  p.top_k = 2;
  const std::vector<float> out =
      Processed(MakeSampler(p), torch::tensor({0.5f, 2.0f, -1.0f, 1.0f, 0.0f}), {}, {});
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0], kNegInf);
  EXPECT_FLOAT_EQ(out[1], 0.0f);  // shifted by the maximum
  EXPECT_EQ(out[2], kNegInf);
  EXPECT_FLOAT_EQ(out[3], -1.0f);
  EXPECT_EQ(out[4], kNegInf);
}

TEST(SamplerTest, TopPDropsTheLeastLikelyTail) {
  const torch::Tensor logits = LogitsOf({0.5, 0.3, 0.15, 0.05});
  // Ascending cumulative mass: 0.05, 0.20, 0.50, 1.0.
  SamplingParams p = Sampling(1.0f, 1);
  p.top_p = 0.75f;  // drop while cumulative <= 0.25: the 0.05 and 0.15 tokens
  std::vector<float> out = Processed(MakeSampler(p), logits, {}, {});
  EXPECT_TRUE(std::isfinite(out[0]) && std::isfinite(out[1]));
  EXPECT_EQ(out[2], kNegInf);
  EXPECT_EQ(out[3], kNegInf);
  p.top_p = 0.85f;  // drop while cumulative <= 0.15: only the 0.05 token
  out = Processed(MakeSampler(p), logits, {}, {});
  EXPECT_TRUE(std::isfinite(out[0]) && std::isfinite(out[1]) && std::isfinite(out[2]));
  EXPECT_EQ(out[3], kNegInf);
}

TEST(SamplerTest, MinPDropsTokensBelowAFractionOfTheTop) {
  const torch::Tensor logits = LogitsOf({0.5, 0.3, 0.15, 0.05});
  SamplingParams p = Sampling(1.0f, 9);
  p.min_p = 0.2f;  // threshold 0.1
  std::vector<float> out = Processed(MakeSampler(p), logits, {}, {});
  EXPECT_TRUE(std::isfinite(out[2]));
  EXPECT_EQ(out[3], kNegInf);
  p.min_p = 0.35f;  // threshold 0.175
  Sampler sampler = MakeSampler(p);
  out = Processed(sampler, logits, {}, {});
  EXPECT_TRUE(std::isfinite(out[0]) && std::isfinite(out[1]));
  EXPECT_EQ(out[2], kNegInf);
  EXPECT_EQ(out[3], kNegInf);
  for (const int32_t t : Draw(sampler, logits, 200)) EXPECT_LE(t, 1);
}

TEST(SamplerTest, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  SamplingParams p;
  p.repetition_penalty = 2.0f;
  // Ids 0 (positive) and 1 (negative) were seen, 1 twice: each is penalized once.
  const std::vector<float> out = Processed(
      MakeSampler(p), torch::tensor({2.0f, -1.0f, 0.5f, 3.0f, -2.0f}), {0, 1, 1}, {1});
  const std::vector<float> expected = {1.0f, -2.0f, 0.5f, 3.0f, -2.0f};
  EXPECT_EQ(out, expected);
}

TEST(SamplerTest, PresenceAndFrequencyPenaltiesCountOutputOnly) {
  SamplingParams p;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  // Id 3 is only in the prompt, so it is untouched.
  const std::vector<float> out = Processed(
      MakeSampler(p), torch::tensor({2.0f, -1.0f, 0.5f, 3.0f, -2.0f}), {3, 2, 2, 4}, {2, 2, 4});
  const std::vector<float> expected = {2.0f, -1.0f, 0.5f - 2 * 0.25f - 0.5f, 3.0f,
                                       -2.0f - 0.25f - 0.5f};
  EXPECT_EQ(out, expected);
}

TEST(SamplerTest, PenaltiesChangeTheSampledToken) {
  const torch::Tensor logits = torch::tensor({1.0f, 0.9f, 0.0f});
  SamplingParams p;
  p.frequency_penalty = 0.2f;
  Sampler sampler = MakeSampler(p);
  EXPECT_EQ(*sampler.Sample(logits, {0}, {0}), 1);
  EXPECT_EQ(*sampler.Sample(logits, {0}, {}), 0);
}

TEST(SamplerTest, TemperatureScalesShiftedLogits) {
  const std::vector<float> out =
      Processed(MakeSampler(Sampling(2.0f, 1)), torch::tensor({1.0f, 3.0f, -1.0f}), {}, {});
  const std::vector<float> expected = {-1.0f, 0.0f, -2.0f};
  EXPECT_EQ(out, expected);
}

// Draw frequencies follow softmax(logits / T); bounds are ~6 standard deviations.
TEST(SamplerTest, FrequenciesFollowTheDistribution) {
  const std::vector<double> probs = {0.1, 0.2, 0.3, 0.4};
  const torch::Tensor logits = LogitsOf(probs);
  for (const float temperature : {1.0f, 0.5f}) {
    std::vector<double> expected;
    double total = 0;
    for (const double q : probs) total += std::pow(q, 1.0 / temperature);
    for (const double q : probs) expected.push_back(std::pow(q, 1.0 / temperature) / total);
    Sampler sampler = MakeSampler(Sampling(temperature, 1234));
    constexpr int kDraws = 20000;
    std::vector<int> counts(probs.size(), 0);
    for (const int32_t t : Draw(sampler, logits, kDraws)) ++counts.at(t);
    for (size_t i = 0; i < probs.size(); ++i) {
      EXPECT_NEAR(static_cast<double>(counts[i]) / kDraws, expected[i], 0.02)
          << "token " << i << " at temperature " << temperature;
    }
  }
}

TEST(SamplerTest, LogprobsOfGreedyMatchLogSoftmax) {
  const torch::Tensor logits = torch::tensor({0.3f, 2.0f, -1.0f, 1.5f, 1.5f});
  const torch::Tensor reference = torch::log_softmax(logits.to(torch::kFloat64), 0);
  Sampler sampler = MakeSampler(SamplingParams{});
  absl::StatusOr<SampledToken> t = sampler.SampleWithLogprobs(logits, {}, {}, 3);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->token_id, 1);
  EXPECT_NEAR(t->logprob, reference[1].item<double>(), 1e-6);
  ASSERT_EQ(t->top_logprobs.size(), 3u);
  const int32_t expected_ids[] = {1, 3, 4};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(t->top_logprobs[i].token_id, expected_ids[i]);
    EXPECT_NEAR(t->top_logprobs[i].logprob, reference[expected_ids[i]].item<double>(), 1e-6);
  }
}

TEST(SamplerTest, LogprobsFollowTheFilteredDistribution) {
  // top-k 2 renormalizes over the two survivors: log(0.4/0.7) and log(0.3/0.7).
  SamplingParams p = Sampling(1.0f, 77);
  p.top_k = 2;
  Sampler sampler = MakeSampler(p);
  absl::StatusOr<SampledToken> t =
      sampler.SampleWithLogprobs(LogitsOf({0.1, 0.2, 0.3, 0.4}), {}, {}, 4);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_TRUE(t->token_id == 2 || t->token_id == 3);
  ASSERT_EQ(t->top_logprobs.size(), 2u);
  EXPECT_EQ(t->top_logprobs[0].token_id, 3);
  EXPECT_NEAR(t->top_logprobs[0].logprob, std::log(0.4 / 0.7), 1e-5);
  EXPECT_EQ(t->top_logprobs[1].token_id, 2);
  EXPECT_NEAR(t->top_logprobs[1].logprob, std::log(0.3 / 0.7), 1e-5);
  EXPECT_NEAR(t->logprob, std::log((t->token_id == 3 ? 0.4 : 0.3) / 0.7), 1e-5);
}

TEST(SamplerTest, RejectsBadInputByCode) {
  EXPECT_EQ(Sampler::Create(Sampling(-1.0f, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  Sampler sampler = MakeSampler(Sampling(1.0f, 1));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(sampler.Sample(torch::zeros({2, 3}), {}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sampler.Sample(torch::zeros({0}), {}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sampler.Sample(torch::zeros({3}, torch::kInt64), {}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sampler.Sample(torch::Tensor(), {}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sampler.Sample(torch::tensor({1.0f, nan}), {}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sampler.Sample(torch::tensor({1.0f, inf}), {}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sampler.Sample(torch::tensor({kNegInf, kNegInf}), {}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sampler.Sample(torch::tensor({1.0f, 2.0f}), {2}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sampler.Sample(torch::tensor({1.0f, 2.0f}), {}, {-1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sampler.SampleWithLogprobs(torch::tensor({1.0f}), {}, {}, -1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SamplerTest, ExtremePenaltiesStayFinite) {
  SamplingParams p = Sampling(1.0f, 1);
  p.repetition_penalty = 1e-30f;
  Sampler sampler = MakeSampler(p);
  absl::StatusOr<int32_t> t = sampler.Sample(torch::tensor({3e30f, 1.0f}), {0, 1}, {});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, 0);
}

TEST(SamplerTest, AcceptsOtherFloatingDtypes) {
  Sampler sampler = MakeSampler(SamplingParams{});
  EXPECT_EQ(*sampler.Sample(torch::tensor({0.0, 1.0, 4.0}).to(torch::kBFloat16), {}, {}), 2);
}

}  // namespace
}  // namespace liger
