#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/model/model_state.h"
#include "core/serving/session_info.h"
#include "core/serving/session_lease.h"

namespace liger {

struct SessionStoreOptions {
  // Tensor bytes all session states may hold together (> 0).
  int64_t budget_bytes = std::numeric_limits<int64_t>::max();
  // Sessions unused for longer are removed (> 0).
  absl::Duration idle_ttl = absl::InfiniteDuration();
  // The time source; empty means absl::Now. Tests inject a fake.
  std::function<absl::Time()> clock;
  // Sessions one tenant may hold at once (> 0).
  int64_t max_sessions_per_tenant = std::numeric_limits<int64_t>::max();
};

// Conversation states kept between requests, each on its model's device. A state is used by one
// generation at a time through a SessionLease. The store holds at most budget_bytes of state:
// admitting a new, forked or grown state first evicts idle sessions, least recently used first, and
// fails with RESOURCE_EXHAUSTED (evicting nothing) when even that would not make room. Sessions
// idle past the TTL are removed by SweepExpired and by every other call. Busy sessions are never
// evicted, expired or deleted. Every session belongs to the tenant that made it (the empty tenant
// when the server does not authenticate) and exists only for that tenant: any other gets NOT_FOUND,
// exactly as for an id that was never made, so ids reveal nothing across tenants. Thread-safe.
class SessionStore {
 public:
  // INVALID_ARGUMENT for a budget, TTL or per-tenant limit that is not positive.
  static absl::StatusOr<std::unique_ptr<SessionStore>> New(SessionStoreOptions options);

  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  // Adds a session holding `state` (of model `model`) under a new unguessable id.
  // INVALID_ARGUMENT for a null state or an empty model name; RESOURCE_EXHAUSTED if it cannot fit
  // or the tenant holds max_sessions_per_tenant already.
  absl::StatusOr<SessionInfo> Create(std::string model, std::unique_ptr<ModelState> state,
                                     const std::string& tenant = "");

  // Exclusive use of a session's state until the lease is released. NOT_FOUND for an unknown (or
  // expired) id, FAILED_PRECONDITION "session is busy" while another lease holds it.
  absl::StatusOr<SessionLease> Acquire(const std::string& id, const std::string& tenant = "");
  // As Acquire, and INVALID_ARGUMENT when `model` is not empty and the session belongs to another
  // model (a request that names both).
  absl::StatusOr<SessionLease> AcquireFor(const std::string& id, const std::string& model,
                                          const std::string& tenant = "");

  // NOT_FOUND for an unknown id. A busy session reports what it held when it was leased.
  absl::StatusOr<SessionInfo> Get(const std::string& id, const std::string& tenant = "");

  // NOT_FOUND for an unknown id, FAILED_PRECONDITION while busy.
  absl::Status Delete(const std::string& id, const std::string& tenant = "");

  // A new session with a deep copy of the state, counted against the budget. NOT_FOUND,
  // FAILED_PRECONDITION while busy, RESOURCE_EXHAUSTED when the copy cannot fit (or the device
  // runs out of memory making it), or the tenant's limit. The copy belongs to the same tenant.
  absl::StatusOr<SessionInfo> Fork(const std::string& id, const std::string& tenant = "");

  // The tenant's sessions, oldest first.
  std::vector<SessionInfo> List(const std::string& tenant = "");

  // Removes idle sessions unused for longer than the TTL; returns how many.
  int SweepExpired();

  // After expiring idle sessions, like every other call.
  SessionStoreStats Stats();

 private:
  friend class SessionLease;

  struct Entry {
    std::string tenant;
    std::string model;
    std::unique_ptr<ModelState> state;
    absl::Time created;
    absl::Time last_used;
    int64_t tokens = 0;
    int64_t bytes = 0;
    bool busy = false;
    std::list<std::string>::iterator lru;  // this session's place in lru_
  };

  explicit SessionStore(SessionStoreOptions options);

  // Ends a lease: commits the state's new size (discard: deletes the session).
  absl::Status Return(const std::string& id, bool discard);

  int SweepLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Evicts idle sessions other than `keep`, least recently used first, until `needed` more bytes
  // fit; evicts nothing and fails if they cannot. `what` names the state in the error.
  absl::Status MakeRoomLocked(int64_t needed, const std::string& keep, absl::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // RESOURCE_EXHAUSTED when `tenant` holds max_sessions_per_tenant sessions.
  absl::Status CheckTenantRoomLocked(const std::string& tenant) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<SessionInfo> InsertLocked(std::string tenant, std::string model,
                                           std::unique_ptr<ModelState> state, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EraseLocked(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TouchLocked(Entry& entry, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // NOT_FOUND unless session `id` exists and belongs to `tenant`.
  absl::StatusOr<Entry*> FindLocked(const std::string& id, const std::string& tenant)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static SessionInfo Info(const std::string& id, const Entry& entry);
  absl::Time Now() const { return clock_(); }

  const int64_t budget_bytes_;
  const absl::Duration idle_ttl_;
  const std::function<absl::Time()> clock_;
  const int64_t max_sessions_per_tenant_;

  absl::Mutex mu_;
  std::unordered_map<std::string, Entry> sessions_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // least recently used first
  int64_t used_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t evicted_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t expired_ ABSL_GUARDED_BY(mu_) = 0;
  std::unordered_map<std::string, int64_t> tenant_sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace liger
