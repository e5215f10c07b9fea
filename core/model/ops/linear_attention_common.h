#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/ops/grouped_heads.h"

namespace liger {

struct GlaResult {
  torch::Tensor output;       // [B,H,T,V], the dtype of q
  torch::Tensor final_state;  // [B,KV,K,V] float32
};

// Which state dimension a gated linear recurrence decays.
enum class GateDim { kKey, kValue };

// Grouped-query attention is native to the recurrences: q carries H heads; k, v, the log gates and
// the state carry KV heads (KV dividing H), and query head h reads the state of KV head h / (H/KV).
// The state is per KV head because k, v and the gates are: the G query heads of a group would
// otherwise carry G equal copies of it.
//
// Validates a prefill call: q [B,H,T,K], k [B,KV,T,K], v [B,KV,T,V], log_gate [B,KV,T,K or V], state
// [B,KV,K,V] float32 or undefined, all on the device of q; chunk_size >= 1.
absl::Status CheckRecurrencePrefill(const char* op, GateDim gate_dim, const torch::Tensor& q,
                                    const torch::Tensor& k, const torch::Tensor& v,
                                    const torch::Tensor& log_gate, const torch::Tensor& state,
                                    int64_t chunk_size);

// Validates a prefill call and runs the recurrence in chunks of about `chunk_size` tokens (rounded
// to whole sub-chunks), all chunks at once but for a short sequential pass of the state between
// them: cost and memory linear in T. The math runs in float32 (cumulative gates in float64); the
// output has q's dtype. `op` names the caller in error messages.
absl::StatusOr<GlaResult> RunChunkedRecurrence(const char* op, GateDim gate_dim,
                                               const torch::Tensor& q, const torch::Tensor& k,
                                               const torch::Tensor& v, const torch::Tensor& log_gate,
                                               const torch::Tensor& state, int64_t chunk_size);

// Validates a single-token call: q [B,H,K], k [B,KV,K], v [B,KV,V], log_gate [B,KV,K or V], state
// [B,KV,K,V] float32, all on the device of q.
absl::Status CheckRecurrenceStep(const char* op, GateDim gate_dim, const torch::Tensor& q,
                                 const torch::Tensor& k, const torch::Tensor& v,
                                 const torch::Tensor& log_gate, const torch::Tensor& state);

// Sub-chunk length inside a chunk: the decays of a chunk's score blocks factor through one
// reference point per sub-chunk.
inline constexpr int64_t kSubChunk = 16;

// exp of a log decay computed in float64 (so that differences of long cumulative sums keep their
// precision), evaluated in float32. Callers pass arguments <= 0, so results lie in [0, 1].
torch::Tensor DecayFactor(const torch::Tensor& log_decay64);

}  // namespace liger
