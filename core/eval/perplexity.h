#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/model/causal_lm.h"
#include "core/tokenizer/tokenizer.h"

namespace liger {

struct PerplexityOptions {
  int64_t seq_len = 512;
  int64_t max_windows = 0;  // 0: every full window
  int64_t batch_size = 8;   // windows per forward pass
};

struct PerplexityResult {
  double perplexity = 0;
  double mean_loss = 0;  // nats per scored token
  int64_t windows = 0;
  int64_t scored_tokens = 0;
};

// The packing of ../shared/models/README.md: each document encoded with its BOS, EOS appended, all
// concatenated in order.
absl::StatusOr<std::vector<int32_t>> PackDocuments(const std::vector<std::string>& texts,
                                                   const Tokenizer& tokenizer);

// Cuts the stream into non-overlapping seq_len windows (the last partial one dropped) and returns
// exp(mean next-token loss over positions 1..seq_len-1 of every window).
absl::StatusOr<PerplexityResult> EvaluatePerplexity(const CausalLM& model,
                                                    absl::Span<const int32_t> stream,
                                                    const PerplexityOptions& options);

}  // namespace liger
