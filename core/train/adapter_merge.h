#pragma once

#include <map>
#include <memory>
#include <string>

#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/io/checkpoint_weights.h"
#include "core/model/model_config.h"
#include "core/model/model_loader.h"
#include "core/model/transformer.h"
#include "core/train/lora_adapters.h"

namespace liger {

// The projections of `checkpoint` that `adapters` adapt, merged: checkpoint tensor name ->
// W + scaling * B A, computed in float32 and returned on the CPU in W's stored dtype. Both the
// merged checkpoint (WriteMergedModel) and the in-memory merge (ApplyAdapter) take their values
// from here, so they agree bit for bit. FAILED_PRECONDITION naming the mismatch when the adapters
// do not fit `config` and the checkpoint (layer count, a missing tensor, a shape) or a W is not
// F32, BF16 or F16.
absl::StatusOr<std::map<std::string, torch::Tensor>> MergeAdapterWeights(
    const CheckpointWeights& checkpoint, const ModelConfig& config, const LoraAdapters& adapters);

// Replaces the adapted projections of `model`, which was loaded from `model_dir`, by the merged
// ones, so that it computes exactly what LoadModel of WriteMergedModel(model_dir, adapters) would
// at the model's dtype and device. W is read again from `model_dir` because the model's copy may
// already be rounded to a narrower compute dtype. Each call starts from the checkpoint's W, so a
// second adapter replaces the first rather than stacking on it. The weights change in place: no
// forward may run meanwhile. FAILED_PRECONDITION naming the mismatch when the adapters do not fit
// the model, and then nothing changes.
absl::Status ApplyAdapter(const std::string& model_dir, const LoraAdapters& adapters,
                          Transformer& model);

// LoadModel with the PEFT-layout adapter in `adapter_dir` applied (ApplyAdapter). The adapter is
// read and checked against the model's config first, so a bad one fails before the weights load.
// Errors as LoadModel, LoraAdapters::LoadAdapter and ApplyAdapter report them.
absl::StatusOr<std::unique_ptr<Transformer>> LoadModelWithAdapter(
    const std::string& model_dir, const std::string& adapter_dir, const ModelLoadOptions& options);

}  // namespace liger
