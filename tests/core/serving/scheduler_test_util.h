#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "core/serving/generation_request.h"
#include "core/serving/scheduler_observer.h"

namespace liger::testing {

// Counts what a scheduler reports.
class CountingObserver : public SchedulerObserver {
 public:
  void OnLoad(int waiting, int running) override {
    waiting_ = waiting;
    running_ = running;
    max_waiting_ = std::max(max_waiting_.load(), waiting);
  }
  void OnDecodeStep(int batch_size) override {
    ++steps_;
    max_batch_ = std::max(max_batch_.load(), batch_size);
  }
  void OnFirstToken(absl::Duration) override { ++first_tokens_; }
  void OnInterToken(absl::Duration) override { ++inter_tokens_; }
  void OnPromptTokens(int64_t count) override { prompt_tokens_ += count; }
  void OnGeneratedTokens(int64_t count) override { generated_tokens_ += count; }

  int steps() const { return steps_; }
  int max_batch() const { return max_batch_; }
  int max_waiting() const { return max_waiting_; }
  int waiting() const { return waiting_; }
  int running() const { return running_; }
  int first_tokens() const { return first_tokens_; }
  int inter_tokens() const { return inter_tokens_; }
  int64_t prompt_tokens() const { return prompt_tokens_; }
  int64_t generated_tokens() const { return generated_tokens_; }

 private:
  std::atomic<int> waiting_{0}, running_{0}, max_waiting_{0};
  std::atomic<int> steps_{0}, max_batch_{0}, first_tokens_{0}, inter_tokens_{0};
  std::atomic<int64_t> prompt_tokens_{0}, generated_tokens_{0};
};

// Builds a request whose callbacks record its stream; can cancel itself after some tokens.
class StreamRecorder {
 public:
  explicit StreamRecorder(const CountingObserver* observer = nullptr) : observer_(observer) {}

  GenerationRequest Request(std::vector<int32_t> prompt, const GenerationOptions& options) {
    GenerationRequest request;
    request.prompt = std::move(prompt);
    request.options = options;
    request.cancellation = cancellation_;
    request.on_token = [this](const TokenEvent& event) {
      absl::MutexLock lock(&mu_);
      tokens_.push_back(event.token_id);
      text_ += event.text_delta;
      if (observer_ != nullptr) steps_at_token_.push_back(observer_->steps());
      if (cancel_after_ > 0 && tokens_.size() == cancel_after_) cancellation_->Cancel();
    };
    request.on_end = [this](const GenerationEnd& end) {
      {
        absl::MutexLock lock(&mu_);
        end_ = end;
        ++ends_;
      }
      done_.Notify();
    };
    return request;
  }

  // Cancels from inside the token callback once n tokens arrived.
  void CancelAfter(size_t n) {
    absl::MutexLock lock(&mu_);
    cancel_after_ = n;
  }
  void Cancel() { cancellation_->Cancel(); }

  bool WaitEnd(absl::Duration timeout = absl::Seconds(120)) {
    return done_.WaitForNotificationWithTimeout(timeout);
  }
  // Waits until n tokens arrived (or the stream ended); false on timeout.
  bool WaitTokens(size_t n, absl::Duration timeout = absl::Seconds(120)) {
    absl::MutexLock lock(&mu_);
    const auto ready = [&]() { return tokens_.size() >= n || ends_ > 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  }

  std::vector<int32_t> tokens() {
    absl::MutexLock lock(&mu_);
    return tokens_;
  }
  std::string text() {
    absl::MutexLock lock(&mu_);
    return text_;
  }
  std::vector<int> steps_at_token() {
    absl::MutexLock lock(&mu_);
    return steps_at_token_;
  }
  GenerationEnd end() {
    absl::MutexLock lock(&mu_);
    return end_;
  }
  int ends() {
    absl::MutexLock lock(&mu_);
    return ends_;
  }

 private:
  const CountingObserver* const observer_;
  const std::shared_ptr<CancellationToken> cancellation_ = std::make_shared<CancellationToken>();
  absl::Mutex mu_;
  std::vector<int32_t> tokens_;
  std::string text_;
  std::vector<int> steps_at_token_;
  size_t cancel_after_ = 0;
  GenerationEnd end_;
  int ends_ = 0;
  absl::Notification done_;
};

}  // namespace liger::testing
