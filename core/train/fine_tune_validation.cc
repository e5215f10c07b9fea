#include "core/train/fine_tune_validation.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/train/lora_options.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

absl::Status BadFineTuneOption(absl::string_view name, absl::string_view requirement,
                               const std::string& value) {
  return absl::InvalidArgumentError(
      absl::StrCat("option ", name, " must be ", requirement, ", got ", value));
}

bool InHalfOpenUnit(double value) { return value >= 0 && value < 1; }

}  // namespace

absl::Status ValidateFineTuneOptions(const FineTuneOptions& o) {
  if (o.model_dir.empty()) return absl::InvalidArgumentError("option model_dir is required");
  if (o.output_dir.empty()) return absl::InvalidArgumentError("option output_dir is required");
  if (o.train_data.empty()) return absl::InvalidArgumentError("option train_data is required");
  LIGER_RETURN_IF_ERROR(ValidateLoraOptions(o.lora));
  if (!(o.learning_rate > 0) || !std::isfinite(o.learning_rate)) {
    return BadFineTuneOption("learning_rate", "positive and finite", absl::StrCat(o.learning_rate));
  }
  if (o.schedule != LearningRateSchedule::kConstant && o.schedule != LearningRateSchedule::kCosine) {
    return absl::InvalidArgumentError("option schedule must be constant or cosine");
  }
  if (o.warmup_steps < 0) {
    return BadFineTuneOption("warmup_steps", ">= 0", absl::StrCat(o.warmup_steps));
  }
  if (!InHalfOpenUnit(o.adam_beta1)) {
    return BadFineTuneOption("adam_beta1", "in [0, 1)", absl::StrCat(o.adam_beta1));
  }
  if (!InHalfOpenUnit(o.adam_beta2)) {
    return BadFineTuneOption("adam_beta2", "in [0, 1)", absl::StrCat(o.adam_beta2));
  }
  if (!(o.weight_decay >= 0) || !std::isfinite(o.weight_decay)) {
    return BadFineTuneOption("weight_decay", ">= 0 and finite", absl::StrCat(o.weight_decay));
  }
  if (!(o.max_grad_norm >= 0) || !std::isfinite(o.max_grad_norm)) {
    return BadFineTuneOption("max_grad_norm", ">= 0 and finite", absl::StrCat(o.max_grad_norm));
  }
  if (o.max_steps < 0) return BadFineTuneOption("max_steps", ">= 0", absl::StrCat(o.max_steps));
  if (o.epochs < 0 || (o.epochs == 0 && o.max_steps == 0)) {
    return BadFineTuneOption("epochs", "positive (or 0 with max_steps set)",
                             absl::StrCat(o.epochs));
  }
  if (o.micro_batch_size < 1) {
    return BadFineTuneOption("micro_batch_size", "positive", absl::StrCat(o.micro_batch_size));
  }
  if (o.gradient_accumulation_steps < 1) {
    return BadFineTuneOption("gradient_accumulation_steps", "positive",
                             absl::StrCat(o.gradient_accumulation_steps));
  }
  if (o.sequence_length < 1) {
    return BadFineTuneOption("sequence_length", "positive", absl::StrCat(o.sequence_length));
  }
  if (o.eval_every_steps < 0) {
    return BadFineTuneOption("eval_every_steps", ">= 0", absl::StrCat(o.eval_every_steps));
  }
  if (o.save_every_steps < 0) {
    return BadFineTuneOption("save_every_steps", ">= 0", absl::StrCat(o.save_every_steps));
  }
  if (!(o.distill_weight >= 0) || !std::isfinite(o.distill_weight)) {
    return BadFineTuneOption("distill_weight", ">= 0 and finite", absl::StrCat(o.distill_weight));
  }
  if (o.data_parallel_ranks < 1 || o.data_parallel_ranks > 64) {
    return BadFineTuneOption("data_parallel_ranks", "in [1, 64]",
                             absl::StrCat(o.data_parallel_ranks));
  }
  if (o.data_parallel_ranks > 1 && o.device != "cuda" && o.device != "cpu") {
    return BadFineTuneOption("device", "\"cuda\" or \"cpu\" with data_parallel_ranks > 1 (rank r "
                             "takes cuda:r)", o.device);
  }
  return absl::OkStatus();
}

absl::Status ValidateFineTuneModel(const FineTuneOptions& o, const ModelConfig& config) {
  if (o.sequence_length > config.max_position_embeddings) {
    return absl::InvalidArgumentError(absl::StrCat(
        "option sequence_length (", o.sequence_length,
        ") exceeds the model's max_position_embeddings (", config.max_position_embeddings, ")"));
  }
  if (o.distill_weight > 0 && !config.liger) {
    return absl::FailedPreconditionError(absl::StrCat(
        "option distill_weight: distill needs a converted model, and ", o.model_dir,
        " is not a Liger conversion (its softmax teacher would be the model itself)"));
  }
  return absl::OkStatus();
}

}  // namespace liger
