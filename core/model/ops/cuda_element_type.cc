#include "core/model/ops/cuda_element_type.h"

#include "absl/strings/str_cat.h"

namespace liger {

absl::StatusOr<cuda::ElementType> CudaElementType(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat32:
      return cuda::ElementType::kFloat32;
    case torch::kFloat16:
      return cuda::ElementType::kFloat16;
    case torch::kBFloat16:
      return cuda::ElementType::kBFloat16;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "activations must be float32, float16 or bfloat16, not ", c10::toString(dtype)));
  }
}

}  // namespace liger
