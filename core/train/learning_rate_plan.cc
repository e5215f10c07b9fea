#include "core/train/learning_rate_plan.h"

#include <algorithm>
#include <cmath>

namespace liger {

double LearningRatePlan::At(int64_t step) const {
  if (step <= warmup_steps_) {
    return base_ * static_cast<double>(step) / static_cast<double>(warmup_steps_);
  }
  if (schedule_ == LearningRateSchedule::kConstant) return base_;
  const int64_t decay_steps = std::max<int64_t>(total_steps_ - warmup_steps_, 1);
  const double progress =
      std::min(1.0, static_cast<double>(step - warmup_steps_ - 1) / static_cast<double>(decay_steps));
  return base_ * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace liger
