#include "core/model/model_loader.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/io/checkpoint_weights.h"
#include "core/model/liger_attention.h"
#include "core/model/softmax_attention.h"
#include "core/util/status_macros.h"

namespace liger {

absl::StatusOr<torch::ScalarType> ParseComputeDType(absl::string_view name) {
  if (name == "float32") return torch::kFloat32;
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float16") return torch::kFloat16;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown dtype \"", name, "\" (expected float32, bfloat16 or float16)"));
}

absl::StatusOr<torch::Device> ParseDevice(absl::string_view name) {
  try {
    torch::Device device{std::string(name)};
    if (device.is_cuda() && !torch::cuda::is_available()) {
      return absl::FailedPreconditionError(
          absl::StrCat("device ", name, " requested but CUDA is not available in this build/machine"));
    }
    if (!device.is_cpu() && !device.is_cuda()) {
      return absl::InvalidArgumentError(absl::StrCat("unsupported device \"", name, "\""));
    }
    return device;
  } catch (const c10::Error&) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown device \"", name, "\" (expected cpu, cuda or cuda:N)"));
  }
}

absl::StatusOr<std::unique_ptr<Transformer>> LoadModel(const std::string& model_dir,
                                                       const ModelLoadOptions& options) {
  LIGER_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(model_dir));
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointWeights> checkpoint,
                         CheckpointWeights::Open(model_dir));
  LIGER_ASSIGN_OR_RETURN(TransformerWeights weights,
                         TransformerWeights::Load(*checkpoint, config, options.device, options.dtype));
  std::vector<std::unique_ptr<SequenceMixer>> mixers;
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    // A converted checkpoint replaces attention except in the hybrid's softmax layers.
    const bool softmax =
        !config.liger || std::count(config.liger->softmax_layers.begin(),
                                    config.liger->softmax_layers.end(), i) > 0;
    if (softmax) {
      mixers.push_back(std::make_unique<SoftmaxAttention>(config, config.sliding_window,
                                                          options.device, options.dtype));
    } else {
      mixers.push_back(std::make_unique<LigerAttention>(config, options.device, options.dtype));
    }
  }
  return std::make_unique<Transformer>(std::move(config), std::move(weights), std::move(mixers),
                                       options.device, options.dtype);
}

}  // namespace liger
