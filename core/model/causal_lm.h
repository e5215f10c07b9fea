#pragma once

#include <memory>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/model/model_config.h"
#include "core/model/model_state.h"

namespace liger {

// A decoder-only language model that can run a whole sequence at once (prefill) or one token at a
// time against a per-sequence state (decode). The softmax teacher and the Liger models implement it,
// so tests compare the two paths and the engine batches either.
class CausalLM {
 public:
  virtual ~CausalLM() = default;

  virtual const ModelConfig& config() const = 0;
  virtual torch::Device device() const = 0;

  // A fresh state for a sequence that has seen no tokens.
  virtual std::unique_ptr<ModelState> NewState() const = 0;

  // Stateless forward over input_ids [B, T] (int64, on any device): float32 logits [B, T, V].
  virtual absl::StatusOr<torch::Tensor> Forward(const torch::Tensor& input_ids) const = 0;

  // Feeds tokens [T] (int64, on any device: host ids spare the range check a device sync) after
  // what `state` has seen, advancing it. Returns float32 logits [T, V] when all_logits, else [1, V]
  // for the last token only.
  virtual absl::StatusOr<torch::Tensor> Prefill(const torch::Tensor& tokens, ModelState& state,
                                                bool all_logits) const = 0;

  // One token for each of N states (tokens [N], int64, on any device as for Prefill), advancing
  // each: float32 logits [N, V].
  virtual absl::StatusOr<torch::Tensor> DecodeStep(absl::Span<ModelState* const> states,
                                                   const torch::Tensor& tokens) const = 0;
};

}  // namespace liger
