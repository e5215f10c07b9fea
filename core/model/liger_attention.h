#pragma once

#include <memory>

#include "core/model/liger_layer_state.h"
#include "core/model/liger_state_pool.h"
#include "core/model/model_config.h"
#include "core/model/sequence_mixer.h"

namespace liger {

// Liger Attention: a gated linear recurrence whose gate is pooled from the key projection (GLA,
// HGRN2 or GSA; no new parameters), mixed with a sliding-window softmax over rotary q/k. Prefill
// uses the chunked-parallel form; decode the recurrence plus a ring of the last `window` keys, so
// both compute the same function (the reference implementation forgets the window when decoding).
class LigerAttention : public SequenceMixer, public RowDecoder {
 public:
  LigerAttention(const ModelConfig& config, torch::Device device, torch::ScalarType dtype);

  std::unique_ptr<LayerState> NewState() const override;
  torch::Tensor Forward(const MixerInputs& in) const override;
  torch::Tensor Prefill(const MixerInputs& in, LayerState& state) const override;
  torch::Tensor Decode(const MixerInputs& in, absl::Span<LayerState* const> states) const override;
  const RowDecoder* row_decoder() const override { return this; }

  int64_t RowOf(const LayerState& state) const override;
  absl::Mutex& StoreMutex() const override { return pool_->mutex(); }
  int64_t StoreVersion() const override;
  // On CUDA, GLA and HGRN2 run the fused decode kernel (core/model/ops/fused_liger_decode.h);
  // otherwise the ATen ops below.
  torch::Tensor DecodeRows(const MixerInputs& in, const torch::Tensor& rows,
                           const torch::Tensor& positions) const override;
  void Advance(LayerState& state) const override;

 private:
  // Feature maps and decays for the recurrence, float32: q with the H query heads, the rest with
  // the KV heads.
  struct Features {
    torch::Tensor q, k, v, log_gate;
    torch::Tensor slot_input;  // GSA: the slot write strength s = 1 - alpha
  };
  Features MakeFeatures(const MixerInputs& in) const;

  // Runs the recurrence over [B, H, T, *] features from (and into) the given float32 states.
  torch::Tensor Recur(const Features& f, torch::Tensor& memory, torch::Tensor& slot_memory) const;
  torch::Tensor RecurStep(const Features& f, torch::Tensor& memory, torch::Tensor& slot_memory) const;

  torch::Tensor Mix(const torch::Tensor& window_out, const torch::Tensor& linear_out,
                    torch::ScalarType dtype) const;

  // The state's own pool row, or a c10::Error for a state another model made.
  LigerLayerState& OwnState(LayerState& state) const;
  const LigerLayerState& OwnState(const LayerState& state) const;

  LigerConfig liger_;
  int64_t kv_heads_, head_dim_;
  // Every sequence's state of this layer (shared with the states, which may outlive the model).
  std::shared_ptr<LigerStatePool> pool_;
  torch::Device device_;
};

}  // namespace liger
