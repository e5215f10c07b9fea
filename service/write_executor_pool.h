#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "service/serial_executor.h"

namespace liger::service {

// A few SerialExecutors that streaming calls write through (QueuedWriteReactor's writer), handed
// out in turn: each call keeps one, so its messages stay in order, while the calls' write costs
// spread over the threads instead of landing on the producer's.
class WriteExecutorPool {
 public:
  // threads >= 1.
  explicit WriteExecutorPool(int threads);

  // The executor for a new call; any thread.
  SerialExecutor* Next();

 private:
  std::vector<std::unique_ptr<SerialExecutor>> executors_;
  std::atomic<size_t> next_{0};
};

}  // namespace liger::service
