#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

// Fused CUDA kernels of the key-gated linear recurrence (Liger-GLA, HGRN2, GSA's second pass):
//   S_t = diag(exp(g_t)) S_{t-1} + k_t^T v_t ,   o_t = q_t S_t
// over [BH, T, D] float32 rows (batch and heads flattened), K = V = D. The sequence is cut into
// chunks; two short sequential passes carry the state between chunks, and one block per chunk does
// the rest with its tiles in shared memory. Cumulative gates are summed in float64 so that decays
// between nearby tokens keep their precision next to very large cumulative sums.
namespace liger::cuda {

// Tokens per chunk for head dim d, or 0 when no kernel is built for d (32, 64 and 128 are).
int KeyGatedChunkTokens(int64_t head_dim);

struct KeyGatedForwardArgs {
  const float* q;
  const float* k;
  const float* v;
  const float* log_gate;
  const float* initial_state;  // [BH, D, D], or null for zeros
  int64_t batch_heads;
  int64_t tokens;
  int64_t head_dim;
  float* output;        // [BH, T, D]
  float* chunk_states;  // [BH, N, D, D]: the state entering each chunk (saved for backward)
  float* final_state;   // [BH, D, D]
};

struct KeyGatedBackwardArgs {
  const float* q;
  const float* k;
  const float* v;
  const float* log_gate;
  const float* chunk_states;    // from the forward pass
  const float* d_output;        // [BH, T, D]
  const float* d_final_state;   // [BH, D, D], or null for zeros
  int64_t batch_heads;
  int64_t tokens;
  int64_t head_dim;
  float* d_chunk_states;  // [BH, N, D, D] workspace: the gradient of the state leaving each chunk
  float* d_q;
  float* d_k;
  float* d_v;
  // The gradient of the log gates apart from the final state's term: q*dq - k*dk per token and
  // channel (the gradient of that token's cumulative log gate), summed over the token and every
  // later one.
  float* d_log_gate;
  float* d_initial_state;  // [BH, D, D], or null when not wanted
};

cudaError_t KeyGatedForward(const KeyGatedForwardArgs& args, cudaStream_t stream);
cudaError_t KeyGatedBackward(const KeyGatedBackwardArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
