#include <map>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/io/checkpoint_weights.h"
#include "core/io/file_util.h"
#include "core/io/safetensors_writer.h"
#include "core/model/model_config.h"
#include "core/model/tensor_conversion.h"
#include "core/train/lora_adapters.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

// Besides config.json: the files a loader or transformers reads next to the weights.
constexpr const char* kMergeSideFiles[] = {
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
    "added_tokens.json", "vocab.json", "merges.txt", "chat_template.jinja",
    "generation_config.json"};

// W + scaling * B A for one projection, in W's dtype.
absl::StatusOr<torch::Tensor> MergedProjection(const std::string& name, const TensorView& view,
                                               const torch::Tensor& a, const torch::Tensor& b,
                                               double scaling) {
  const std::vector<int64_t> want = {b.size(0), a.size(1)};
  if (view.shape != want) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tensor ", name, " has shape [", absl::StrJoin(view.shape, ", "), "] but the adapter is for [",
        absl::StrJoin(want, ", "), "]"));
  }
  if (view.dtype != DType::kFloat32 && view.dtype != DType::kBFloat16 &&
      view.dtype != DType::kFloat16) {
    return absl::FailedPreconditionError(
        absl::StrCat("tensor ", name, " has dtype ", std::string(DTypeName(view.dtype)),
                     ", expected F32, BF16 or F16"));
  }
  LIGER_ASSIGN_OR_RETURN(torch::Tensor w, ToTensor(view));
  const torch::Tensor delta =
      torch::matmul(b.detach().to(torch::kCPU, torch::kFloat32), a.detach().to(torch::kCPU, torch::kFloat32));
  return (w.to(torch::kFloat32) + scaling * delta).to(w.scalar_type()).contiguous();
}

absl::Status CopyMergeSideFile(const std::string& from, const std::string& to) {
  LIGER_ASSIGN_OR_RETURN(std::string contents, ReadFileToString(from));
  return WriteFileAtomically(to, contents);
}

}  // namespace

absl::Status WriteMergedModel(const std::string& model_dir, const LoraAdapters& adapters,
                              const std::string& out_dir) {
  LIGER_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(model_dir));
  if (config.num_hidden_layers != adapters.num_layers()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the adapters have ", adapters.num_layers(), " layers but ", model_dir,
                     " has ", config.num_hidden_layers));
  }
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointWeights> checkpoint,
                         CheckpointWeights::Open(model_dir));
  std::map<std::string, torch::Tensor> merged;  // owns the replaced tensors while writing
  try {
    torch::NoGradGuard no_grad;
    for (int64_t i = 0; i < adapters.num_layers(); ++i) {
      for (Projection p : kAllProjections) {
        auto [a, b] = adapters.Factors(i, p);
        if (!a.defined()) continue;
        const std::string name = absl::StrCat("model.layers.", i, ".", ProjectionModule(p), ".",
                                              ProjectionName(p), ".weight");
        const TensorView* view = checkpoint->Find(name);
        if (view == nullptr) {
          return absl::FailedPreconditionError(
              absl::StrCat("checkpoint ", model_dir, " lacks tensor ", name));
        }
        LIGER_ASSIGN_OR_RETURN(merged[name],
                               MergedProjection(name, *view, a, b, adapters.scaling()));
      }
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("cannot merge LoRA adapters: ", e.what_without_backtrace()));
  }
  std::vector<std::pair<std::string, TensorView>> tensors;
  for (const std::string& name : checkpoint->names()) {
    auto it = merged.find(name);
    if (it == merged.end()) {
      tensors.emplace_back(name, *checkpoint->Find(name));
    } else {
      LIGER_ASSIGN_OR_RETURN(TensorView view, ViewOf(it->second));
      tensors.emplace_back(name, view);
    }
  }
  LIGER_RETURN_IF_ERROR(
      WriteSafetensors(absl::StrCat(out_dir, "/model.safetensors"), tensors, {{"format", "pt"}}));
  LIGER_RETURN_IF_ERROR(CopyMergeSideFile(absl::StrCat(model_dir, "/config.json"),
                                          absl::StrCat(out_dir, "/config.json")));
  for (const char* file : kMergeSideFiles) {
    const std::string from = absl::StrCat(model_dir, "/", file);
    LIGER_ASSIGN_OR_RETURN(bool exists, StatIfExists(from));
    if (exists) LIGER_RETURN_IF_ERROR(CopyMergeSideFile(from, absl::StrCat(out_dir, "/", file)));
  }
  return absl::OkStatus();
}

}  // namespace liger
