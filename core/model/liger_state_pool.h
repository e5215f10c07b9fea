#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace liger {

// The states of every live sequence of one Liger layer, as rows of shared tensors: a decode step
// gathers and scatters its batch's rows with one indexed op per tensor, whatever the batch size,
// instead of a few ops per sequence. Rows are handed out by Acquire (zeroed) and returned by
// Release; when none is free the tensors double, which moves every row, so anyone touching the
// tensors or a row's views holds mutex() from the first read to the last write.
class LigerStatePool {
 public:
  // Row shapes: memory [KV, K, V] float32, slot_memory (GSA only; empty shape for none) float32,
  // ring [KV, window, D] in the activations' dtype, all on `device`.
  LigerStatePool(std::vector<int64_t> memory_shape, std::vector<int64_t> slot_memory_shape,
                 std::vector<int64_t> ring_shape, torch::Device device, torch::ScalarType ring_dtype);

  LigerStatePool(const LigerStatePool&) = delete;
  LigerStatePool& operator=(const LigerStatePool&) = delete;

  absl::Mutex& mutex() const ABSL_LOCK_RETURNED(mu_) { return mu_; }

  // A free row, zeroed.
  int64_t Acquire() ABSL_LOCKS_EXCLUDED(mu_);
  void Release(int64_t row) ABSL_LOCKS_EXCLUDED(mu_);

  // The tensors, [capacity, row shape...] (handles sharing storage, so writes land in the pool).
  // Valid only while mutex() is held.
  torch::Tensor memory() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return memory_; }
  torch::Tensor slot_memory() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return slot_memory_; }
  torch::Tensor ring_k() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ring_k_; }
  torch::Tensor ring_v() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ring_v_; }

  // Changes whenever the rows move (the tensors grow), so work captured against their addresses
  // (a CUDA graph) knows to capture again.
  int64_t version() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return version_; }

  bool has_slot_memory() const { return !slot_memory_shape_.empty(); }
  int64_t window() const { return ring_shape_[1]; }
  // Bytes of one row across the tensors: what one sequence's layer state holds.
  int64_t row_bytes() const { return row_bytes_; }
  int64_t capacity() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Grow() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::vector<int64_t> memory_shape_, slot_memory_shape_, ring_shape_;
  const torch::Device device_;
  const torch::ScalarType ring_dtype_;
  const int64_t row_bytes_;
  mutable absl::Mutex mu_;
  torch::Tensor memory_ ABSL_GUARDED_BY(mu_);
  torch::Tensor slot_memory_ ABSL_GUARDED_BY(mu_);  // undefined without slot memory
  torch::Tensor ring_k_ ABSL_GUARDED_BY(mu_);
  torch::Tensor ring_v_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> free_rows_ ABSL_GUARDED_BY(mu_);
  int64_t version_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace liger
