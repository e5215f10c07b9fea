#include "core/train/adapter_merge.h"

#include <utility>
#include <vector>

#include <torch/torch.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/model/tensor_conversion.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

std::string AdaptedWeightName(int64_t layer, Projection p) {
  return absl::StrCat("model.layers.", layer, ".", ProjectionModule(p), ".", ProjectionName(p),
                      ".weight");
}

std::string AdapterMergeShape(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::Status AdapterMergeTorchError(const c10::Error& e) {
  const std::string message =
      absl::StrCat("cannot merge LoRA adapters: ", e.what_without_backtrace());
  return absl::StrContains(message, "out of memory") ? absl::ResourceExhaustedError(message)
                                                     : absl::InternalError(message);
}

// W + scaling * B A for one projection, in W's dtype.
absl::StatusOr<torch::Tensor> MergeOneProjection(const std::string& name, const TensorView& view,
                                                 const torch::Tensor& a, const torch::Tensor& b,
                                                 double scaling) {
  const std::vector<int64_t> want = {b.size(0), a.size(1)};
  if (view.shape != want) {
    return absl::FailedPreconditionError(
        absl::StrCat("tensor ", name, " has shape ", AdapterMergeShape(view.shape),
                     " but the adapter is for ", AdapterMergeShape(want)));
  }
  if (view.dtype != DType::kFloat32 && view.dtype != DType::kBFloat16 &&
      view.dtype != DType::kFloat16) {
    return absl::FailedPreconditionError(
        absl::StrCat("tensor ", name, " has dtype ", std::string(DTypeName(view.dtype)),
                     ", expected F32, BF16 or F16"));
  }
  LIGER_ASSIGN_OR_RETURN(torch::Tensor w, ToTensor(view));
  const torch::Tensor delta = torch::matmul(b.detach().to(torch::kCPU, torch::kFloat32),
                                            a.detach().to(torch::kCPU, torch::kFloat32));
  return (w.to(torch::kFloat32) + scaling * delta).to(w.scalar_type()).contiguous();
}

// The model's tensor for projection `p`, in the order of the Projection enum.
const torch::Tensor& AdaptedModelWeight(const LayerWeights& l, Projection p) {
  const torch::Tensor* weights[] = {&l.q_proj,    &l.k_proj,  &l.v_proj,   &l.o_proj,
                                    &l.gate_proj, &l.up_proj, &l.down_proj};
  return *weights[static_cast<int>(p)];
}

}  // namespace

absl::StatusOr<std::map<std::string, torch::Tensor>> MergeAdapterWeights(
    const CheckpointWeights& checkpoint, const ModelConfig& config, const LoraAdapters& adapters) {
  if (config.num_hidden_layers != adapters.num_layers()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the adapters have ", adapters.num_layers(), " layers but ", checkpoint.dir(),
                     " has ", config.num_hidden_layers));
  }
  std::map<std::string, torch::Tensor> merged;
  try {
    torch::NoGradGuard no_grad;
    for (int64_t i = 0; i < adapters.num_layers(); ++i) {
      for (Projection p : kAllProjections) {
        auto [a, b] = adapters.Factors(i, p);
        if (!a.defined()) continue;
        const std::string name = AdaptedWeightName(i, p);
        const TensorView* view = checkpoint.Find(name);
        if (view == nullptr) {
          return absl::FailedPreconditionError(
              absl::StrCat("checkpoint ", checkpoint.dir(), " lacks tensor ", name));
        }
        LIGER_ASSIGN_OR_RETURN(merged[name],
                               MergeOneProjection(name, *view, a, b, adapters.scaling()));
      }
    }
  } catch (const c10::Error& e) {
    return AdapterMergeTorchError(e);
  }
  return merged;
}

absl::Status ApplyAdapter(const std::string& model_dir, const LoraAdapters& adapters,
                          Transformer& model) {
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointWeights> checkpoint,
                         CheckpointWeights::Open(model_dir));
  LIGER_ASSIGN_OR_RETURN(auto merged, MergeAdapterWeights(*checkpoint, model.config(), adapters));
  const TransformerWeights& weights = model.weights();
  try {
    torch::NoGradGuard no_grad;
    // Every value is converted and checked before the first write, so a failure leaves the model
    // as it was; the writes themselves neither allocate nor convert.
    std::vector<std::pair<torch::Tensor, torch::Tensor>> updates;  // {model weight, merged value}
    for (int64_t i = 0; i < adapters.num_layers(); ++i) {
      for (Projection p : kAllProjections) {
        if (!adapters.Factors(i, p).first.defined()) continue;
        const std::string name = AdaptedWeightName(i, p);
        const torch::Tensor& target = AdaptedModelWeight(weights.layers[i], p);
        // Converted as LoadModel converts a checkpoint tensor: to the device, then the dtype.
        torch::Tensor value = merged.at(name).to(target.device()).to(target.scalar_type());
        if (!target.sizes().equals(value.sizes())) {
          return absl::FailedPreconditionError(absl::StrCat(
              "the model's ", name, " has shape ", AdapterMergeShape(target.sizes().vec()),
              " but ", model_dir, " holds ", AdapterMergeShape(value.sizes().vec()),
              "; the model was not loaded from there"));
        }
        updates.emplace_back(target, std::move(value));
      }
    }
    // The handles share the model's storage, so copying into them updates the model.
    for (auto& [target, value] : updates) target.copy_(value);
  } catch (const c10::Error& e) {
    return AdapterMergeTorchError(e);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Transformer>> LoadModelWithAdapter(
    const std::string& model_dir, const std::string& adapter_dir, const ModelLoadOptions& options) {
  LIGER_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(model_dir));
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<LoraAdapters> adapters,
                         LoraAdapters::LoadAdapter(adapter_dir, config, torch::kCPU));
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<Transformer> model, LoadModel(model_dir, options));
  LIGER_RETURN_IF_ERROR(ApplyAdapter(model_dir, *adapters, *model));
  return model;
}

}  // namespace liger
