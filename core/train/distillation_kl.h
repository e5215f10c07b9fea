#pragma once

#include <torch/types.h>

namespace liger {

// Σ over the rows where `trained` [N] (bool) is set of KL(p_teacher ‖ p_student), where
// `teacher_logits` [N, V] (float32, no graph) are consumed (overwritten in place) and
// `student_log_probs` [N, V] are log-softmax outputs carrying the graph. The result is a scalar
// whose gradient flows to the student only. Per row, KL = Σ p log p − Σ p log q: the first term is
// a constant, so beyond the student's log-probabilities only p itself is kept for backward.
torch::Tensor SummedDistillationKl(torch::Tensor teacher_logits,
                                   const torch::Tensor& student_log_probs,
                                   const torch::Tensor& trained);

}  // namespace liger
