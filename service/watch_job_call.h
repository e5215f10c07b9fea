#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/jobs/job_manager.h"
#include "liger/v1/liger.pb.h"
#include "service/queued_write_reactor.h"
#include "service/rpc_scope.h"

namespace liger::service {

// The reactor of one WatchJob call: streams the job's snapshots
// (JobManager::Watch) and ends OK after the terminal one, UNAVAILABLE if the
// server shuts down first. A client that goes away only unsubscribes; the job
// runs on.
class WatchJobCall final : public QueuedWriteReactor<v1::WatchJobResponse> {
 public:
  // Creates the call and subscribes it to job `job_id`; the call ends at once
  // with Watch's error (NOT_FOUND, UNAVAILABLE) if that fails. `jobs` must
  // outlive the call.
  static WatchJobCall* Start(std::unique_ptr<RpcScope> scope, JobManager& jobs,
                             const std::string& job_id);

 private:
  // Shared with the watch's callback, which may outlive this reactor: it
  // reaches the call only while `call` is set, and whoever ends the call clears
  // it first, under `mu`.
  struct Link {
    absl::Mutex mu;
    WatchJobCall* call ABSL_GUARDED_BY(mu) = nullptr;
    std::shared_ptr<JobWatch> watch ABSL_GUARDED_BY(mu);
  };

  explicit WatchJobCall(std::unique_ptr<RpcScope> scope);

  void OnClientGone() override;
  static void Forward(Link& link, const JobUpdate& update);
  // Unsubscribes and ends the call with `status`, unless it has ended already.
  static void EndOnce(Link& link, const absl::Status& status);

  const std::shared_ptr<Link> link_;
};

}  // namespace liger::service
