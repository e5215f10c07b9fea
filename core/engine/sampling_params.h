#pragma once

#include <cstdint>

#include "absl/status/status.h"

namespace liger {

// How the next token is chosen from a model's logits. The defaults give greedy decoding.
struct SamplingParams {
  float temperature = 0.0f;         // 0 = greedy (argmax, ties to the lowest id)
  int top_k = 0;                    // 0 = off
  float top_p = 1.0f;               // in (0, 1]; 1 = off
  float min_p = 0.0f;               // in [0, 1); 0 = off
  float repetition_penalty = 1.0f;  // HF/CTRL, over prompt + output: logit>0 ? logit/p : logit*p
  float presence_penalty = 0.0f;    // OpenAI, over output only: -= p if the token occurred
  float frequency_penalty = 0.0f;   // OpenAI, over output only: -= p * occurrences
  uint64_t seed = 0;                // 0 = a random seed
};

// INVALID_ARGUMENT naming the first field that is out of range or not finite.
absl::Status ValidateSamplingParams(const SamplingParams& params);

}  // namespace liger
