#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"

namespace liger {

// Where one process of a data-parallel run sits, from the environment torchrun-style launchers set:
// RANK (or a Kubernetes Indexed Job's JOB_COMPLETION_INDEX), WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT, TORCHELASTIC_USE_AGENT_STORE, plus LIGER_DIST_TIMEOUT_SECONDS for how long a rank waits for its peers.
struct DistributedEnvironment {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;  // the device index on this node
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  int timeout_seconds = 600;
  // torchrun's agent already serves the TCPStore at MASTER_ADDR:MASTER_PORT
  // (TORCHELASTIC_USE_AGENT_STORE=True): rank 0 then joins it as a client like every other rank.
  bool agent_store = false;

  bool distributed() const { return world_size > 1; }
};

// Reads the variables through `getenv` (std::getenv by default). WORLD_SIZE unset or 1 is a
// single-process run; INVALID_ARGUMENT names the variable that is malformed or out of range.
absl::StatusOr<DistributedEnvironment> DistributedEnvironmentFromEnv(
    const std::function<const char*(const char*)>& getenv = nullptr);

}  // namespace liger
