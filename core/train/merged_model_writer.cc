#include <map>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "core/io/checkpoint_weights.h"
#include "core/io/file_util.h"
#include "core/io/safetensors_writer.h"
#include "core/model/model_config.h"
#include "core/model/tensor_conversion.h"
#include "core/train/adapter_merge.h"
#include "core/train/lora_adapters.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

// Besides config.json: the files a loader or transformers reads next to the weights.
constexpr const char* kMergeSideFiles[] = {
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
    "added_tokens.json", "vocab.json", "merges.txt", "chat_template.jinja",
    "generation_config.json"};

absl::Status CopyMergeSideFile(const std::string& from, const std::string& to) {
  LIGER_ASSIGN_OR_RETURN(std::string contents, ReadFileToString(from));
  return WriteFileAtomically(to, contents);
}

}  // namespace

absl::Status WriteMergedModel(const std::string& model_dir, const LoraAdapters& adapters,
                              const std::string& out_dir) {
  LIGER_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(model_dir));
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointWeights> checkpoint,
                         CheckpointWeights::Open(model_dir));
  // Owns the replaced tensors while writing.
  LIGER_ASSIGN_OR_RETURN(const auto merged,
                         MergeAdapterWeights(*checkpoint, config, adapters));
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
