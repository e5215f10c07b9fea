#pragma once

#include <deque>
#include <memory>
#include <utility>

#include <grpcpp/support/server_callback.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "service/rpc_scope.h"
#include "service/serial_executor.h"

namespace liger::service {

// A server-streaming reactor fed from a worker thread: Send queues a message and the reactor
// writes them one at a time (gRPC allows one write in flight), so a slow client costs memory for
// the queue but never blocks the producer; End finishes the call once the queue is written. When
// the client goes away (cancellation, deadline, a failed write) the queue is dropped, and the
// subclass should stop producing (OnClientGone tells it, or it polls client_gone()); it must still
// call End. With a `writer`, Send and End only hand their message or status to it and return:
// starting a write costs tens of microseconds of the caller's time (framing, often the socket
// write itself), which a producer serving many streams per step, such as a decode loop, must not
// pay. Owns the call's scope, and deletes itself when gRPC is done.
template <typename Response>
class QueuedWriteReactor : public grpc::ServerWriteReactor<Response> {
 public:
  // writer (may be null: Send and End write from the caller's thread) must outlive the call.
  explicit QueuedWriteReactor(std::unique_ptr<RpcScope> scope, SerialExecutor* writer = nullptr)
      : scope_(std::move(scope)), writer_(writer) {}

  RpcScope& scope() { return *scope_; }

  // Queues a message; dropped when the client is gone. Not after End.
  void Send(Response response) {
    if (writer_ != nullptr) {
      writer_->Schedule([this, r = std::move(response)]() mutable { Enqueue(std::move(r)); });
    } else {
      Enqueue(std::move(response));
    }
  }

  // Finishes with `status` (CANCELLED when it is OK but the client is gone) after the queued
  // messages. Call once, from any thread; nothing of this object may be used afterwards.
  void End(const absl::Status& status) {
    if (writer_ != nullptr) {
      // The writer runs this after every message Sent before, and nothing of this call after it.
      writer_->Schedule([this, status] { EndNow(status); });
    } else {
      EndNow(status);
    }
  }

 protected:
  ~QueuedWriteReactor() override = default;

  // The client is gone: stop producing soon and End. May come more than once, on any thread.
  // Subclasses that poll client_gone() instead need not override it.
  virtual void OnClientGone() {}

  // Whether the client has gone away (see the class comment). Any thread.
  bool client_gone() {
    absl::MutexLock lock(&mu_);
    return client_gone_;
  }

 private:
  void Enqueue(Response response) {
    {
      absl::MutexLock lock(&mu_);
      if (client_gone_) return;
      queue_.push_back(std::move(response));
    }
    Advance();
  }

  void EndNow(const absl::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      end_status_ = status.ok() && client_gone_
                        ? absl::CancelledError("the client went away before the end of the stream")
                        : status;
      ended_ = true;
    }
    Advance();
  }

  void Advance() {
    const Response* to_write = nullptr;
    absl::Status finish_status;
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || finished_) return;
      if (!queue_.empty()) {
        writing_ = true;
        to_write = &queue_.front();  // deque::push_back keeps references to elements valid
      } else if (ended_) {
        finished_ = true;
        finish_status = end_status_;
      } else {
        return;
      }
    }
    // Outside the lock: once Finish is called, OnDone may delete this at any time.
    if (to_write != nullptr) {
      this->StartWrite(to_write);
    } else {
      this->Finish(scope_->Finish(finish_status));
    }
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      queue_.pop_front();
      if (!ok) {
        client_gone_ = true;
        queue_.clear();
      }
    }
    if (!ok) OnClientGone();
    Advance();
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      client_gone_ = true;
    }
    OnClientGone();
  }

  void OnDone() override { delete this; }

  const std::unique_ptr<RpcScope> scope_;
  SerialExecutor* const writer_;
  absl::Mutex mu_;
  std::deque<Response> queue_ ABSL_GUARDED_BY(mu_);  // the front one is in flight while writing_
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool client_gone_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status end_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace liger::service
