#pragma once

#include "absl/status/status.h"
#include "core/train/fine_tune.h"

namespace liger {

// The checks a fine-tuning job must pass before it is queued, so that a bad
// request is refused at once instead of failing later in the queue:
// ValidateFineTuneOptions (INVALID_ARGUMENT naming the option), then NOT_FOUND
// for a missing model directory or data file, INVALID_ARGUMENT for one of the
// wrong kind, the model directory's config errors and ValidateFineTuneModel
// (e.g. FAILED_PRECONDITION for distillation of an unconverted model),
// ALREADY_EXISTS for an output directory that exists. RunFineTune
// checks again when the job runs (files may change while it waits).
absl::Status CheckFineTuneSubmission(const FineTuneOptions& options);

}  // namespace liger
