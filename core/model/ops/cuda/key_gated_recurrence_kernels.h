#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

// Fused CUDA kernels of the key-gated linear recurrence (Liger-GLA, HGRN2, GSA's second pass):
//   S_t = diag(exp(g_t)) S_{t-1} + k_t^T v_t  per KV head,   o_t = q_t S_t  per query head,
// over float32 rows, K = V = D. Batch and heads are flattened: k, v, g and the states are [BKV, ...]
// (BKV = batch x KV heads), q, o and their gradients [BKV * G, T, D], where the G query heads of KV
// head i are rows i * G .. i * G + G - 1 (the [B, H] order with H = KV * G). The sequence is cut
// into chunks. What each chunk writes into the state is computed for all chunks at once, an
// elementwise sequential scan carries the state between chunks, and one block per chunk and query
// head does the rest with its tiles in shared memory. Cumulative gates are summed in
// float64 so that decays between nearby tokens keep their precision next to very large sums.
namespace liger::cuda {

// Tokens per chunk for head dim d, or 0 when no kernel is built for d (32, 64 and 128 are).
int KeyGatedChunkTokens(int64_t head_dim);

struct KeyGatedForwardArgs {
  const float* q;
  const float* k;
  const float* v;
  const float* log_gate;
  const float* initial_state;  // [BKV, D, D], or null for zeros
  int64_t batch_kv_heads;
  int64_t groups;  // query heads per KV head
  int64_t tokens;
  int64_t head_dim;
  float* output;        // [BKV * G, T, D]
  float* chunk_states;  // [BKV, N, D, D]: the state entering each chunk (saved for backward)
  float* chunk_decays;  // [BKV, N, D] workspace
  float* final_state;   // [BKV, D, D]
};

struct KeyGatedBackwardArgs {
  const float* q;
  const float* k;
  const float* v;
  const float* log_gate;
  const float* chunk_states;    // from the forward pass
  const float* d_output;        // [BKV * G, T, D]
  const float* d_final_state;   // [BKV, D, D], or null for zeros
  int64_t batch_kv_heads;
  int64_t groups;
  int64_t tokens;
  int64_t head_dim;
  float* d_chunk_states;  // [BKV, N, D, D] workspace: the gradient of the state leaving each chunk
  float* chunk_decays;    // [BKV, N, D] workspace
  // [3, BKV * G, T, D] workspace for each query head's share of d_k, d_v and d_log_gate before
  // they are summed over the group; null when G == 1.
  float* group_terms;
  float* d_q;  // [BKV * G, T, D]
  float* d_k;  // [BKV, T, D], as d_v and d_log_gate
  float* d_v;
  // The gradient of the log gates apart from the final state's term: q*dq - k*dk per token and
  // channel (the gradient of that token's cumulative log gate), summed over the token and every
  // later one.
  float* d_log_gate;
  float* d_initial_state;  // [BKV, D, D], or null when not wanted
};

cudaError_t KeyGatedForward(const KeyGatedForwardArgs& args, cudaStream_t stream);
cudaError_t KeyGatedBackward(const KeyGatedBackwardArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
