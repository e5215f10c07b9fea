#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/train/collective_group.h"
#include "core/train/distributed_environment.h"

namespace liger {

// A CollectiveGroup on LibTorch's c10d: ProcessGroupNCCL for CUDA devices, ProcessGroupGloo for the
// CPU (each where this build has it; see Supports).
class ProcessGroupCollectives final : public CollectiveGroup {
 public:
  // Where in-process ranks (one thread each) meet: one per run, shared by its ranks, which wait
  // up to `timeout` for each other.
  class Rendezvous;
  static std::shared_ptr<Rendezvous> NewRendezvous(std::chrono::seconds timeout);

  // Whether this build has a c10d backend for `device`.
  static bool Supports(torch::Device device);

  // Joins the run that `env` describes, meeting at the c10d TCPStore that rank 0 serves at
  // MASTER_ADDR:MASTER_PORT. DEADLINE_EXCEEDED when the peers do not all arrive within the
  // environment's timeout, UNIMPLEMENTED when this build has no backend for `device`.
  static absl::StatusOr<std::unique_ptr<CollectiveGroup>> Join(const DistributedEnvironment& env,
                                                               torch::Device device);
  // Joins a run whose ranks are threads of this process meeting in `rendezvous`.
  static absl::StatusOr<std::unique_ptr<CollectiveGroup>> JoinInProcess(
      std::shared_ptr<Rendezvous> rendezvous, int rank, int world_size, torch::Device device,
      std::chrono::seconds timeout);

  ~ProcessGroupCollectives() override;

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  torch::Device device() const override { return device_; }
  absl::StatusOr<std::unique_ptr<CollectiveWork>> StartAllReduceSum(torch::Tensor tensor) override;
  absl::Status Broadcast(std::vector<torch::Tensor> tensors) override;

  class Backend;

 private:
  ProcessGroupCollectives(std::unique_ptr<Backend> backend, int rank, int world_size,
                          torch::Device device);

  std::unique_ptr<Backend> backend_;
  int rank_;
  int world_size_;
  torch::Device device_;
};

}  // namespace liger
