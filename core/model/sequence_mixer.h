#pragma once

#include <memory>

#include <torch/torch.h>

#include "absl/status/statusor.h"
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
};

}  // namespace liger
