#include "core/engine/step_logits.h"

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

}  // namespace liger
