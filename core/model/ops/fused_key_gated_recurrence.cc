#include "core/model/ops/fused_key_gated_recurrence.h"

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "core/model/ops/cuda/key_gated_recurrence_kernels.h"
#include "core/model/ops/tensor_checks.h"

namespace liger {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr char kOp[] = "FusedKeyGatedRecurrence";

void ThrowIfFailed(cudaError_t error, const char* what) {
  TORCH_CHECK(error == cudaSuccess, kOp, ": ", what, " failed: ", cudaGetErrorString(error));
}

const float* DataOrNull(const torch::Tensor& t) {
  return t.defined() ? t.data_ptr<float>() : nullptr;
}

// Inputs arrive contiguous, float32, on one GPU; `state` is defined. q has H heads, the rest KV.
class KeyGatedRecurrenceFunction : public torch::autograd::Function<KeyGatedRecurrenceFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& log_gate,
                               const torch::Tensor& state) {
    c10::cuda::CUDAGuard guard(q.device());
    const int64_t b = q.size(0), h = q.size(1), kv = k.size(1), t = q.size(2), d = q.size(3);
    const int64_t chunk = cuda::KeyGatedChunkTokens(d), chunks = (t + chunk - 1) / chunk;
    torch::Tensor output = torch::empty({b, h, t, d}, q.options());
    torch::Tensor chunk_states = torch::empty({b, kv, chunks, d, d}, q.options());
    torch::Tensor chunk_decays = torch::empty({b, kv, chunks, d}, q.options());
    torch::Tensor final_state = torch::empty({b, kv, d, d}, q.options());
    cuda::KeyGatedForwardArgs args{q.data_ptr<float>(),
                                   k.data_ptr<float>(),
                                   v.data_ptr<float>(),
                                   log_gate.data_ptr<float>(),
                                   state.data_ptr<float>(),
                                   b * kv,
                                   h / kv,
                                   t,
                                   d,
                                   output.data_ptr<float>(),
                                   chunk_states.data_ptr<float>(),
                                   chunk_decays.data_ptr<float>(),
                                   final_state.data_ptr<float>()};
    ThrowIfFailed(cuda::KeyGatedForward(args, c10::cuda::getCurrentCUDAStream()), "forward");
    ctx->save_for_backward({q, k, v, log_gate, chunk_states, final_state});
    return {output, final_state};
  }

  // Gradients in forward's argument order: q, k, v, log_gate, state.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &log_gate = saved[3];
    const torch::Tensor &chunk_states = saved[4], &final_state = saved[5];
    c10::cuda::CUDAGuard guard(q.device());
    const torch::Tensor d_output =
        grads[0].defined() ? grads[0].to(torch::kFloat).contiguous() : torch::zeros_like(q);
    const torch::Tensor d_final =
        grads[1].defined() ? grads[1].to(torch::kFloat).contiguous() : torch::Tensor();
    const int64_t groups = q.size(1) / k.size(1);
    torch::Tensor d_q = torch::empty_like(q), d_k = torch::empty_like(k), d_v = torch::empty_like(v);
    torch::Tensor d_log_gate = torch::empty_like(k);
    torch::Tensor d_chunk_states = torch::empty_like(chunk_states);
    torch::Tensor chunk_decays = torch::empty(chunk_states.sizes().slice(0, 4), q.options());
    torch::Tensor group_terms =
        groups > 1 ? torch::empty({3, q.numel()}, q.options()) : torch::Tensor();
    torch::Tensor d_state = ctx->needs_input_grad(4) ? torch::empty_like(final_state) : torch::Tensor();
    cuda::KeyGatedBackwardArgs args{q.data_ptr<float>(),
                                    k.data_ptr<float>(),
                                    v.data_ptr<float>(),
                                    log_gate.data_ptr<float>(),
                                    chunk_states.data_ptr<float>(),
                                    d_output.data_ptr<float>(),
                                    DataOrNull(d_final),
                                    k.size(0) * k.size(1),
                                    groups,
                                    q.size(2),
                                    q.size(3),
                                    d_chunk_states.data_ptr<float>(),
                                    chunk_decays.data_ptr<float>(),
                                    group_terms.defined() ? group_terms.data_ptr<float>() : nullptr,
                                    d_q.data_ptr<float>(),
                                    d_k.data_ptr<float>(),
                                    d_v.data_ptr<float>(),
                                    d_log_gate.data_ptr<float>(),
                                    d_state.defined() ? d_state.data_ptr<float>() : nullptr};
    ThrowIfFailed(cuda::KeyGatedBackward(args, c10::cuda::getCurrentCUDAStream()), "backward");
    // Every log gate also scales the final state.
    if (d_final.defined()) d_log_gate = d_log_gate + (d_final * final_state).sum(-1).unsqueeze(2);
    return {d_q, d_k, d_v, d_log_gate, d_state};
  }
};

}  // namespace

bool FusedKeyGatedRecurrenceApplies(const torch::Tensor& q, const torch::Tensor& k,
                                    const torch::Tensor& v, const torch::Tensor& log_gate) {
  return q.is_cuda() && q.scalar_type() == torch::kFloat && k.scalar_type() == torch::kFloat &&
         v.scalar_type() == torch::kFloat && log_gate.scalar_type() == torch::kFloat &&
         q.size(3) == v.size(3) && cuda::KeyGatedChunkTokens(q.size(3)) > 0 && q.size(2) > 0;
}

absl::StatusOr<GlaResult> FusedKeyGatedRecurrence(const torch::Tensor& q, const torch::Tensor& k,
                                                  const torch::Tensor& v,
                                                  const torch::Tensor& log_gate,
                                                  const torch::Tensor& state) {
  try {
    const torch::Tensor initial =
        state.defined() ? state.contiguous()
                        : torch::zeros({k.size(0), k.size(1), k.size(3), v.size(3)}, q.options());
    variable_list out = KeyGatedRecurrenceFunction::apply(
        q.contiguous(), k.contiguous(), v.contiguous(), log_gate.contiguous(), initial);
    return GlaResult{out[0], out[1]};
  } catch (const std::exception& e) {
    return StatusFromException(kOp, e);
  }
}

}  // namespace liger
