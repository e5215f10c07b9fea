#include "core/engine/token_tensor.h"

#include <vector>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace liger {

absl::StatusOr<torch::Tensor> TokenTensor(absl::Span<const int32_t> ids, torch::Device device) {
  try {
    return torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kInt64).to(device);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("moving tokens to ", device.str(), ": ",
                                            e.what_without_backtrace()));
  }
}

}  // namespace liger
