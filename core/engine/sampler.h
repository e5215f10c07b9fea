#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/engine/sampling_params.h"

namespace liger {

struct TokenLogprob {
  int32_t token_id = 0;
  float logprob = 0.0f;
};

struct SampledToken {
  int32_t token_id = 0;
  // log-softmax of the processed logits (see Sampler::ProcessLogits) at token_id.
  float logprob = 0.0f;
  // The most likely tokens of that same distribution, most likely first (ties: lowest id first);
  // tokens the filters removed are never listed, so there may be fewer than asked for.
  std::vector<TokenLogprob> top_logprobs;
};

// Chooses one token from a logits vector. Processing follows Hugging Face's order: repetition
// penalty, presence/frequency penalties, then (unless greedy) temperature, top-k, top-p, min-p, each
// filter seeing the distribution the previous one left; the token is then drawn from the survivors
// with the sampler's own CPU generator, so a fixed seed reproduces the same tokens for the same
// logits. Not thread-safe: one Sampler per sequence.
class Sampler {
 public:
  // INVALID_ARGUMENT when the params fail ValidateSamplingParams.
  static absl::StatusOr<Sampler> Create(const SamplingParams& params);

  Sampler(Sampler&&) = default;
  Sampler& operator=(Sampler&&) = default;
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // logits: [V] floating point, on any device. prompt_and_output feeds the repetition penalty,
  // output_only the presence and frequency penalties. INVALID_ARGUMENT for a logits tensor of the
  // wrong shape, NaN or +inf logits, no finite logit, or history ids outside [0, V).
  absl::StatusOr<int32_t> Sample(const torch::Tensor& logits,
                                 absl::Span<const int32_t> prompt_and_output,
                                 absl::Span<const int32_t> output_only);

  // As Sample, also reporting the chosen token's log-probability and the top_n alternatives
  // (top_n >= 0) of the processed distribution.
  absl::StatusOr<SampledToken> SampleWithLogprobs(const torch::Tensor& logits,
                                                  absl::Span<const int32_t> prompt_and_output,
                                                  absl::Span<const int32_t> output_only, int top_n);

  // The float32 [V] CPU logits the token is drawn from: penalized, and when sampling also scaled by
  // 1/temperature (shifted so the maximum is 0) with filtered tokens at -inf.
  absl::StatusOr<torch::Tensor> ProcessLogits(const torch::Tensor& logits,
                                              absl::Span<const int32_t> prompt_and_output,
                                              absl::Span<const int32_t> output_only) const;

  // Whether the choice is the argmax of the raw logits (greedy, no penalties), which a caller may
  // then compute where the logits are, sparing their copy.
  bool IsPlainArgmax() const {
    return params_.temperature == 0.0f && params_.repetition_penalty == 1.0f &&
           params_.presence_penalty == 0.0f && params_.frequency_penalty == 0.0f;
  }

  // The seed in use (drawn at random when params.seed was 0), so a run can be reproduced.
  uint64_t seed() const { return seed_; }
  const SamplingParams& params() const { return params_; }

 private:
  Sampler(const SamplingParams& params, uint64_t seed);

  absl::StatusOr<std::vector<float>> Process(const torch::Tensor& logits,
                                             absl::Span<const int32_t> prompt_and_output,
                                             absl::Span<const int32_t> output_only) const;
  absl::StatusOr<int32_t> Draw(const std::vector<float>& processed);

  SamplingParams params_;
  uint64_t seed_;
  torch::Generator generator_;
};

}  // namespace liger
