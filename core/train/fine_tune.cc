#include "core/train/fine_tune.h"

#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "core/convert/staging_directory.h"
#include "core/io/file_util.h"
#include "core/io/sibling_path.h"
#include "core/model/model_loader.h"
#include "core/tokenizer/tokenizer_loader.h"
#include "core/train/fine_tune_trainer.h"
#include "core/train/fine_tune_validation.h"
#include "core/train/lora_adapters.h"
#include "core/train/packed_sequences.h"
#include "core/train/resume_options.h"
#include "core/train/training_checkpoint.h"
#include "core/train/training_documents.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

std::string FineTunePathTrimmed(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// Fails before any training when the run could not publish or would clobber another run's
// checkpoint: the output must not exist, its parent must, and a fresh run must not find a
// checkpoint in the resume directory (which only `resume` may continue; an empty one, left by a
// crash before the first checkpoint was committed, is reused).
absl::Status CheckFineTuneOutput(const FineTuneOptions& options, const std::string& resume_dir) {
  const std::string output = FineTunePathTrimmed(options.output_dir);
  LIGER_ASSIGN_OR_RETURN(bool output_exists, StatIfExists(output, nullptr, StatLinks::kNoFollow));
  if (output_exists) return absl::AlreadyExistsError(absl::StrCat(output, " already exists"));
  LIGER_ASSIGN_OR_RETURN(SiblingPath sibling, SplitSiblingPath(output, "an output directory"));
  struct stat parent;
  LIGER_ASSIGN_OR_RETURN(bool parent_exists, StatIfExists(sibling.dir, &parent));
  if (!parent_exists) {
    return absl::NotFoundError(absl::StrCat("the parent directory ", sibling.dir, " of ", output,
                                            " does not exist"));
  }
  if (!S_ISDIR(parent.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(sibling.dir, " is not a directory"));
  }
  if (!options.resume) {
    LIGER_ASSIGN_OR_RETURN(bool checkpoint_exists, HasTrainingCheckpoint(resume_dir));
    if (checkpoint_exists) {
      return absl::AlreadyExistsError(
          absl::StrCat(resume_dir, " holds the checkpoint of an interrupted run; resume it, or "
                                   "remove it to start over"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PackedSequences> LoadFineTuneData(const std::string& path,
                                                 const Tokenizer& tokenizer,
                                                 int64_t sequence_length) {
  LIGER_ASSIGN_OR_RETURN(std::vector<TrainingDocument> documents,
                         ReadTrainingDocuments(path, tokenizer));
  return PackedSequences::Pack(documents, sequence_length, path);
}

// Writes the merged model and the adapter beside it, publishes them at output_dir and drops the
// resume checkpoint, which the published output supersedes.
absl::Status PublishFineTune(const FineTuneOptions& options, const LoraAdapters& adapters,
                             const std::string& resume_dir) {
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<StagingDirectory> staging,
                         StagingDirectory::Create(options.output_dir));
  LIGER_RETURN_IF_ERROR(WriteMergedModel(options.model_dir, adapters, staging->path()));
  LIGER_RETURN_IF_ERROR(adapters.SaveAdapter(staging->path(), options.model_dir));
  LIGER_RETURN_IF_ERROR(staging->Publish());
  std::error_code ignored;  // a leftover checkpoint only blocks a fresh run of a published output
  std::filesystem::remove_all(resume_dir, ignored);
  return absl::OkStatus();
}

absl::StatusOr<FineTuneResult> RunFineTuneUnguarded(
    const FineTuneOptions& options, const FineTuneProgressCallback& on_progress,
    const std::function<bool()>& stop_requested) {
  LIGER_RETURN_IF_ERROR(ValidateFineTuneOptions(options));
  ModelLoadOptions load;
  LIGER_ASSIGN_OR_RETURN(load.dtype, ParseComputeDType(options.dtype));
  LIGER_ASSIGN_OR_RETURN(load.device, ParseDevice(options.device));
  const std::string resume_dir = FineTuneResumeDir(options.output_dir);
  LIGER_RETURN_IF_ERROR(CheckFineTuneOutput(options, resume_dir));
  std::optional<TrainingCheckpoint> checkpoint;
  if (options.resume) {
    LIGER_ASSIGN_OR_RETURN(checkpoint, LoadTrainingCheckpoint(resume_dir));
    LIGER_RETURN_IF_ERROR(CheckResumeOptions(checkpoint->options, options));
  }
  LIGER_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(options.model_dir));
  LIGER_RETURN_IF_ERROR(ValidateFineTuneModel(options, config));
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, LoadTokenizer(options.model_dir));
  LIGER_ASSIGN_OR_RETURN(PackedSequences train,
                         LoadFineTuneData(options.train_data, *tokenizer, options.sequence_length));
  std::optional<PackedSequences> eval;
  if (!options.eval_data.empty()) {
    LIGER_ASSIGN_OR_RETURN(eval,
                           LoadFineTuneData(options.eval_data, *tokenizer, options.sequence_length));
  }
  if (checkpoint && checkpoint->data_checksum != train.Checksum()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "option train_data: ", options.train_data,
        " no longer holds the data the checkpoint being resumed was trained on"));
  }
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<Transformer> model, LoadModel(options.model_dir, load));
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<LoraAdapters> adapters,
                         LoraAdapters::Create(model->config(), options.lora, load.device,
                                              options.seed));
  // The teacher shares the model's weight tensors, so it costs no memory but its activations.
  std::unique_ptr<Transformer> teacher;
  if (options.distill_weight > 0) teacher = model->WithSoftmaxAttention();
  FineTuneTrainer trainer(options, *model, teacher.get(), *adapters, train,
                          eval ? &*eval : nullptr);
  if (checkpoint) {
    LIGER_RETURN_IF_ERROR(trainer.Restore(*checkpoint));
  } else {
    trainer.SeedRandomness();
  }
  LIGER_RETURN_IF_ERROR(trainer.Train(on_progress, stop_requested));
  LIGER_RETURN_IF_ERROR(PublishFineTune(options, *adapters, resume_dir));
  FineTuneResult result;
  result.output_dir = FineTunePathTrimmed(options.output_dir);
  result.final_progress = trainer.progress();
  return result;
}

}  // namespace

absl::StatusOr<bool> HasFineTuneCheckpoint(const std::string& output_dir) {
  return HasTrainingCheckpoint(FineTuneResumeDir(output_dir));
}

std::string FineTuneResumeDir(const std::string& output_dir) {
  return FineTunePathTrimmed(output_dir) + ".resume";
}

absl::StatusOr<FineTuneResult> RunFineTune(const FineTuneOptions& options,
                                           const FineTuneProgressCallback& on_progress,
                                           const std::function<bool()>& stop_requested) {
  try {
    return RunFineTuneUnguarded(options, on_progress, stop_requested);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("fine-tuning failed: ", e.what_without_backtrace()));
  }
}

}  // namespace liger
