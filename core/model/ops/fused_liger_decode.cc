#include "core/model/ops/fused_liger_decode.h"

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "absl/strings/str_cat.h"
#include "core/model/ops/cuda/liger_decode_kernels.h"
#include "core/model/ops/cuda_element_type.h"
#include "core/model/ops/tensor_checks.h"

namespace liger {
namespace {

constexpr char kFusedDecodeOp[] = "FusedLigerDecode";

absl::Status CheckLastDimContiguous(const torch::Tensor& t, absl::string_view name) {
  if (t.stride(-1) != 1) return absl::InvalidArgumentError(absl::StrCat(name, "'s last dim must be contiguous"));
  return absl::OkStatus();
}

absl::Status CheckDecodeArgs(const LigerDecodeBatch& in, const LigerStateRows& s) {
  if (!in.q.defined() || in.q.dim() != 3 || !in.q.is_cuda()) {
    return absl::InvalidArgumentError("q must be a [B, H, D] CUDA tensor");
  }
  const int64_t b = in.q.size(0), d = in.q.size(2);
  if (!s.memory.defined() || s.memory.dim() != 4 || !s.ring_k.defined() || s.ring_k.dim() != 4) {
    return absl::InvalidArgumentError("memory and ring_k must be 4-d");
  }
  const int64_t n = s.memory.size(0), kv = s.memory.size(1), w = s.ring_k.size(2);
  const absl::Status shapes[] = {
      CheckShape(in.k, "k", {b, kv, d}, in.q),
      CheckShape(in.v, "v", {b, kv, d}, in.q),
      CheckShape(in.cos, "cos", {b, d}, in.q),
      CheckShape(in.sin, "sin", {b, d}, in.q),
      CheckShape(in.rows, "rows", {b}, in.q),
      CheckShape(in.positions, "positions", {b}, in.q),
      CheckShape(s.memory, "memory", {n, kv, d, d}, in.q),
      CheckShape(s.ring_k, "ring_k", {n, kv, w, d}, in.q),
      CheckShape(s.ring_v, "ring_v", {n, kv, w, d}, in.q),
      CheckGroupedHeads(in.q, in.k),
  };
  for (const absl::Status& status : shapes) {
    if (!status.ok()) return status;
  }
  const absl::Status dtypes[] = {
      CheckDtype(in.k, "k", in.q.scalar_type()),
      CheckDtype(in.v, "v", in.q.scalar_type()),
      CheckDtype(s.ring_k, "ring_k", in.q.scalar_type()),
      CheckDtype(s.ring_v, "ring_v", in.q.scalar_type()),
      CheckDtype(in.cos, "cos", torch::kFloat32),
      CheckDtype(in.sin, "sin", torch::kFloat32),
      CheckDtype(in.rows, "rows", torch::kInt64),
      CheckDtype(in.positions, "positions", torch::kInt64),
      CheckDtype(s.memory, "memory", torch::kFloat32),
  };
  for (const absl::Status& status : dtypes) {
    if (!status.ok()) return status;
  }
  for (const auto& [t, name] : {std::pair{in.q, "q"}, {in.k, "k"}, {in.v, "v"}}) {
    if (absl::Status st = CheckLastDimContiguous(t, name); !st.ok()) return st;
  }
  for (const auto& [t, name] : {std::pair{in.cos, "cos"}, {in.sin, "sin"}, {in.rows, "rows"},
                                {in.positions, "positions"}, {s.memory, "memory"},
                                {s.ring_k, "ring_k"}, {s.ring_v, "ring_v"}}) {
    if (!t.is_contiguous()) return absl::InvalidArgumentError(absl::StrCat(name, " must be contiguous"));
  }
  if (!cuda::LigerDecodeSupports(d, in.q.size(1) / kv, w)) {
    return absl::InvalidArgumentError(absl::StrCat("no fused decode kernel for head dim ", d, ", ",
                                                   in.q.size(1) / kv, " query heads per KV head and window ", w));
  }
  return absl::OkStatus();
}

}  // namespace

bool FusedLigerDecodeApplies(const LigerDecodeBatch& batch, const LigerStateRows& rows) {
  return CheckDecodeArgs(batch, rows).ok();
}

absl::StatusOr<torch::Tensor> FusedLigerDecode(const LigerDecodeBatch& in, const LigerStateRows& s,
                                               const LigerMixing& mixing) {
  if (absl::Status st = CheckDecodeArgs(in, s); !st.ok()) return Annotate(kFusedDecodeOp, st);
  absl::StatusOr<cuda::ElementType> element_type = CudaElementType(in.q.scalar_type());
  if (!element_type.ok()) return Annotate(kFusedDecodeOp, element_type.status());
  try {
    const c10::cuda::CUDAGuard guard(in.q.device());
    torch::Tensor out = torch::empty(in.q.sizes(), in.q.options());
    cuda::LigerDecodeArgs a{};
    a.q = in.q.data_ptr();
    a.q_batch_stride = in.q.stride(0);
    a.q_head_stride = in.q.stride(1);
    a.k = in.k.data_ptr();
    a.k_batch_stride = in.k.stride(0);
    a.k_head_stride = in.k.stride(1);
    a.v = in.v.data_ptr();
    a.v_batch_stride = in.v.stride(0);
    a.v_head_stride = in.v.stride(1);
    a.cos = in.cos.data_ptr<float>();
    a.sin = in.sin.data_ptr<float>();
    a.rows = in.rows.data_ptr<int64_t>();
    a.positions = in.positions.data_ptr<int64_t>();
    a.memory = s.memory.data_ptr<float>();
    a.ring_k = s.ring_k.data_ptr();
    a.ring_v = s.ring_v.data_ptr();
    a.output = out.data_ptr();
    a.element_type = *element_type;
    a.feature_map = mixing.feature_map == LigerFeatureMap::kGla ? cuda::DecodeFeatureMap::kGla
                                                                : cuda::DecodeFeatureMap::kHgrn2;
    a.batch = in.q.size(0);
    a.kv_heads = in.k.size(1);
    a.groups = in.q.size(1) / in.k.size(1);
    a.head_dim = in.q.size(2);
    a.window = s.ring_k.size(2);
    a.gate_normalizer = static_cast<float>(mixing.gate_normalizer);
    a.window_weight = static_cast<float>(mixing.window_weight);
    const cudaError_t error = cuda::LaunchLigerDecode(a, c10::cuda::getCurrentCUDAStream().stream());
    if (error != cudaSuccess) {
      return absl::InternalError(absl::StrCat(kFusedDecodeOp, ": launch failed: ", cudaGetErrorString(error)));
    }
    return out;
  } catch (const std::exception& e) {
    return StatusFromException(kFusedDecodeOp, e);
  }
}

}  // namespace liger
