#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace liger {

// The logits a model step (`step`, e.g. "prefill") returned, copied to the CPU in one transfer so
// that the rows handed to the sampler need no device copy each. A failed step's status comes back
// with its message prefixed by `step`; a failed copy is INTERNAL. An undefined tensor stays
// undefined for LogitsRow to report.
absl::StatusOr<torch::Tensor> HostLogits(const absl::StatusOr<torch::Tensor>& logits,
                                         absl::string_view step);

// Row `row` of logits [N, V] (negative rows count from the end: -1 is the last), or INTERNAL naming
// `step` when the tensor has no such row.
absl::StatusOr<torch::Tensor> LogitsRow(const torch::Tensor& logits, int64_t row,
                                        absl::string_view step);

// Greedy choices made where logits [N, V] are (the GPU, in serving): per row, the argmax of the
// first `vocab` columns (ties to the lowest id; rows with masks_eos[i] skip `eos_ids`, as
// GenerationStream does until min_new_tokens are out) and whether the row can be sampled at all
// (no NaN or +inf, some finite logit left), brought to the host in one small copy instead of the
// whole matrix.
struct ArgmaxChoices {
  std::vector<int32_t> tokens;
  std::vector<bool> usable;  // false rows go to the host sampler, which reports what is wrong
};
absl::StatusOr<ArgmaxChoices> LogitsArgmax(const torch::Tensor& logits, int64_t vocab,
                                           absl::Span<const int32_t> eos_ids,
                                           const std::vector<bool>& masks_eos,
                                           absl::string_view step);

}  // namespace liger
