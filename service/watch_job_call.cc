#include "service/watch_job_call.h"

#include <utility>

#include "core/jobs/job_state.h"
#include "service/job_translation.h"

namespace liger::service {

WatchJobCall::WatchJobCall(std::unique_ptr<RpcScope> scope)
    : QueuedWriteReactor(std::move(scope)), link_(std::make_shared<Link>()) {
  absl::MutexLock lock(&link_->mu);
  link_->call = this;
}

WatchJobCall* WatchJobCall::Start(std::unique_ptr<RpcScope> scope, JobManager& jobs,
                                  const std::string& job_id) {
  auto* call = new WatchJobCall(std::move(scope));
  call->scope().AddLogField("job_id", job_id);
  // The callback holds the link, not the call: it may run after the call has
  // ended.
  std::shared_ptr<Link> link = call->link_;
  absl::StatusOr<std::shared_ptr<JobWatch>> watch =
      jobs.Watch(job_id, [link](const JobUpdate& update) { Forward(*link, update); },
                 call->scope().tenant());
  if (!watch.ok()) {
    EndOnce(*link, watch.status());
    return call;
  }
  absl::MutexLock lock(&link->mu);
  if (link->call == nullptr) {
    // Already ended (a finished job's only update, or the client left): nothing
    // to unsubscribe.
    (*watch)->Close();
  } else {
    link->watch = *std::move(watch);
  }
  return call;
}

void WatchJobCall::Forward(Link& link, const JobUpdate& update) {
  WatchJobCall* call = nullptr;
  {
    absl::MutexLock lock(&link.mu);
    if (link.call == nullptr) return;
    v1::WatchJobResponse response;
    JobSnapshotToProto(update.job, response.mutable_job());
    link.call->Send(std::move(response));
    if (!update.last) return;
    call = link.call;
    link.call = nullptr;
  }
  call->End(IsTerminalJobState(update.job.state)
                ? absl::OkStatus()
                : absl::UnavailableError("the server is shutting down; watch "
                                         "the job again once it is back"));
}

void WatchJobCall::OnClientGone() { EndOnce(*link_, absl::OkStatus()); }

void WatchJobCall::EndOnce(Link& link, const absl::Status& status) {
  WatchJobCall* call = nullptr;
  std::shared_ptr<JobWatch> watch;
  {
    absl::MutexLock lock(&link.mu);
    call = link.call;
    link.call = nullptr;
    watch = std::move(link.watch);
  }
  if (watch != nullptr) watch->Close();
  // With the client gone, QueuedWriteReactor turns OK into CANCELLED.
  if (call != nullptr) call->End(status);
}

}  // namespace liger::service
