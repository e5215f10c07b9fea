#include "service/write_executor_pool.h"

#include <algorithm>

namespace liger::service {

WriteExecutorPool::WriteExecutorPool(int threads) {
  for (int i = 0; i < std::max(threads, 1); ++i) {
    executors_.push_back(std::make_unique<SerialExecutor>());
  }
}

SerialExecutor* WriteExecutorPool::Next() {
  return executors_[next_.fetch_add(1, std::memory_order_relaxed) % executors_.size()].get();
}

}  // namespace liger::service
