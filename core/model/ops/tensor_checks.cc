#include "core/model/ops/tensor_checks.h"

#include <new>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace liger {
namespace {

std::string ShapeString(torch::IntArrayRef sizes) {
  return absl::StrCat("[", absl::StrJoin(sizes, ", "), "]");
}

std::string PatternString(absl::Span<const int64_t> shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += shape[i] < 0 ? std::string("*") : std::to_string(shape[i]);
  }
  return out + "]";
}

}  // namespace

absl::Status CheckShape(const torch::Tensor& t, absl::string_view name,
                        absl::Span<const int64_t> shape, const torch::Tensor& like) {
  if (!t.defined()) return absl::InvalidArgumentError(absl::StrCat(name, ": tensor is undefined"));
  bool match = t.dim() == static_cast<int64_t>(shape.size());
  for (size_t i = 0; match && i < shape.size(); ++i) {
    const int64_t want = shape[i];
    match = want < 0 || t.size(static_cast<int64_t>(i)) == want;
  }
  if (!match) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": expected shape ", PatternString(shape),
                                                   ", got ", ShapeString(t.sizes())));
  }
  if (like.defined() && t.device() != like.device()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": on device ", t.device().str(),
                                                   " but expected ", like.device().str()));
  }
  return absl::OkStatus();
}

absl::Status CheckTensor(const torch::Tensor& t, absl::string_view name,
                         absl::Span<const int64_t> shape, const torch::Tensor& like) {
  if (absl::Status s = CheckShape(t, name, shape, like); !s.ok()) return s;
  if (!t.is_floating_point()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": expected a floating-point tensor, got ", c10::toString(t.scalar_type())));
  }
  return absl::OkStatus();
}

absl::Status CheckDtype(const torch::Tensor& t, absl::string_view name, torch::ScalarType dtype) {
  if (t.scalar_type() == dtype) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(name, ": expected dtype ", c10::toString(dtype),
                                                 ", got ", c10::toString(t.scalar_type())));
}

absl::Status CheckGroupedHeads(const torch::Tensor& q, const torch::Tensor& k) {
  const int64_t heads = q.size(1), kv_heads = k.size(1);
  if (kv_heads < 1 || heads % kv_heads != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("k has ", kv_heads, " heads, which must divide q's ", heads));
  }
  return absl::OkStatus();
}

absl::Status Annotate(absl::string_view op, const absl::Status& s) {
  return s.ok() ? s : absl::Status(s.code(), absl::StrCat(op, ": ", s.message()));
}

absl::Status StatusFromException(absl::string_view op, const std::exception& e) {
  // c10::Error::what() carries a backtrace; the short form is enough for a status message.
  const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
  const std::string what = torch_error ? torch_error->what_without_backtrace() : e.what();
  const std::string message = absl::StrCat(op, ": ", what);
  if (absl::StrContains(what, "out of memory") ||
      dynamic_cast<const std::bad_alloc*>(&e) != nullptr) {
    return absl::ResourceExhaustedError(message);
  }
  return absl::InternalError(message);
}

}  // namespace liger
