#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/train/training_documents.h"

namespace liger {

// The label of a position that is not trained (cross-entropy's ignore_index).
inline constexpr int64_t kUntrainedLabel = -100;

// Training documents concatenated in order into one token stream and cut into sequences of
// sequence_length + 1 tokens, each starting where the previous one's inputs end: sequence i holds
// stream[i*L, i*L + L], its inputs are the first L tokens and its labels the last L, so every
// token after the first is a label exactly once. Sequences whose labels are all untrained are
// dropped; the incomplete tail is dropped.
class PackedSequences {
 public:
  // INVALID_ARGUMENT naming `source` (the data file) when no sequence can be formed.
  static absl::StatusOr<PackedSequences> Pack(const std::vector<TrainingDocument>& documents,
                                              int64_t sequence_length, const std::string& source);

  int64_t size() const { return static_cast<int64_t>(starts_.size()); }
  int64_t sequence_length() const { return sequence_length_; }

  // Inputs and labels, each [indices.size(), L] int64 on the CPU; untrained labels are
  // kUntrainedLabel. Indices must be in [0, size()).
  std::pair<torch::Tensor, torch::Tensor> Batch(absl::Span<const int64_t> indices) const;
  // How many labels of those sequences are trained (at least one per sequence).
  int64_t TrainedLabels(absl::Span<const int64_t> indices) const;
  // A checksum of the sequences (tokens and which are trained), so that a resumed run can tell
  // that its data is the data it started with.
  uint32_t Checksum() const;

 private:
  PackedSequences() = default;

  int64_t sequence_length_ = 0;
  std::vector<int32_t> tokens_;
  std::vector<uint8_t> trained_;
  std::vector<int64_t> starts_;          // of each kept sequence in tokens_
  std::vector<int64_t> trained_labels_;  // per kept sequence
};

}  // namespace liger
