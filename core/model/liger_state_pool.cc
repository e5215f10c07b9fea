#include "core/model/liger_state_pool.h"

#include <utility>

namespace liger {
namespace {

constexpr int64_t kInitialRows = 4;

int64_t Elements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t size : shape) n *= size;
  return n;
}

// [rows, shape...] zeros.
torch::Tensor Rows(int64_t rows, const std::vector<int64_t>& shape, const torch::TensorOptions& options) {
  std::vector<int64_t> sizes = {rows};
  sizes.insert(sizes.end(), shape.begin(), shape.end());
  return torch::zeros(sizes, options);
}

// `rows` rows of zeros with the old tensor's rows copied in front.
torch::Tensor Grown(const torch::Tensor& old, int64_t rows) {
  std::vector<int64_t> sizes = old.sizes().vec();
  sizes[0] = rows;
  torch::Tensor grown = torch::zeros(sizes, old.options());
  grown.narrow(0, 0, old.size(0)).copy_(old);
  return grown;
}

}  // namespace

LigerStatePool::LigerStatePool(std::vector<int64_t> memory_shape,
                               std::vector<int64_t> slot_memory_shape,
                               std::vector<int64_t> ring_shape, torch::Device device,
                               torch::ScalarType ring_dtype)
    : memory_shape_(std::move(memory_shape)),
      slot_memory_shape_(std::move(slot_memory_shape)),
      ring_shape_(std::move(ring_shape)),
      device_(device),
      ring_dtype_(ring_dtype),
      row_bytes_((Elements(memory_shape_) +
                  (slot_memory_shape_.empty() ? 0 : Elements(slot_memory_shape_))) *
                     static_cast<int64_t>(sizeof(float)) +
                 2 * Elements(ring_shape_) * static_cast<int64_t>(c10::elementSize(ring_dtype))) {
  const auto state_options = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
  const auto ring_options = torch::TensorOptions().dtype(ring_dtype_).device(device_);
  absl::MutexLock lock(&mu_);
  memory_ = Rows(kInitialRows, memory_shape_, state_options);
  if (!slot_memory_shape_.empty()) slot_memory_ = Rows(kInitialRows, slot_memory_shape_, state_options);
  ring_k_ = Rows(kInitialRows, ring_shape_, ring_options);
  ring_v_ = Rows(kInitialRows, ring_shape_, ring_options);
  for (int64_t row = kInitialRows - 1; row >= 0; --row) free_rows_.push_back(row);
}

int64_t LigerStatePool::Acquire() {
  absl::MutexLock lock(&mu_);
  if (free_rows_.empty()) Grow();
  const int64_t row = free_rows_.back();
  free_rows_.pop_back();
  // Released rows keep their last sequence's data.
  memory_.select(0, row).zero_();
  if (slot_memory_.defined()) slot_memory_.select(0, row).zero_();
  ring_k_.select(0, row).zero_();
  ring_v_.select(0, row).zero_();
  return row;
}

void LigerStatePool::Release(int64_t row) {
  absl::MutexLock lock(&mu_);
  free_rows_.push_back(row);
}

int64_t LigerStatePool::capacity() const {
  absl::MutexLock lock(&mu_);
  return memory_.size(0);
}

void LigerStatePool::Grow() {
  const int64_t old_rows = memory_.size(0), rows = 2 * old_rows;
  memory_ = Grown(memory_, rows);
  if (slot_memory_.defined()) slot_memory_ = Grown(slot_memory_, rows);
  ring_k_ = Grown(ring_k_, rows);
  ring_v_ = Grown(ring_v_, rows);
  ++version_;
  // Lowest rows first, so that live rows stay packed at the front.
  for (int64_t row = rows - 1; row >= old_rows; --row) free_rows_.push_back(row);
}

}  // namespace liger
