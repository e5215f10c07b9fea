#pragma once

#include <memory>
#include <vector>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace liger {

// A collective operation in flight; Wait() makes later work on the calling thread's device stream
// see its result.
class CollectiveWork {
 public:
  virtual ~CollectiveWork() = default;
  virtual absl::Status Wait() = 0;
};

// The ranks of one data-parallel run. Every rank must issue the same collectives in the same order
// (as with any torch.distributed process group). A peer that fails or goes away surfaces as
// UNAVAILABLE, a peer that stops answering as DEADLINE_EXCEEDED after the group's timeout.
class CollectiveGroup {
 public:
  virtual ~CollectiveGroup() = default;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Where tensors handed to the collectives must live (the rank's GPU for NCCL, the CPU for Gloo).
  virtual torch::Device device() const = 0;

  // Starts replacing `tensor` (contiguous, on device()) by its sum over the ranks.
  virtual absl::StatusOr<std::unique_ptr<CollectiveWork>> StartAllReduceSum(
      torch::Tensor tensor) = 0;
  // Replaces each tensor by rank 0's.
  virtual absl::Status Broadcast(std::vector<torch::Tensor> tensors) = 0;

  // The element-wise sum over the ranks of each rank's `values` (all ranks pass as many).
  absl::StatusOr<std::vector<double>> SumAcross(const std::vector<double>& values);
  // Whether any rank passes true.
  absl::StatusOr<bool> AnyAcross(bool value);
};

// Marks `status` as one that only reports another rank's failure, so that a caller holding every
// rank's status (ranks as threads) can report the cause instead.
absl::Status AnotherRanksFailure(absl::Status status);
bool IsAnotherRanksFailure(const absl::Status& status);

}  // namespace liger
