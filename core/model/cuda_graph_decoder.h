#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include <torch/torch.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

// Built only with CUDA (LIGER_WITH_CUDA).
namespace liger {

// Replays a model's decode step from CUDA graphs: one per power-of-two batch size up to kMaxBatch,
// captured the first time that size runs and again whenever the state stores move. A step of a
// 16-layer model is hundreds of small kernels, so launching them one by one from the host costs
// more than running them; a replay is one launch.
class CudaGraphDecoder {
 public:
  // step(ids [B, 1], positions [B, 1], rows [L, B]) -> float32 logits [B, V]: the decode step
  // from device int64 tensors alone (rows: each layer's state row of each sequence), with no host
  // synchronisation, so that it can be captured.
  using Step = std::function<torch::Tensor(const torch::Tensor& ids, const torch::Tensor& positions,
                                           const torch::Tensor& rows)>;

  static constexpr int64_t kMaxBatch = 256;

  CudaGraphDecoder(Step step, int64_t layers, torch::Device device);
  ~CudaGraphDecoder();
  CudaGraphDecoder(const CudaGraphDecoder&) = delete;
  CudaGraphDecoder& operator=(const CudaGraphDecoder&) = delete;

  // One step for the n <= kMaxBatch sequences described by `inputs`, host int64 [2 + L, n]: token
  // ids, positions, then each layer's rows. The batch is padded to its bucket with position-0
  // entries at `padding_rows` (one row per layer that no sequence uses: padding writes there).
  // `store_version` identifies where the rows live; a change recaptures. Returns logits [n, V].
  // UNIMPLEMENTED when the step cannot be captured (the caller then runs it directly; this
  // decoder stays off from then on).
  absl::StatusOr<torch::Tensor> Run(const torch::Tensor& inputs,
                                    absl::Span<const int64_t> padding_rows, int64_t store_version);

 private:
  struct Graph;

  absl::Status Capture(int64_t bucket, absl::Span<const int64_t> padding_rows, int64_t store_version,
                       std::unique_ptr<Graph>& graph) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Step step_;
  const int64_t layers_;
  const torch::Device device_;
  absl::Mutex mu_;
  std::map<int64_t, std::unique_ptr<Graph>> graphs_ ABSL_GUARDED_BY(mu_);
  bool disabled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace liger
