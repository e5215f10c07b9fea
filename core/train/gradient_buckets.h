#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/train/collective_group.h"

namespace liger {

// Sums the gradients of `parameters` over the ranks of a data-parallel run while the backward pass
// is still going. The parameters are packed into flat buckets of about `bucket_bytes`, in the
// reverse of their order (the order backward produces their gradients: last layer first); a
// bucket's all-reduce starts the moment its last gradient arrives, so communication overlaps the
// backward of the earlier layers. Buckets start in the same order on every rank, as collectives
// must, whatever order the gradients arrive in.
//
// Per optimizer step: Arm() before the backward of the step's last micro-batch (the earlier ones
// only accumulate locally), then Finish() after it. The parameters and the group must outlive it.
class GradientBuckets {
 public:
  GradientBuckets(std::vector<torch::Tensor> parameters, CollectiveGroup& group,
                  int64_t bucket_bytes);
  ~GradientBuckets();
  GradientBuckets(const GradientBuckets&) = delete;
  GradientBuckets& operator=(const GradientBuckets&) = delete;

  void Arm();
  // Starts every bucket not yet started (a parameter that got no gradient counts as zero), waits
  // for them all and leaves each parameter's grad holding the sum over the ranks. The first
  // collective failure, if any.
  absl::Status Finish();

  int64_t bucket_count() const { return static_cast<int64_t>(buckets_.size()); }

 private:
  struct Bucket {
    torch::Tensor flat;
    std::vector<int64_t> members;  // indices into parameters_
    int64_t pending = 0;           // members whose gradient has not arrived this step
    std::unique_ptr<CollectiveWork> work;
  };

  void OnGradient(int64_t index, const torch::Tensor& grad);
  // Copies the parameter's accumulated gradient (plus `grad`, when defined) into its slot.
  void FillSlot(int64_t index, const torch::Tensor& grad) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void StartReadyBuckets() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  std::vector<torch::Tensor> parameters_;
  CollectiveGroup& group_;
  std::vector<Bucket> buckets_;
  std::vector<int64_t> bucket_of_;  // per parameter
  std::vector<torch::Tensor> slots_;  // per parameter: its view into its bucket
  std::vector<unsigned> hooks_;

  absl::Mutex mutex_;
  bool armed_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<bool> filled_ ABSL_GUARDED_BY(mutex_);
  size_t next_to_start_ ABSL_GUARDED_BY(mutex_) = 0;
  absl::Status error_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace liger
