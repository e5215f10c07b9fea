#include "core/train/distillation_kl.h"

#include <torch/torch.h>

namespace liger {
namespace {

// Row-wise dot products of [N, V] matrices as a batched [1, V] x [V, 1] product, which (unlike
// (a * b).sum(-1)) materialises no [N, V] intermediate.
torch::Tensor DistillRowDot(const torch::Tensor& a, const torch::Tensor& b) {
  return torch::bmm(a.unsqueeze(1), b.unsqueeze(2)).view({-1});
}

}  // namespace

torch::Tensor SummedDistillationKl(torch::Tensor teacher_logits,
                                   const torch::Tensor& student_log_probs,
                                   const torch::Tensor& trained) {
  torch::Tensor teacher_probs;
  torch::Tensor teacher_term;  // Σ p log p per row
  {
    torch::NoGradGuard no_grad;
    // log_softmax in place: the logits become the teacher's log-probabilities without a copy.
    torch::Tensor& teacher_log_probs =
        teacher_logits.sub_(torch::logsumexp(teacher_logits, -1, /*keepdim=*/true));
    teacher_probs = teacher_log_probs.exp();
    teacher_term = DistillRowDot(teacher_probs, teacher_log_probs);
  }
  teacher_logits.reset();
  torch::Tensor rows = teacher_term - DistillRowDot(teacher_probs, student_log_probs);
  return rows.masked_fill(trained.logical_not(), 0).sum();
}

}  // namespace liger
