#include "core/model/tensor_conversion.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace liger {

absl::StatusOr<torch::ScalarType> ToTorchDType(DType dtype) {
  switch (dtype) {
    case DType::kBool: return torch::kBool;
    case DType::kUInt8: return torch::kUInt8;
    case DType::kInt8: return torch::kInt8;
    case DType::kInt16: return torch::kInt16;
    case DType::kInt32: return torch::kInt32;
    case DType::kInt64: return torch::kInt64;
    case DType::kFloat16: return torch::kFloat16;
    case DType::kBFloat16: return torch::kBFloat16;
    case DType::kFloat32: return torch::kFloat32;
    case DType::kFloat64: return torch::kFloat64;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("dtype ", std::string(DTypeName(dtype)), " has no LibTorch equivalent"));
  }
}

absl::StatusOr<DType> FromTorchDType(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kBool: return DType::kBool;
    case torch::kUInt8: return DType::kUInt8;
    case torch::kInt8: return DType::kInt8;
    case torch::kInt16: return DType::kInt16;
    case torch::kInt32: return DType::kInt32;
    case torch::kInt64: return DType::kInt64;
    case torch::kFloat16: return DType::kFloat16;
    case torch::kBFloat16: return DType::kBFloat16;
    case torch::kFloat32: return DType::kFloat32;
    case torch::kFloat64: return DType::kFloat64;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("tensor dtype ", c10::toString(dtype), " cannot be stored"));
  }
}

absl::StatusOr<torch::Tensor> ToTensor(const TensorView& view, torch::Device device) {
  auto dtype = ToTorchDType(view.dtype);
  if (!dtype.ok()) return dtype.status();
  try {
    torch::Tensor out = torch::empty(view.shape, torch::TensorOptions().dtype(*dtype));
    if (static_cast<size_t>(out.nbytes()) != view.nbytes) {
      return absl::InvalidArgumentError("tensor byte size disagrees with its shape");
    }
    if (view.nbytes > 0) std::memcpy(out.data_ptr(), view.data, view.nbytes);
    return out.to(device);
  } catch (const c10::Error& e) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot allocate tensor: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<TensorView> ViewOf(const torch::Tensor& tensor) {
  if (!tensor.device().is_cpu() || !tensor.is_contiguous()) {
    return absl::InvalidArgumentError("only contiguous CPU tensors can be viewed");
  }
  auto dtype = FromTorchDType(tensor.scalar_type());
  if (!dtype.ok()) return dtype.status();
  TensorView view;
  view.dtype = *dtype;
  view.shape = tensor.sizes().vec();
  view.data = tensor.data_ptr();
  view.nbytes = tensor.nbytes();
  return view;
}

}  // namespace liger
