#pragma once

#include <atomic>

namespace liger::metrics {

// std::atomic<double>::fetch_add is C++20; a compare-exchange loop gives the same lock-free add.
// Relaxed order: a metric is an independent tally, read only at scrape time.
inline void AtomicAddDouble(std::atomic<double>& target, double amount) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + amount, std::memory_order_relaxed)) {
  }
}

}  // namespace liger::metrics
