#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/model_flags.h"
#include "core/io/safetensors_file.h"
#include "core/io/safetensors_writer.h"
#include "core/model/tensor_conversion.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

absl::StatusOr<torch::Tensor> ReadInputIds(const std::string& path) {
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file, SafetensorsFile::Open(path));
  const TensorView* view = file->Find("input_ids");
  if (view == nullptr) return absl::InvalidArgumentError(absl::StrCat(path, " has no tensor \"input_ids\""));
  if ((view->dtype != DType::kInt32 && view->dtype != DType::kInt64) || view->shape.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": input_ids must be a 2-d int32 or int64 tensor [B, T]"));
  }
  LIGER_ASSIGN_OR_RETURN(torch::Tensor ids, ToTensor(*view));
  return ids.to(torch::kInt64);
}

// Feeds every row one token at a time through the batched decode path.
absl::StatusOr<torch::Tensor> DecodeLogits(const CausalLM& model, const torch::Tensor& ids) {
  std::vector<std::unique_ptr<ModelState>> owned;
  std::vector<ModelState*> states;
  for (int64_t b = 0; b < ids.size(0); ++b) {
    owned.push_back(model.NewState());
    states.push_back(owned.back().get());
  }
  std::vector<torch::Tensor> steps;
  for (int64_t t = 0; t < ids.size(1); ++t) {
    LIGER_ASSIGN_OR_RETURN(torch::Tensor logits, model.DecodeStep(states, ids.select(1, t)));
    steps.push_back(logits.cpu());
  }
  return torch::stack(steps, 1);
}

}  // namespace

absl::Status RunLogitsCommand(const std::vector<std::string>& args) {
  std::set<std::string> known = AdaptedModelFlagNames();
  known.insert({"input", "output", "mode"});
  LIGER_ASSIGN_OR_RETURN(CommandLine cl, CommandLine::Parse(args, known));
  LIGER_ASSIGN_OR_RETURN(std::string input, cl.Required("input"));
  LIGER_ASSIGN_OR_RETURN(std::string output, cl.Required("output"));
  const std::string mode = cl.String("mode", "prefill");
  if (mode != "prefill" && mode != "decode") {
    return absl::InvalidArgumentError(absl::StrCat("--mode must be prefill or decode, got \"", mode, "\""));
  }
  LIGER_ASSIGN_OR_RETURN(torch::Tensor ids, ReadInputIds(input));
  if (ids.size(0) == 0 || ids.size(1) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(input, ": input_ids is empty"));
  }
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<Transformer> model, LoadModelFromFlags(cl));
  torch::Tensor logits;
  if (mode == "prefill") {
    LIGER_ASSIGN_OR_RETURN(logits, model->Forward(ids));
  } else {
    LIGER_ASSIGN_OR_RETURN(logits, DecodeLogits(*model, ids));
  }
  logits = logits.to(torch::kCPU, torch::kFloat32).contiguous();
  LIGER_ASSIGN_OR_RETURN(TensorView view, ViewOf(logits));
  LIGER_RETURN_IF_ERROR(WriteSafetensors(output, {{"logits", view}}));
  std::cout << "wrote logits [" << logits.size(0) << ", " << logits.size(1) << ", "
            << logits.size(2) << "] to " << output << "\n";
  return absl::OkStatus();
}

}  // namespace liger
