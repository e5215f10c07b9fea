#pragma once

#include "absl/status/status.h"
#include "core/train/fine_tune.h"
#include "nlohmann/json.hpp"

namespace liger {

// The options that decide a run's trajectory, which a resumed run must share with the run that
// wrote the checkpoint. Paths are made absolute so that a resume from another working directory
// matches; the training data is compared by content instead (see PackedSequences::Checksum).
// Where to evaluate, save or run (eval_*, save_every_steps, device) may change.
nlohmann::json ResumeOptionsJson(const FineTuneOptions& options);

// FAILED_PRECONDITION naming the first option whose value differs from `saved`, with both values.
absl::Status CheckResumeOptions(const nlohmann::json& saved, const FineTuneOptions& options);

}  // namespace liger
