#include "core/train/gradient_buckets.h"

#include <utility>

#include "core/util/status_macros.h"

namespace liger {

GradientBuckets::GradientBuckets(std::vector<torch::Tensor> parameters, CollectiveGroup& group,
                                 int64_t bucket_bytes)
    : parameters_(std::move(parameters)), group_(group), bucket_of_(parameters_.size()) {
  // Reverse order, grouped by dtype (a bucket is one flat tensor).
  int64_t bucket_used = 0;
  for (int64_t i = static_cast<int64_t>(parameters_.size()) - 1; i >= 0; --i) {
    const torch::Tensor& parameter = parameters_[i];
    const int64_t bytes = parameter.numel() * static_cast<int64_t>(parameter.element_size());
    const bool fits =
        !buckets_.empty() && bucket_used + bytes <= bucket_bytes &&
        parameters_[buckets_.back().members.front()].scalar_type() == parameter.scalar_type();
    if (!fits) {
      buckets_.emplace_back();
      bucket_used = 0;
    }
    buckets_.back().members.push_back(i);
    bucket_used += bytes;
    bucket_of_[i] = static_cast<int64_t>(buckets_.size()) - 1;
  }
  slots_.resize(parameters_.size());
  for (Bucket& bucket : buckets_) {
    int64_t total = 0;
    for (int64_t member : bucket.members) total += parameters_[member].numel();
    bucket.pending = static_cast<int64_t>(bucket.members.size());
    const torch::Tensor& first = parameters_[bucket.members.front()];
    bucket.flat = torch::zeros({total}, first.options().device(group_.device()).requires_grad(false));
    int64_t offset = 0;
    for (int64_t member : bucket.members) {
      const torch::Tensor& parameter = parameters_[member];
      slots_[member] = bucket.flat.narrow(0, offset, parameter.numel()).view(parameter.sizes());
      offset += parameter.numel();
    }
  }
  filled_.assign(parameters_.size(), false);
  for (size_t i = 0; i < parameters_.size(); ++i) {
    hooks_.push_back(parameters_[i].register_hook(
        [this, i](const torch::Tensor& grad) { OnGradient(static_cast<int64_t>(i), grad); }));
  }
}

GradientBuckets::~GradientBuckets() {
  for (size_t i = 0; i < parameters_.size(); ++i) parameters_[i].remove_hook(hooks_[i]);
}

void GradientBuckets::Arm() {
  absl::MutexLock lock(&mutex_);
  armed_ = true;
}

void GradientBuckets::FillSlot(int64_t index, const torch::Tensor& grad) {
  torch::NoGradGuard no_grad;
  const torch::Tensor& accumulated = parameters_[index].grad();
  torch::Tensor& slot = slots_[index];
  if (accumulated.defined() && grad.defined()) {
    torch::add_out(slot, accumulated, grad);
  } else if (accumulated.defined() || grad.defined()) {
    slot.copy_(accumulated.defined() ? accumulated : grad);
  } else {
    slot.zero_();
  }
  filled_[index] = true;
  --buckets_[bucket_of_[index]].pending;
}

// Runs before autograd adds `grad` to the parameter's .grad: the slot gets the sum of both, and
// Finish later overwrites .grad with the slot's all-reduced value.
void GradientBuckets::OnGradient(int64_t index, const torch::Tensor& grad) {
  absl::MutexLock lock(&mutex_);
  if (!armed_ || filled_[index]) return;
  FillSlot(index, grad);
  StartReadyBuckets();
}

void GradientBuckets::StartReadyBuckets() {
  while (next_to_start_ < buckets_.size() && buckets_[next_to_start_].pending == 0) {
    Bucket& bucket = buckets_[next_to_start_++];
    if (!error_.ok()) continue;
    absl::StatusOr<std::unique_ptr<CollectiveWork>> work = group_.StartAllReduceSum(bucket.flat);
    if (work.ok()) {
      bucket.work = *std::move(work);
    } else {
      error_ = work.status();
    }
  }
}

absl::Status GradientBuckets::Finish() {
  absl::MutexLock lock(&mutex_);
  // Slots still empty: parameters without a gradient, or all of them when no micro-batch of this
  // step fell to this rank (it still joins every bucket's all-reduce).
  for (size_t i = 0; i < parameters_.size(); ++i) {
    if (!filled_[i]) FillSlot(static_cast<int64_t>(i), torch::Tensor());
  }
  StartReadyBuckets();
  absl::Status status = error_;
  for (Bucket& bucket : buckets_) {
    if (bucket.work != nullptr && status.ok()) status = bucket.work->Wait();
    bucket.work.reset();
    bucket.pending = static_cast<int64_t>(bucket.members.size());
  }
  armed_ = false;
  next_to_start_ = 0;
  error_ = absl::OkStatus();
  filled_.assign(parameters_.size(), false);
  LIGER_RETURN_IF_ERROR(status);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    torch::Tensor& parameter = parameters_[i];
    if (parameter.grad().defined()) {
      parameter.mutable_grad().copy_(slots_[i]);
    } else {
      parameter.mutable_grad() = slots_[i].clone();
    }
  }
  return absl::OkStatus();
}

}  // namespace liger
