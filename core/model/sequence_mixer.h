#pragma once

#include <memory>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "core/model/layer_state.h"

namespace liger {

// The per-layer projections a mixer combines. q is [B, H, T, D], k and v are [B, KV, T, D]; q and k
// are after any q/k norm but before rotary embedding; cos/sin are [B or 1, T, D] for the tokens'
// absolute positions.
struct MixerInputs {
  torch::Tensor q, k, v;
  torch::Tensor cos, sin;
};

// A mixer whose per-sequence states are rows of device tensors (LigerAttention) can decode from
// device tensors alone, with no host synchronisation, so Transformer can capture whole decode steps
// in CUDA graphs and replay them.
class RowDecoder {
 public:
  virtual ~RowDecoder() = default;

  // The row of `state`, a state this mixer made.
  virtual int64_t RowOf(const LayerState& state) const = 0;
  // Held by the caller around DecodeRows (and until a replayed graph's kernels are queued): rows
  // may move only under it, and StoreVersion, read under it, changes when they do.
  virtual absl::Mutex& StoreMutex() const = 0;
  virtual int64_t StoreVersion() const = 0;
  // As Decode for the sequences at `rows` that have seen `positions` tokens ([B] int64 on the
  // model's device), leaving the host-side states to Advance.
  virtual torch::Tensor DecodeRows(const MixerInputs& in, const torch::Tensor& rows,
                                   const torch::Tensor& positions) const = 0;
  // Records in `state` the token a DecodeRows step added to its row.
  virtual void Advance(LayerState& state) const = 0;
};

// The token-mixing half of a decoder layer: softmax attention in the teacher, a Liger layer after
// conversion. Returns [B, H, T, D] outputs (before o_proj). Errors are c10::Error exceptions,
// converted to Status at the model boundary.
class SequenceMixer {
 public:
  virtual ~SequenceMixer() = default;

  virtual std::unique_ptr<LayerState> NewState() const = 0;

  // Whole sequences from their first token, no state kept.
  virtual torch::Tensor Forward(const MixerInputs& in) const = 0;

  // One sequence (B == 1) continuing after what `state` has seen, advancing it.
  virtual torch::Tensor Prefill(const MixerInputs& in, LayerState& state) const = 0;

  // B sequences, one token each (T == 1), each against its own state.
  virtual torch::Tensor Decode(const MixerInputs& in, absl::Span<LayerState* const> states) const = 0;

  // This mixer as a RowDecoder, or null when its states are not pool rows.
  virtual const RowDecoder* row_decoder() const { return nullptr; }
};

}  // namespace liger
