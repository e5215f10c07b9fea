#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <list>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/model/model_state.h"
#include "core/serving/session_codec.h"
#include "core/serving/session_directory.h"
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
  // Sessions one tenant may hold at once (> 0), parked ones included.
  int64_t max_sessions_per_tenant = std::numeric_limits<int64_t>::max();
  // Empty: sessions live only in memory. Otherwise sessions evicted for room, and every idle one
  // at ParkAll (shutdown), are written to this directory (a SessionDirectory) and restored on
  // their next use, also by a later store on the same directory.
  std::string session_dir;
  // Saves and restores states for session_dir (required with it); must outlive the store.
  const SessionCodec* codec = nullptr;
  // Told about what goes wrong in the directory outside any call: files that cannot be read at
  // start, expired files that cannot be removed, damaged files set aside. Empty: ignored.
  std::function<void(const absl::Status&)> on_error;
};

// Conversation states kept between requests, each on its model's device. A state is used by one
// generation at a time through a SessionLease. The store holds at most budget_bytes of state:
// admitting a new, forked or grown state first evicts idle sessions, least recently used first, and
// fails with RESOURCE_EXHAUSTED (evicting nothing) when even that would not make room. Sessions
// idle past the TTL are removed by SweepExpired and by every other call. Busy sessions are never
// evicted, expired or deleted. Every session belongs to the tenant that made it (the empty tenant
// when the server does not authenticate) and exists only for that tenant: any other gets NOT_FOUND,
// exactly as for an id that was never made, so ids reveal nothing across tenants.
//
// With a session directory, eviction parks a session (writes its state to disk) instead of
// dropping it, and any call that names a parked session brings it back first (Acquire, Fork) or
// answers from its file's header (Get, List, Delete). A parked file stays while the restored state
// is unchanged, so evicting it again writes nothing; Acquire removes it, because the state is about
// to move on and an old file must never stand in for it. A session whose state cannot be written
// (a full disk) is not evicted: the call that needed room fails with RESOURCE_EXHAUSTED instead,
// so no conversation is lost to make room. After kill -9, only sessions parked then survive.
// Disk I/O for parking runs under the store's lock: eviction and restore are rare next to the
// decode steps, which never touch the store. Thread-safe.
class SessionStore {
 public:
  // INVALID_ARGUMENT for a budget, TTL or per-tenant limit that is not positive, or a session
  // directory without a codec; the directory's errors (SessionDirectory::Open). Loads the headers
  // of the directory's parked sessions; expired ones are removed.
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

  // NOT_FOUND for an unknown id, FAILED_PRECONDITION while busy. Removes a parked file too.
  absl::Status Delete(const std::string& id, const std::string& tenant = "");

  // A new session with a deep copy of the state, counted against the budget. NOT_FOUND,
  // FAILED_PRECONDITION while busy, RESOURCE_EXHAUSTED when the copy cannot fit (or the device
  // runs out of memory making it), or the tenant's limit. The copy belongs to the same tenant.
  absl::StatusOr<SessionInfo> Fork(const std::string& id, const std::string& tenant = "");

  // The session as bytes (EncodeSession's format: versioned, checksummed, and tied by the state's
  // fingerprint to the model that made it), for another replica's Import; the session stays here.
  // NOT_FOUND, FAILED_PRECONDITION while busy or without a codec, and the codec's errors.
  absl::StatusOr<std::string> Export(const std::string& id, const std::string& tenant = "");

  // A session made from Export's bytes, under the same id, for `tenant`. DATA_LOSS for damaged
  // bytes; PERMISSION_DENIED when they belong to another tenant; ALREADY_EXISTS when this store
  // holds that id; FAILED_PRECONDITION without a codec, or when the model is not loaded or not the
  // one that made the state; RESOURCE_EXHAUSTED when it cannot fit or the tenant is at its limit.
  absl::StatusOr<SessionInfo> Import(absl::string_view bytes, const std::string& tenant = "");

  // The tenant's sessions, parked ones included, oldest first.
  std::vector<SessionInfo> List(const std::string& tenant = "");

  // Writes every idle session to the session directory and frees its memory; for shutdown. The
  // number parked, or the first error (the other sessions are parked regardless). 0 without a
  // directory.
  absl::StatusOr<int> ParkAll();

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
    bool on_disk = false;  // its file in the session directory holds exactly this state
    std::list<std::string>::iterator lru;  // this session's place in lru_
  };

  SessionStore(SessionStoreOptions options, std::unique_ptr<SessionDirectory> directory);

  // Ends a lease: commits the state's new size (discard: deletes the session).
  absl::Status Return(const std::string& id, bool discard);

  int SweepLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Evicts idle sessions other than `keep`, least recently used first, until `needed` more bytes
  // fit; evicts nothing and fails if they cannot. `what` names the state in the error. With a
  // session directory evicted sessions are parked; one that cannot be written stops the eviction
  // with RESOURCE_EXHAUSTED.
  absl::Status MakeRoomLocked(int64_t needed, const std::string& keep, absl::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // RESOURCE_EXHAUSTED when `tenant` holds max_sessions_per_tenant sessions.
  absl::Status CheckTenantRoomLocked(const std::string& tenant) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A fresh id used by no session, in memory or parked.
  absl::StatusOr<std::string> UnusedIdLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds a session under `id` (a fresh one, or a parked or imported one keeping its id).
  SessionInfo InsertLocked(const std::string& id, std::string tenant, std::string model,
                           std::unique_ptr<ModelState> state, absl::Time created,
                           absl::Time last_used, bool on_disk = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Frees a session's memory (its parked file, if any, is the caller's business).
  void EraseLocked(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes a session for good: its memory and its parked file.
  absl::Status DeleteLocked(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TouchLocked(Entry& entry, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Session `id` in memory, restoring it if it is parked; NOT_FOUND unless it exists and belongs
  // to `tenant`.
  absl::StatusOr<Entry*> FindLocked(const std::string& id, const std::string& tenant)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The parked session `id` of `tenant`, or null.
  const ParkedSession* FindParkedLocked(const std::string& id, const std::string& tenant)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes an idle session's state (unless its file is current) and frees its memory.
  absl::Status ParkLocked(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Entry*> RestoreLocked(const ParkedSession& parked)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddParkedLocked(ParkedSession parked) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropParkedLocked(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CountTenantLocked(const std::string& tenant, int delta) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReportError(const absl::Status& status) const;
  static SessionInfo Info(const std::string& id, const Entry& entry);
  static SessionInfo Info(const ParkedSession& parked);
  // What a parked or exported session's header says of an entry.
  static ParkedSession Header(const std::string& id, const Entry& entry);
  absl::Time Now() const { return clock_(); }

  const int64_t budget_bytes_;
  const absl::Duration idle_ttl_;
  const std::function<absl::Time()> clock_;
  const int64_t max_sessions_per_tenant_;
  const std::unique_ptr<SessionDirectory> directory_;  // null without a session directory
  const SessionCodec* const codec_;
  const std::function<void(const absl::Status&)> on_error_;

  absl::Mutex mu_;
  std::unordered_map<std::string, Entry> sessions_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // least recently used first
  int64_t used_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t evicted_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t expired_ ABSL_GUARDED_BY(mu_) = 0;
  // Sessions in memory and parked, by tenant, so Create need not count them.
  std::unordered_map<std::string, int64_t> tenant_sessions_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, ParkedSession> parked_ ABSL_GUARDED_BY(mu_);
  // Parked sessions by last use, so expiry stops at the first fresh one, as for lru_.
  std::set<std::pair<absl::Time, std::string>> parked_by_use_ ABSL_GUARDED_BY(mu_);
};

}  // namespace liger
