#include "core/engine/step_logits.h"

#include <algorithm>
#include <limits>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/engine/status_context.h"

namespace liger {

absl::StatusOr<torch::Tensor> HostLogits(const absl::StatusOr<torch::Tensor>& logits,
                                         absl::string_view step) {
  if (!logits.ok()) return StatusWithContext(logits.status(), step);
  if (!logits->defined()) return *logits;
  try {
    return logits->to(torch::kCPU);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat(step, ": copying logits to the CPU: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<torch::Tensor> LogitsRow(const torch::Tensor& logits, int64_t row,
                                        absl::string_view step) {
  const bool is_matrix = logits.defined() && logits.dim() == 2;
  const int64_t rows = is_matrix ? logits.size(0) : 0;
  if (!is_matrix || row < -rows || row >= rows || logits.size(1) < 1) {
    return absl::InternalError(absl::StrCat(
        step, " returned logits of shape [",
        logits.defined() ? absl::StrJoin(logits.sizes(), ", ") : "", "], expected [N, V] with a row ",
        row));
  }
  return logits[row < 0 ? rows + row : row];
}

absl::StatusOr<ArgmaxChoices> LogitsArgmax(const torch::Tensor& logits, int64_t vocab,
                                           absl::Span<const int32_t> eos_ids,
                                           const std::vector<bool>& masks_eos,
                                           absl::string_view step) {
  if (!logits.defined() || logits.dim() != 2 || logits.size(1) < 1 || vocab < 1 ||
      static_cast<int64_t>(masks_eos.size()) != logits.size(0)) {
    return absl::InternalError(absl::StrCat(step, " returned logits that are not [N, V]"));
  }
  try {
    torch::Tensor row = logits.narrow(1, 0, std::min(vocab, logits.size(1)));
    std::vector<int64_t> masked_columns;
    for (const int32_t id : eos_ids) {
      if (id >= 0 && id < row.size(1)) masked_columns.push_back(id);
    }
    const bool any_masked = std::find(masks_eos.begin(), masks_eos.end(), true) != masks_eos.end();
    if (any_masked && !masked_columns.empty()) {
      std::vector<uint8_t> flags(masks_eos.begin(), masks_eos.end());
      const torch::Tensor rows_masked =
          torch::tensor(flags, torch::kUInt8).to(torch::kBool).to(row.device()).unsqueeze(1);
      const torch::Tensor columns = torch::tensor(masked_columns, torch::kInt64).to(row.device());
      row = torch::where(rows_masked,
                         row.index_fill(1, columns, -std::numeric_limits<float>::infinity()), row);
    }
    // A NaN or +inf wins the max, and a row with no finite logit left has no finite max.
    const torch::Tensor usable = torch::isfinite(std::get<0>(row.max(-1)));
    const torch::Tensor both = torch::stack({row.argmax(-1), usable.to(torch::kInt64)}).cpu();
    const auto a = both.accessor<int64_t, 2>();
    ArgmaxChoices choices;
    for (int64_t i = 0; i < both.size(1); ++i) {
      choices.tokens.push_back(static_cast<int32_t>(a[0][i]));
      choices.usable.push_back(a[1][i] != 0);
    }
    return choices;
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat(step, ": choosing greedy tokens: ", e.what_without_backtrace()));
  }
}

}  // namespace liger
