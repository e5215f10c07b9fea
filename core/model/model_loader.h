#pragma once

#include <memory>
#include <string>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/model/transformer.h"

namespace liger {

struct ModelLoadOptions {
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;  // compute dtype; logits are always float32
};

// Parses "float32" | "bfloat16" | "float16" (as the CLI and API name them).
absl::StatusOr<torch::ScalarType> ParseComputeDType(absl::string_view name);
// Parses "cpu" | "cuda" | "cuda:N", failing clearly when this build or machine has no CUDA.
absl::StatusOr<torch::Device> ParseDevice(absl::string_view name);

// Loads a checkpoint directory (config.json + safetensors) into a ready-to-run model.
absl::StatusOr<std::unique_ptr<Transformer>> LoadModel(const std::string& model_dir,
                                                       const ModelLoadOptions& options);

}  // namespace liger
