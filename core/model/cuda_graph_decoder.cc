#include "core/model/cuda_graph_decoder.h"

#include <vector>

#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "absl/strings/str_cat.h"

namespace liger {
namespace {

// inputs [2 + L, n] on the host, padded to `bucket` columns with entries at the padding rows, in
// pinned memory so that the copy to the device is asynchronous.
torch::Tensor PaddedInputs(const torch::Tensor& inputs, int64_t bucket,
                           absl::Span<const int64_t> padding_rows) {
  const int64_t n = inputs.size(1), height = inputs.size(0);
  torch::Tensor padded = torch::empty(
      {height, bucket}, torch::TensorOptions().dtype(torch::kInt64).pinned_memory(true));
  padded.narrow(1, 0, n).copy_(inputs);
  if (n < bucket) {
    std::vector<int64_t> column = {0, 0};  // token 0 at position 0
    column.insert(column.end(), padding_rows.begin(), padding_rows.end());
    padded.narrow(1, n, bucket - n).copy_(torch::tensor(column).view({height, 1}).expand({height, bucket - n}));
  }
  return padded;
}

}  // namespace

struct CudaGraphDecoder::Graph {
  at::cuda::CUDAGraph graph;
  torch::Tensor inputs;  // [2 + L, bucket] on the device: what each replay reads
  torch::Tensor logits;  // [bucket, V]: what each replay writes
  int64_t store_version = 0;
};

CudaGraphDecoder::CudaGraphDecoder(Step step, int64_t layers, torch::Device device)
    : step_(std::move(step)), layers_(layers), device_(device) {}

CudaGraphDecoder::~CudaGraphDecoder() = default;

absl::Status CudaGraphDecoder::Capture(int64_t bucket, absl::Span<const int64_t> padding_rows,
                                       int64_t store_version, std::unique_ptr<Graph>& graph) {
  auto g = std::make_unique<Graph>();
  try {
    const c10::cuda::CUDAGuard device_guard(device_);
    // Every entry at the padding rows: the warm-up below really runs.
    g->inputs = PaddedInputs(torch::empty({2 + layers_, 0}, torch::kInt64), bucket, padding_rows)
                    .to(device_);
    const torch::Tensor ids = g->inputs[0].view({bucket, 1});
    const torch::Tensor positions = g->inputs[1].view({bucket, 1});
    const torch::Tensor rows = g->inputs.narrow(0, 2, layers_);
    // Capture needs a stream of its own; the synchronisations order it with the current one.
    c10::cuda::device_synchronize();
    {
      const c10::cuda::CUDAStreamGuard stream_guard(c10::cuda::getStreamFromPool());
      // Lazy initialisation (library handles, workspaces) happens here, outside the graph.
      step_(ids, positions, rows);
      // Thread-local: other threads' CUDA work (a prefill) neither breaks nor joins the capture.
      g->graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
      try {
        g->logits = step_(ids, positions, rows);
      } catch (...) {
        try {
          g->graph.capture_end();
        } catch (...) {  // an invalidated capture reports its error here; the first one matters
        }
        throw;
      }
      g->graph.capture_end();
    }
    c10::cuda::device_synchronize();
  } catch (const std::exception& e) {
    return absl::UnimplementedError(
        absl::StrCat("the decode step cannot be captured in a CUDA graph: ", e.what()));
  }
  g->store_version = store_version;
  graph = std::move(g);
  return absl::OkStatus();
}

absl::StatusOr<torch::Tensor> CudaGraphDecoder::Run(const torch::Tensor& inputs,
                                                    absl::Span<const int64_t> padding_rows,
                                                    int64_t store_version) {
  const int64_t n = inputs.size(1);
  if (inputs.dim() != 2 || inputs.size(0) != 2 + layers_ || n < 1 || n > kMaxBatch ||
      static_cast<int64_t>(padding_rows.size()) != layers_) {
    return absl::InvalidArgumentError(absl::StrCat("graph decode takes [2 + ", layers_, ", 1..",
                                                   kMaxBatch, "] inputs and ", layers_, " padding rows"));
  }
  absl::MutexLock lock(&mu_);
  if (disabled_) return absl::UnimplementedError("CUDA graph decoding is off after a failed capture");
  int64_t bucket = 1;
  while (bucket < n) bucket *= 2;
  std::unique_ptr<Graph>& graph = graphs_[bucket];
  if (graph == nullptr || graph->store_version != store_version) {
    graph.reset();  // its memory goes back before the new capture takes more
    if (absl::Status s = Capture(bucket, padding_rows, store_version, graph); !s.ok()) {
      disabled_ = true;
      graphs_.clear();
      return s;
    }
  }
  try {
    const c10::cuda::CUDAGuard device_guard(device_);
    graph->inputs.copy_(PaddedInputs(inputs, bucket, padding_rows), /*non_blocking=*/true);
    graph->graph.replay();
    return graph->logits.narrow(0, 0, n).clone();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("CUDA graph decode step failed: ", e.what()));
  }
}

}  // namespace liger
