#include "core/jobs/fine_tune_submission_check.h"

#include <sys/stat.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"
#include "core/model/model_config.h"
#include "core/train/fine_tune_validation.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

// NOT_FOUND unless `path` (the value of `option`) exists; INVALID_ARGUMENT
// unless it is a directory (want_directory) or a regular file.
absl::Status SubmissionPathExists(const std::string& path, absl::string_view option,
                                  bool want_directory) {
  struct stat info;
  LIGER_ASSIGN_OR_RETURN(bool exists, StatIfExists(path, &info));
  if (!exists) return absl::NotFoundError(absl::StrCat(option, " ", path, " does not exist"));
  if (want_directory && !S_ISDIR(info.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(option, " ", path, " is not a directory"));
  }
  if (!want_directory && !S_ISREG(info.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(option, " ", path, " is not a regular file"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckFineTuneSubmission(const FineTuneOptions& options) {
  LIGER_RETURN_IF_ERROR(ValidateFineTuneOptions(options));
  LIGER_RETURN_IF_ERROR(SubmissionPathExists(options.model_dir, "model_dir", true));
  // Options that only make sense for some models are refused now, not when the job starts.
  LIGER_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(options.model_dir));
  LIGER_RETURN_IF_ERROR(ValidateFineTuneModel(options, config));
  LIGER_RETURN_IF_ERROR(SubmissionPathExists(options.train_data, "train_data", false));
  if (!options.eval_data.empty()) {
    LIGER_RETURN_IF_ERROR(SubmissionPathExists(options.eval_data, "eval_data", false));
  }
  LIGER_ASSIGN_OR_RETURN(bool output_exists, StatIfExists(options.output_dir));
  if (output_exists) {
    return absl::AlreadyExistsError(
        absl::StrCat("output_dir ", options.output_dir, " already exists"));
  }
  return absl::OkStatus();
}

}  // namespace liger
