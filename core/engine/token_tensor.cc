#include "core/engine/token_tensor.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace liger {

absl::StatusOr<torch::Tensor> TokenTensor(absl::Span<const int32_t> ids) {
  try {
    torch::Tensor tensor = torch::empty({static_cast<int64_t>(ids.size())}, torch::kInt64);
    int64_t* data = tensor.data_ptr<int64_t>();
    for (size_t i = 0; i < ids.size(); ++i) data[i] = ids[i];
    return tensor;
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("allocating the token tensor: ", e.what_without_backtrace()));
  }
}

}  // namespace liger
