#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/model_config.h"
#include "core/model/projection_adapter.h"
#include "core/train/fine_tune.h"

namespace liger {

// LoRA factors for the targeted projections of every layer: the projection W x becomes
// W x + (alpha / rank) * B A dropout(x), with A [rank, in] and B [out, rank] float32 tensors that
// require grad. Saved and loaded in PEFT's layout, so the adapter also works with transformers.
class LoraAdapters : public ProjectionAdapter {
 public:
  // A drawn as PEFT does (kaiming-uniform with a = sqrt(5), i.e. U(-1/sqrt(in), 1/sqrt(in))) from
  // `seed` on the CPU, so the same seed gives the same adapter on any device; B zero, so the model
  // starts exactly as the base. INVALID_ARGUMENT for bad options (see ValidateLoraOptions).
  static absl::StatusOr<std::unique_ptr<LoraAdapters>> Create(const ModelConfig& config,
                                                              const LoraOptions& options,
                                                              torch::Device device, uint64_t seed);

  // Reads adapter_config.json and adapter_model.safetensors from `dir` (as SaveAdapter or PEFT
  // write them). NOT_FOUND for a missing file; DATA_LOSS for a corrupt or self-contradictory one;
  // FAILED_PRECONDITION for an adapter of another model (tensor names or shapes that do not match
  // `config`) or one using PEFT features this class does not implement.
  static absl::StatusOr<std::unique_ptr<LoraAdapters>> LoadAdapter(const std::string& dir,
                                                                   const ModelConfig& config,
                                                                   torch::Device device);

  torch::Tensor Delta(int64_t layer, Projection p, const torch::Tensor& x) const override;
  std::vector<torch::Tensor> LayerParameters(int64_t layer) const override;

  // Every factor, in NamedParameters() order.
  std::vector<torch::Tensor> parameters() const;
  // PEFT's names, e.g. base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight; layer by
  // layer, projections in checkpoint order, A before B.
  std::vector<std::pair<std::string, torch::Tensor>> NamedParameters() const;

  // Dropout applies only while training; off until SetTraining(true).
  void SetTraining(bool training) { training_ = training; }
  bool training() const { return training_; }

  const LoraOptions& options() const { return options_; }
  int64_t num_layers() const { return static_cast<int64_t>(layers_.size()); }
  double scaling() const { return options_.alpha / options_.rank; }
  // {A, B} of projection `p` in `layer`; both undefined when it is not adapted.
  std::pair<torch::Tensor, torch::Tensor> Factors(int64_t layer, Projection p) const;

  // Writes adapter_config.json and adapter_model.safetensors (float32) into the existing directory
  // `dir`, each file replaced atomically. `base_model` is recorded as base_model_name_or_path.
  absl::Status SaveAdapter(const std::string& dir, const std::string& base_model = "") const;

  // Copies values into the parameters in place (so optimizer references stay valid), e.g. when
  // resuming. `named` must hold exactly the NamedParameters() names with the same shapes, else
  // FAILED_PRECONDITION and nothing is changed.
  absl::Status LoadParameters(const std::vector<std::pair<std::string, torch::Tensor>>& named);

 private:
  struct LoraFactors {
    torch::Tensor a, b;  // undefined when the projection is not adapted
  };
  using LayerFactors = std::array<LoraFactors, kAllProjections.size()>;

  LoraAdapters(LoraOptions options, std::vector<LayerFactors> layers)
      : options_(std::move(options)), layers_(std::move(layers)) {}

  LoraOptions options_;
  std::vector<LayerFactors> layers_;
  bool training_ = false;
};

// Writes into the existing directory `out_dir` a checkpoint that LoadModel reads like any other:
// config.json and the tokenizer/generation files copied from `model_dir`, and model.safetensors
// holding every tensor of `model_dir` unchanged except the adapted projections, which become
// W + (alpha / rank) B A (computed in float32, stored in W's dtype). FAILED_PRECONDITION if the
// adapters do not fit the checkpoint; read and write errors as CheckpointWeights and
// WriteSafetensors report them.
absl::Status WriteMergedModel(const std::string& model_dir, const LoraAdapters& adapters,
                              const std::string& out_dir);

}  // namespace liger
