#pragma once

#include <atomic>

namespace liger {

// Set from any thread (the client went away) and polled by the scheduler once per step.
class CancellationToken {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> cancelled_{false};
};

}  // namespace liger
