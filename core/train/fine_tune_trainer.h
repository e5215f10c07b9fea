#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/transformer.h"
#include "core/train/collective_group.h"
#include "core/train/fine_tune.h"
#include "core/train/gradient_buckets.h"
#include "core/train/learning_rate_plan.h"
#include "core/train/lora_adapters.h"
#include "core/train/packed_sequences.h"
#include "core/train/training_checkpoint.h"

namespace liger {

// The optimisation loop of RunFineTune: AdamW over the adapter parameters, the learning-rate plan,
// gradient accumulation and clipping, periodic evaluation, and checkpoints in
// FineTuneResumeDir(options.output_dir). With options.distill_weight > 0 the training loss adds
// λ · KL(teacher ‖ student) per trained token, `teacher` (then required) giving the target
// distributions. The model, teacher, adapters and data must outlive it.
//
// With a `group` of several ranks (data parallelism) every rank holds the whole data and walks the
// same order; each step's micro-batches are dealt round-robin to the ranks, and the gradients are
// summed over them during the backward pass (GradientBuckets), so the step is the one a single
// process would take with the same options, whatever the number of ranks. Evaluation is split the
// same way. Ranks agree after every step whether to stop; rank 0 alone writes checkpoints.
class FineTuneTrainer {
 public:
  FineTuneTrainer(const FineTuneOptions& options, const Transformer& model,
                  const Transformer* teacher, LoraAdapters& adapters, const PackedSequences& train,
                  const PackedSequences* eval, CollectiveGroup* group = nullptr);

  // Starts from scratch: seeds the random generators that LoRA dropout draws from.
  void SeedRandomness();
  // Continues after a checkpoint whose options and data the caller has matched with this run's.
  // DATA_LOSS when it does not fit this run (e.g. a position beyond the data).
  absl::Status Restore(const TrainingCheckpoint& checkpoint);
  // Gives every rank rank 0's adapter parameters (a no-op without a group).
  absl::Status BroadcastParameters();

  // Trains up to total_steps(), reporting each step to `on_progress` (may be empty). When
  // `stop_requested` (may be empty) turns true, polled before every micro-batch (with a group: after
  // every step, on any rank), or the callback fails, writes a checkpoint of the last completed step
  // and returns CANCELLED or the callback's status.
  absl::Status Train(const FineTuneProgressCallback& on_progress,
                     const std::function<bool()>& stop_requested);

  int64_t total_steps() const { return total_steps_; }
  const FineTuneProgress& progress() const { return progress_; }

 private:
  // One optimizer step; false when stopped before it completed (nothing is then changed but the
  // gradients).
  absl::StatusOr<bool> Step(const std::function<bool()>& stop_requested);
  // Sums over the trained labels of one micro-batch: `objective` (with its graph) is the
  // cross-entropy plus λ times `distill_kl`, which is undefined when not distilling.
  struct SummedTrainingLoss {
    torch::Tensor objective;
    torch::Tensor distill_kl;
  };

  // Sum of the cross-entropy over the trained labels of one micro-batch.
  absl::StatusOr<torch::Tensor> SummedLoss(const torch::Tensor& inputs, const torch::Tensor& labels);
  absl::StatusOr<SummedTrainingLoss> SummedDistillationLoss(const torch::Tensor& inputs,
                                                            const torch::Tensor& labels);
  absl::StatusOr<double> EvalPerplexity();
  void CaptureRandomness();
  // With a group, LoRA dropout draws from generators seeded by (seed, rank, step) at each step, so
  // a resumed run needs no per-rank generator state.
  void SeedRandomnessForStep();
  // Whether micro-batch `index` of a step (or of the evaluation) is this rank's.
  bool OwnsMicroBatch(int64_t index) const;
  // The sums of `values` over the ranks (the values themselves without a group).
  absl::StatusOr<std::vector<double>> SumOverRanks(std::vector<double> values);
  TrainingCheckpoint Snapshot() const;
  // Rank 0 writes; every rank returns an error when it failed.
  absl::Status SaveCheckpoint();

  const FineTuneOptions& options_;
  const Transformer& model_;
  const Transformer* teacher_;
  LoraAdapters& adapters_;
  const PackedSequences& train_;
  const PackedSequences* eval_;
  CollectiveGroup* group_;  // null, or several ranks
  torch::Device device_;
  std::vector<std::pair<std::string, torch::Tensor>> parameters_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::unique_ptr<GradientBuckets> gradient_buckets_;  // with a group
  int64_t steps_per_epoch_;
  int64_t total_steps_;
  LearningRatePlan learning_rate_;

  int64_t epoch_ = 0;  // 0-based
  int64_t next_sequence_ = 0;
  std::vector<int64_t> order_;
  FineTuneProgress progress_;
  // The generators' states after the last completed step, which a checkpoint records.
  torch::Tensor cpu_rng_state_;
  torch::Tensor device_rng_state_;
};

}  // namespace liger
