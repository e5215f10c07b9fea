#include "core/engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <unordered_map>

#include <ATen/CPUGeneratorImpl.h>

#include "absl/strings/str_cat.h"

namespace liger {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr double kFloatMax = std::numeric_limits<float>::max();

absl::StatusOr<std::vector<float>> ToCpuVector(const torch::Tensor& logits) {
  if (!logits.defined() || logits.dim() != 1 || logits.numel() == 0 ||
      !logits.is_floating_point()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "logits must be a non-empty 1-D floating-point tensor [V], got ",
        logits.defined() ? absl::StrCat(logits.dim(), "-D ", c10::toString(logits.scalar_type()))
                         : std::string("an undefined tensor")));
  }
  std::vector<float> values(logits.numel());
  try {
    const torch::Tensor cpu = logits.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    std::copy_n(cpu.data_ptr<float>(), values.size(), values.begin());
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("copying logits to the CPU: ", e.what_without_backtrace()));
  }
  bool any_finite = false;
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isnan(values[i]) || values[i] == std::numeric_limits<float>::infinity()) {
      return absl::InvalidArgumentError(absl::StrCat("logits[", i, "] is ", values[i]));
    }
    any_finite = any_finite || std::isfinite(values[i]);
  }
  if (!any_finite) return absl::InvalidArgumentError("logits has no finite value");
  return values;
}

absl::Status CheckIds(absl::Span<const int32_t> ids, size_t vocab, const char* what) {
  for (const int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " holds token id ", id, " outside the logits' vocabulary [0, ", vocab, ")"));
    }
  }
  return absl::OkStatus();
}

// Index of the largest value, the lowest index among ties.
size_t ArgMax(const std::vector<float>& values) {
  return std::max_element(values.begin(), values.end()) - values.begin();
}

void ApplyTopK(int top_k, std::vector<float>& logits) {
  if (top_k <= 0 || static_cast<size_t>(top_k) >= logits.size()) return;
  std::vector<float> sorted = logits;
  std::nth_element(sorted.begin(), sorted.begin() + (top_k - 1), sorted.end(), std::greater<>());
  // As in HF, every token tied with the k-th largest logit stays.
  const float kth = sorted[top_k - 1];
  for (float& v : logits) {
    if (v < kth) v = kNegInf;
  }
}

// HF semantics: walking up from the least likely token, drop tokens while the cumulative
// probability stays <= 1 - top_p; the most likely token always stays. Among equal logits the higher
// id counts as less likely, so the result is deterministic.
void ApplyTopP(float top_p, std::vector<float>& logits) {
  if (top_p >= 1.0f) return;
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return logits[a] != logits[b] ? logits[a] < logits[b] : a > b;
  });
  const double max_logit = logits[order.back()];
  double total = 0.0;
  for (const float v : logits) total += std::exp(static_cast<double>(v) - max_logit);
  const double drop_mass = 1.0 - static_cast<double>(top_p);
  double cumulative = 0.0;
  for (size_t i = 0; i + 1 < order.size(); ++i) {
    float& v = logits[order[i]];
    cumulative += std::exp(static_cast<double>(v) - max_logit) / total;
    if (cumulative > drop_mass) break;
    v = kNegInf;
  }
}

// HF semantics: drop tokens whose probability is below min_p times the top token's probability.
void ApplyMinP(float min_p, std::vector<float>& logits) {
  if (min_p <= 0.0f) return;
  const double max_logit = logits[ArgMax(logits)];
  for (float& v : logits) {
    if (std::exp(static_cast<double>(v) - max_logit) < min_p) v = kNegInf;
  }
}

uint64_t RandomSeed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

}  // namespace

absl::StatusOr<Sampler> Sampler::Create(const SamplingParams& params) {
  if (absl::Status s = ValidateSamplingParams(params); !s.ok()) return s;
  return Sampler(params, params.seed != 0 ? params.seed : RandomSeed());
}

Sampler::Sampler(const SamplingParams& params, uint64_t seed)
    : params_(params), seed_(seed), generator_(at::detail::createCPUGenerator(seed)) {}

absl::StatusOr<std::vector<float>> Sampler::Process(const torch::Tensor& logits,
                                                    absl::Span<const int32_t> prompt_and_output,
                                                    absl::Span<const int32_t> output_only) const {
  absl::StatusOr<std::vector<float>> values = ToCpuVector(logits);
  if (!values.ok()) return values.status();
  std::vector<float>& v = *values;
  if (absl::Status s = CheckIds(prompt_and_output, v.size(), "prompt_and_output"); !s.ok()) return s;
  if (absl::Status s = CheckIds(output_only, v.size(), "output_only"); !s.ok()) return s;

  // A penalty moves a finite logit but never to +-inf: that would mask the token or, at +inf, turn
  // the softmax into NaN.
  const auto penalize = [&v](int32_t id, double value) {
    if (std::isfinite(v[id])) v[id] = static_cast<float>(std::clamp(value, -kFloatMax, kFloatMax));
  };
  if (params_.repetition_penalty != 1.0f) {
    std::vector<bool> seen(v.size(), false);
    for (const int32_t id : prompt_and_output) {
      if (seen[id]) continue;
      seen[id] = true;
      const double x = v[id];
      penalize(id, x > 0 ? x / params_.repetition_penalty : x * params_.repetition_penalty);
    }
  }
  if (params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f) {
    std::unordered_map<int32_t, int64_t> counts;
    for (const int32_t id : output_only) ++counts[id];
    for (const auto& [id, count] : counts) {
      penalize(id, static_cast<double>(v[id]) -
                       static_cast<double>(params_.frequency_penalty) * static_cast<double>(count) -
                       params_.presence_penalty);
    }
  }
  if (params_.temperature == 0.0f) return values;

  // Shifting by the maximum before dividing keeps tiny temperatures finite.
  const float max_logit = v[ArgMax(v)];
  for (float& x : v) x = (x - max_logit) / params_.temperature;
  ApplyTopK(params_.top_k, v);
  ApplyTopP(params_.top_p, v);
  ApplyMinP(params_.min_p, v);
  return values;
}

absl::StatusOr<int32_t> Sampler::Draw(const std::vector<float>& processed) {
  const size_t best = ArgMax(processed);
  if (params_.temperature == 0.0f) return static_cast<int32_t>(best);
  double total = 0.0;
  for (const float v : processed) total += std::exp(static_cast<double>(v) - processed[best]);
  double u;
  try {
    u = torch::rand({1}, generator_, torch::kFloat64).item<double>() * total;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("drawing a random number: ", e.what_without_backtrace()));
  }
  double cumulative = 0.0;
  size_t last_positive = best;
  for (size_t i = 0; i < processed.size(); ++i) {
    const double p = std::exp(static_cast<double>(processed[i]) - processed[best]);
    if (p <= 0.0) continue;
    cumulative += p;
    last_positive = i;
    if (u < cumulative) return static_cast<int32_t>(i);
  }
  // Rounding can leave u just above the summed mass.
  return static_cast<int32_t>(last_positive);
}

absl::StatusOr<int32_t> Sampler::Sample(const torch::Tensor& logits,
                                        absl::Span<const int32_t> prompt_and_output,
                                        absl::Span<const int32_t> output_only) {
  absl::StatusOr<std::vector<float>> processed = Process(logits, prompt_and_output, output_only);
  if (!processed.ok()) return processed.status();
  return Draw(*processed);
}

absl::StatusOr<SampledToken> Sampler::SampleWithLogprobs(
    const torch::Tensor& logits, absl::Span<const int32_t> prompt_and_output,
    absl::Span<const int32_t> output_only, int top_n) {
  if (top_n < 0) {
    return absl::InvalidArgumentError(absl::StrCat("top_n = ", top_n, " must be >= 0"));
  }
  absl::StatusOr<std::vector<float>> processed = Process(logits, prompt_and_output, output_only);
  if (!processed.ok()) return processed.status();
  const std::vector<float>& v = *processed;
  absl::StatusOr<int32_t> token = Draw(v);
  if (!token.ok()) return token.status();

  const double max_logit = v[ArgMax(v)];
  double total = 0.0;
  for (const float x : v) total += std::exp(static_cast<double>(x) - max_logit);
  const double log_normalizer = max_logit + std::log(total);
  const auto logprob = [&](int32_t id) {
    return static_cast<float>(static_cast<double>(v[id]) - log_normalizer);
  };

  SampledToken result;
  result.token_id = *token;
  result.logprob = logprob(*token);
  std::vector<int32_t> candidates;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != kNegInf) candidates.push_back(static_cast<int32_t>(i));
  }
  const size_t n = std::min(candidates.size(), static_cast<size_t>(top_n));
  std::partial_sort(candidates.begin(), candidates.begin() + n, candidates.end(),
                    [&](int32_t a, int32_t b) { return v[a] != v[b] ? v[a] > v[b] : a < b; });
  for (size_t i = 0; i < n; ++i) result.top_logprobs.push_back({candidates[i], logprob(candidates[i])});
  return result;
}

absl::StatusOr<torch::Tensor> Sampler::ProcessLogits(const torch::Tensor& logits,
                                                     absl::Span<const int32_t> prompt_and_output,
                                                     absl::Span<const int32_t> output_only) const {
  absl::StatusOr<std::vector<float>> processed = Process(logits, prompt_and_output, output_only);
  if (!processed.ok()) return processed.status();
  return torch::tensor(*processed, torch::kFloat32);
}

}  // namespace liger
