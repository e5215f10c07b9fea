#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace liger::testing {

// Plain token-by-token float64 loops, written independently of the chunked/blocked ops they check.
// Inputs may have any float dtype and device; results are float64 CPU tensors.

struct NaiveRecurrenceResult {
  torch::Tensor output;       // [B,H,T,V]
  torch::Tensor final_state;  // [B,H,K,V]
};

// S_t = diag(exp(g_t)) S_{t-1} + k_t^T v_t (gate_on_value false, g: [B,H,T,K]) or
// S_t = S_{t-1} diag(exp(g_t)) + k_t^T v_t (gate_on_value true, g: [B,H,T,V]); o_t = q_t S_t.
// `state` [B,H,K,V] may be undefined (zeros).
NaiveRecurrenceResult NaiveGatedRecurrence(const torch::Tensor& q, const torch::Tensor& k,
                                           const torch::Tensor& v, const torch::Tensor& log_gate,
                                           const torch::Tensor& state, bool gate_on_value);

// Softmax attention of query t over keys [t - window, t] of the sequence past_k ++ k (past may be
// undefined), scale 1/sqrt(D). q,k,v: [B,H,T,D] -> [B,H,T,D].
torch::Tensor NaiveWindowAttention(const torch::Tensor& q, const torch::Tensor& k,
                                   const torch::Tensor& v, const torch::Tensor& past_k,
                                   const torch::Tensor& past_v, int64_t window);

// One query [B,H,D] over the ring slots valid in mask [B,W] plus the current key/value.
torch::Tensor NaiveWindowStep(const torch::Tensor& q, const torch::Tensor& k_new,
                              const torch::Tensor& v_new, const torch::Tensor& ring_k,
                              const torch::Tensor& ring_v, const torch::Tensor& valid_mask);

// max |actual - expected| / max |expected| (NaN if actual has NaN).
double RelativeError(const torch::Tensor& actual, const torch::Tensor& expected);

// Every element finite.
bool AllFinite(const torch::Tensor& t);

}  // namespace liger::testing
