#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace liger {

// AdamW's state for one parameter.
struct AdamMoments {
  int64_t steps = 0;
  torch::Tensor exp_avg;
  torch::Tensor exp_avg_sq;
};

// Everything a fine-tuning run needs to continue after `step` optimizer steps exactly as if it had
// not stopped.
struct TrainingCheckpoint {
  int64_t step = 0;
  int64_t epoch = 0;          // 0-based epoch the next sequence comes from
  int64_t next_sequence = 0;  // position of the next sequence in that epoch's order
  int64_t tokens_processed = 0;
  std::optional<double> eval_perplexity;
  uint32_t data_checksum = 0;  // PackedSequences::Checksum of the training data
  nlohmann::json options;      // ResumeOptionsJson
  std::vector<std::pair<std::string, torch::Tensor>> adapter;  // LoraAdapters::NamedParameters
  std::map<std::string, AdamMoments> optimizer;                // by adapter parameter name
  torch::Tensor cpu_rng_state;                                 // uint8
  torch::Tensor device_rng_state;  // uint8, of the CUDA device trained on; undefined on the CPU
};

// Writes <dir>/checkpoint.safetensors (tensors on any device; the metadata as JSON), creating
// `dir` if needed and replacing the previous checkpoint atomically, so a crash leaves either the
// old or the new one. Write errors are AtomicFileWriter's (RESOURCE_EXHAUSTED on a full disk);
// a `dir` this call created is removed again when it fails.
absl::Status SaveTrainingCheckpoint(const std::string& dir, const TrainingCheckpoint& checkpoint);

// Whether `dir` holds a checkpoint file. A directory without one (left by a crash between creating
// it and committing the first checkpoint) holds nothing to resume. Errors are stat's.
absl::StatusOr<bool> HasTrainingCheckpoint(const std::string& dir);

// Reads what SaveTrainingCheckpoint wrote, tensors on the CPU. NOT_FOUND when `dir` holds no
// checkpoint; DATA_LOSS naming the file when it is corrupt or incomplete.
absl::StatusOr<TrainingCheckpoint> LoadTrainingCheckpoint(const std::string& dir);

}  // namespace liger
