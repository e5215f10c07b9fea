#pragma once

#include <memory>
#include <vector>

#include "core/model/causal_lm.h"
#ifdef LIGER_WITH_CUDA
#include "core/model/cuda_graph_decoder.h"
#endif
#include "core/model/projection_adapter.h"
#include "core/model/rotary_embedding.h"
#include "core/model/sequence_mixer.h"
#include "core/model/transformer_weights.h"

namespace liger {

// A Llama-family decoder: embeddings, RMSNorm, per-layer q/k/v projections feeding a SequenceMixer
// (softmax attention for the teacher, a Liger layer after conversion), SwiGLU MLP and the LM head.
class Transformer : public CausalLM {
 public:
  Transformer(ModelConfig config, TransformerWeights weights,
              std::vector<std::unique_ptr<SequenceMixer>> mixers, torch::Device device,
              torch::ScalarType dtype);
  Transformer(const Transformer&) = delete;
  Transformer& operator=(const Transformer&) = delete;

  const ModelConfig& config() const override { return config_; }
  torch::Device device() const override { return device_; }
  torch::ScalarType dtype() const { return dtype_; }
  const TransformerWeights& weights() const { return weights_; }

  std::unique_ptr<ModelState> NewState() const override;
  absl::StatusOr<torch::Tensor> Forward(const torch::Tensor& input_ids) const override;
  absl::StatusOr<torch::Tensor> Prefill(const torch::Tensor& tokens, ModelState& state,
                                        bool all_logits) const override;
  absl::StatusOr<torch::Tensor> DecodeStep(absl::Span<ModelState* const> states,
                                           const torch::Tensor& tokens) const override;

  // Forward for training: float32 logits [B, T, V] for input_ids [B, T] (int64), through the same
  // path as Forward with `adapter` (may be null) adding its deltas to the projections. Unlike
  // Forward it keeps the caller's grad mode (on by default), so the logits carry a graph back to
  // the adapter's tensors (the base weights do not require grad), and evaluation can run it under a
  // NoGradGuard. With `checkpoint_layers` (and grad on), each layer keeps only its input for the
  // backward pass and runs again during it (see CheckpointLayer), with the same dropout masks.
  absl::StatusOr<torch::Tensor> TrainingForward(const torch::Tensor& input_ids,
                                                const ProjectionAdapter* adapter,
                                                bool checkpoint_layers = false) const;

  // This model with softmax attention in every layer, sharing this one's weight tensors (nothing
  // is copied or read again): for a Liger conversion, the model it was converted from, which
  // distillation uses as its teacher.
  std::unique_ptr<Transformer> WithSoftmaxAttention() const;

 private:
  // kForward: stateless whole sequences; kPrefill: one state (B == 1) advanced by T tokens;
  // kDecode: B states advanced by one token each; kDecodeRows: the same from device tensors only
  // (every mixer a RowDecoder; the host-side states are advanced by the caller).
  enum class RunMode { kForward, kPrefill, kDecode, kDecodeRows };

  // For kDecodeRows: each layer's state rows [L, B] and the tokens each sequence has seen [B].
  struct RowBatch {
    torch::Tensor rows, positions;
  };

  // ids [B, T] at positions [B or 1, T]; returns the final hidden states [B, T, hidden]. `adapter`
  // (may be null) adds its deltas to the projections.
  torch::Tensor Run(const torch::Tensor& ids, const torch::Tensor& positions,
                    absl::Span<ModelState* const> states, RunMode mode,
                    const RowBatch* row_batch = nullptr, const ProjectionAdapter* adapter = nullptr,
                    bool checkpoint_layers = false) const;
  // Decoder layer i on x [B, T, hidden]; `layer_states` as Run's states, one layer down.
  torch::Tensor RunLayer(size_t i, torch::Tensor x, const torch::Tensor& cos, const torch::Tensor& sin,
                         absl::Span<LayerState* const> layer_states, RunMode mode,
                         const RowBatch* row_batch, const ProjectionAdapter* adapter) const;
  torch::Tensor Logits(const torch::Tensor& hidden) const;
  absl::Status CheckTokens(const torch::Tensor& tokens, int64_t dims) const;

#ifdef LIGER_WITH_CUDA
  // DecodeStep through graphs_: UNIMPLEMENTED when the step cannot be captured.
  absl::StatusOr<torch::Tensor> GraphDecodeStep(absl::Span<ModelState* const> states,
                                                const torch::Tensor& tokens) const;
#endif

  ModelConfig config_;
  TransformerWeights weights_;
  std::vector<std::unique_ptr<SequenceMixer>> mixers_;
  RotaryEmbedding rope_;
  torch::Device device_;
  torch::ScalarType dtype_;
#ifdef LIGER_WITH_CUDA
  // On CUDA, when every mixer is a RowDecoder (and LIGER_CUDA_GRAPHS is not 0): decode steps replay
  // captured graphs. Padding entries of a graph's batch write into padding_state_'s rows.
  std::unique_ptr<ModelState> padding_state_;
  std::unique_ptr<CudaGraphDecoder> graphs_;
#endif
};

}  // namespace liger
