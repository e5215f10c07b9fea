#pragma once

#include <cstdint>

#include "core/train/fine_tune.h"

namespace liger {

// The learning rate of each optimizer step: a linear warm-up from base/warmup_steps to base over
// the first warmup_steps steps, then either constant or a cosine decay from base that would reach
// zero one step after the last.
class LearningRatePlan {
 public:
  LearningRatePlan(double base, LearningRateSchedule schedule, int64_t warmup_steps,
                   int64_t total_steps)
      : base_(base), schedule_(schedule), warmup_steps_(warmup_steps), total_steps_(total_steps) {}

  // The rate of 1-based optimizer step `step`.
  double At(int64_t step) const;

 private:
  double base_;
  LearningRateSchedule schedule_;
  int64_t warmup_steps_;
  int64_t total_steps_;
};

}  // namespace liger
