#include "core/train/resume_options.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace liger {
namespace {

std::string ResumeAbsolutePath(const std::string& path) {
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::weakly_canonical(path, error);
  return error ? path : absolute.string();
}

}  // namespace

nlohmann::json ResumeOptionsJson(const FineTuneOptions& o) {
  return nlohmann::json{
      {"model_dir", ResumeAbsolutePath(o.model_dir)},
      {"lora.rank", o.lora.rank},
      {"lora.alpha", o.lora.alpha},
      {"lora.dropout", o.lora.dropout},
      {"lora.target_modules", o.lora.target_modules},
      {"learning_rate", o.learning_rate},
      {"schedule", o.schedule == LearningRateSchedule::kCosine ? "cosine" : "constant"},
      {"warmup_steps", o.warmup_steps},
      {"adam_beta1", o.adam_beta1},
      {"adam_beta2", o.adam_beta2},
      {"weight_decay", o.weight_decay},
      {"max_grad_norm", o.max_grad_norm},
      {"epochs", o.epochs},
      {"max_steps", o.max_steps},
      {"micro_batch_size", o.micro_batch_size},
      {"gradient_accumulation_steps", o.gradient_accumulation_steps},
      {"sequence_length", o.sequence_length},
      {"dtype", o.dtype},
      {"seed", o.seed},
      {"distill_weight", o.distill_weight},
  };
}

absl::Status CheckResumeOptions(const nlohmann::json& saved, const FineTuneOptions& options) {
  const nlohmann::json now = ResumeOptionsJson(options);
  // Options added after checkpoints were first written, with the value that a checkpoint which
  // lacks them was trained with.
  static const nlohmann::json kResumeOptionsAddedLater = {{"distill_weight", 0.0}};
  for (const auto& [name, value] : now.items()) {
    const nlohmann::json* before = nullptr;
    if (auto it = saved.find(name); it != saved.end()) {
      before = &*it;
    } else if (auto added = kResumeOptionsAddedLater.find(name);
               added != kResumeOptionsAddedLater.end()) {
      before = &*added;
    }
    if (before == nullptr || *before != value) {
      return absl::FailedPreconditionError(
          absl::StrCat("option ", name, " differs from the checkpoint being resumed (checkpoint: ",
                       before == nullptr ? "(absent)" : before->dump(), ", now: ", value.dump(),
                       ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace liger
