#include "core/serving/session_store.h"

#include <algorithm>
#include <exception>
#include <iterator>
#include <utility>

#include <c10/util/Exception.h>

#include "absl/strings/str_cat.h"
#include "core/serving/session_id.h"

namespace liger {
namespace {

absl::Status SessionBusyError(const std::string& id) {
  return absl::FailedPreconditionError(
      absl::StrCat("session is busy: a generation is using session ", id));
}

absl::Status SessionNotFoundError(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("no session with id \"", id, "\""));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SessionStore>> SessionStore::New(SessionStoreOptions options) {
  if (options.budget_bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("session budget = ", options.budget_bytes, " bytes must be positive"));
  }
  if (options.idle_ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "session idle TTL = ", absl::FormatDuration(options.idle_ttl), " must be positive"));
  }
  if (options.max_sessions_per_tenant <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sessions per tenant = ", options.max_sessions_per_tenant, " must be positive"));
  }
  if (!options.clock) options.clock = [] { return absl::Now(); };
  return std::unique_ptr<SessionStore>(new SessionStore(std::move(options)));
}

SessionStore::SessionStore(SessionStoreOptions options)
    : budget_bytes_(options.budget_bytes),
      idle_ttl_(options.idle_ttl),
      clock_(std::move(options.clock)),
      max_sessions_per_tenant_(options.max_sessions_per_tenant) {}

absl::StatusOr<SessionInfo> SessionStore::Create(std::string model,
                                                 std::unique_ptr<ModelState> state,
                                                 const std::string& tenant) {
  if (state == nullptr) return absl::InvalidArgumentError("a session needs a model state");
  if (model.empty()) return absl::InvalidArgumentError("a session needs a model name");
  absl::MutexLock lock(&mu_);
  const absl::Time now = Now();
  SweepLocked(now);
  if (absl::Status s = CheckTenantRoomLocked(tenant); !s.ok()) return s;
  if (absl::Status s = MakeRoomLocked(state->bytes(), "", "a new session"); !s.ok()) return s;
  return InsertLocked(tenant, std::move(model), std::move(state), now);
}

absl::StatusOr<SessionLease> SessionStore::AcquireFor(const std::string& id,
                                                      const std::string& model,
                                                      const std::string& tenant) {
  absl::StatusOr<SessionLease> lease = Acquire(id, tenant);
  if (lease.ok() && !model.empty() && lease->model() != model) {
    return absl::InvalidArgumentError(absl::StrCat("session ", id, " belongs to model \"",
                                                   lease->model(), "\", not \"", model, "\""));
  }
  return lease;
}

absl::StatusOr<SessionLease> SessionStore::Acquire(const std::string& id,
                                                   const std::string& tenant) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = Now();
  SweepLocked(now);
  absl::StatusOr<Entry*> entry = FindLocked(id, tenant);
  if (!entry.ok()) return entry.status();
  if ((*entry)->busy) return SessionBusyError(id);
  (*entry)->busy = true;
  TouchLocked(**entry, now);
  return SessionLease(this, id, (*entry)->model, (*entry)->state.get());
}

absl::StatusOr<SessionInfo> SessionStore::Get(const std::string& id, const std::string& tenant) {
  absl::MutexLock lock(&mu_);
  SweepLocked(Now());
  absl::StatusOr<Entry*> entry = FindLocked(id, tenant);
  if (!entry.ok()) return entry.status();
  return Info(id, **entry);
}

absl::Status SessionStore::Delete(const std::string& id, const std::string& tenant) {
  absl::MutexLock lock(&mu_);
  SweepLocked(Now());
  absl::StatusOr<Entry*> entry = FindLocked(id, tenant);
  if (!entry.ok()) return entry.status();
  if ((*entry)->busy) return SessionBusyError(id);
  EraseLocked(id);
  return absl::OkStatus();
}

absl::StatusOr<SessionInfo> SessionStore::Fork(const std::string& id, const std::string& tenant) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = Now();
  SweepLocked(now);
  absl::StatusOr<Entry*> found = FindLocked(id, tenant);
  if (!found.ok()) return found.status();
  Entry& source = **found;
  // A busy state is being advanced by another thread: copying it now would race.
  if (source.busy) return SessionBusyError(id);
  if (absl::Status s = CheckTenantRoomLocked(tenant); !s.ok()) return s;
  // Make room before copying so the copy never exceeds the budget, even for a moment.
  if (absl::Status s = MakeRoomLocked(source.bytes, id, "a forked session"); !s.ok()) return s;
  std::unique_ptr<ModelState> copy;
  try {
    copy = source.state->Clone();
  } catch (const c10::OutOfMemoryError& e) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "out of device memory copying session ", id, ": ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("copying session ", id, ": ", e.what()));
  }
  if (absl::Status s = MakeRoomLocked(copy->bytes(), id, "a forked session"); !s.ok()) return s;
  TouchLocked(source, now);
  return InsertLocked(tenant, source.model, std::move(copy), now);
}

std::vector<SessionInfo> SessionStore::List(const std::string& tenant) {
  absl::MutexLock lock(&mu_);
  SweepLocked(Now());
  std::vector<SessionInfo> infos;
  for (const auto& [id, entry] : sessions_) {
    if (entry.tenant == tenant) infos.push_back(Info(id, entry));
  }
  std::sort(infos.begin(), infos.end(), [](const SessionInfo& a, const SessionInfo& b) {
    return a.created != b.created ? a.created < b.created : a.id < b.id;
  });
  return infos;
}

int SessionStore::SweepExpired() {
  absl::MutexLock lock(&mu_);
  return SweepLocked(Now());
}

SessionStoreStats SessionStore::Stats() {
  absl::MutexLock lock(&mu_);
  SweepLocked(Now());
  SessionStoreStats stats;
  stats.sessions = static_cast<int64_t>(sessions_.size());
  stats.used_bytes = used_bytes_;
  stats.budget_bytes = budget_bytes_;
  stats.evicted = evicted_;
  stats.expired = expired_;
  return stats;
}

absl::Status SessionStore::Return(const std::string& id, bool discard) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = Now();
  SweepLocked(now);
  auto it = sessions_.find(id);
  if (it == sessions_.end() || !it->second.busy) {
    return absl::InternalError(absl::StrCat("session ", id, " was not leased"));
  }
  Entry& entry = it->second;
  if (discard) {
    EraseLocked(id);
    return absl::OkStatus();
  }
  const int64_t bytes = entry.state->bytes();
  const int64_t growth = bytes - entry.bytes;
  if (growth > 0) {
    const std::string what = absl::StrCat("session ", id, " (grown to ", bytes, " bytes)");
    if (absl::Status s = MakeRoomLocked(growth, id, what); !s.ok()) {
      EraseLocked(id);
      return absl::ResourceExhaustedError(absl::StrCat(s.message(), "; the session was deleted"));
    }
  }
  used_bytes_ += growth;
  entry.bytes = bytes;
  entry.tokens = entry.state->tokens();
  entry.busy = false;
  TouchLocked(entry, now);
  return absl::OkStatus();
}

int SessionStore::SweepLocked(absl::Time now) {
  int removed = 0;
  for (auto it = lru_.begin(); it != lru_.end();) {
    const Entry& entry = sessions_.at(*it);
    // lru_ is ordered by last use, so the first session still fresh ends the sweep.
    if (now - entry.last_used <= idle_ttl_) break;
    const auto next = std::next(it);
    if (!entry.busy) {
      EraseLocked(std::string(*it));
      ++expired_;
      ++removed;
    }
    it = next;
  }
  return removed;
}

absl::Status SessionStore::MakeRoomLocked(int64_t needed, const std::string& keep,
                                          absl::string_view what) {
  if (needed <= budget_bytes_ - used_bytes_) return absl::OkStatus();
  int64_t evictable = 0;
  for (const auto& [id, entry] : sessions_) {
    if (!entry.busy && id != keep) evictable += entry.bytes;
  }
  const int64_t pinned = used_bytes_ - evictable;
  if (needed > budget_bytes_ - pinned) {
    return absl::ResourceExhaustedError(absl::StrCat(
        what, " needs ", needed, " bytes of session state, but ", used_bytes_, " of the ",
        budget_bytes_, "-byte session budget are in use, ", pinned,
        " of them by sessions that cannot be evicted now (busy ones", keep.empty() ? "" : " and this one",
        "); delete sessions or raise the budget"));
  }
  for (auto it = lru_.begin(); it != lru_.end() && needed > budget_bytes_ - used_bytes_;) {
    const auto next = std::next(it);
    const Entry& entry = sessions_.at(*it);
    if (!entry.busy && *it != keep) {
      EraseLocked(std::string(*it));
      ++evicted_;
    }
    it = next;
  }
  return absl::OkStatus();
}

absl::Status SessionStore::CheckTenantRoomLocked(const std::string& tenant) {
  const auto it = tenant_sessions_.find(tenant);
  if (it != tenant_sessions_.end() && it->second >= max_sessions_per_tenant_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "this tenant holds ", it->second, " sessions, as many as it may; delete some first"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SessionInfo> SessionStore::InsertLocked(std::string tenant, std::string model,
                                                       std::unique_ptr<ModelState> state,
                                                       absl::Time now) {
  std::string id;
  do {
    absl::StatusOr<std::string> fresh = NewSessionId();
    if (!fresh.ok()) return fresh.status();
    id = *std::move(fresh);
  } while (sessions_.count(id) != 0);
  Entry entry;
  ++tenant_sessions_[tenant];
  entry.tenant = std::move(tenant);
  entry.model = std::move(model);
  entry.tokens = state->tokens();
  entry.bytes = state->bytes();
  entry.state = std::move(state);
  entry.created = now;
  entry.last_used = now;
  entry.lru = lru_.insert(lru_.end(), id);
  used_bytes_ += entry.bytes;
  const auto it = sessions_.emplace(id, std::move(entry)).first;
  return Info(id, it->second);
}

void SessionStore::EraseLocked(const std::string& id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  used_bytes_ -= it->second.bytes;
  lru_.erase(it->second.lru);
  if (auto count = tenant_sessions_.find(it->second.tenant); --count->second == 0) {
    tenant_sessions_.erase(count);
  }
  sessions_.erase(it);
}

void SessionStore::TouchLocked(Entry& entry, absl::Time now) {
  entry.last_used = std::max(entry.last_used, now);
  lru_.splice(lru_.end(), lru_, entry.lru);
}

absl::StatusOr<SessionStore::Entry*> SessionStore::FindLocked(const std::string& id,
                                                             const std::string& tenant) {
  auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second.tenant != tenant) return SessionNotFoundError(id);
  return &it->second;
}

SessionInfo SessionStore::Info(const std::string& id, const Entry& entry) {
  SessionInfo info;
  info.id = id;
  info.tenant = entry.tenant;
  info.model = entry.model;
  info.created = entry.created;
  info.last_used = entry.last_used;
  info.tokens = entry.tokens;
  info.state_bytes = entry.bytes;
  info.busy = entry.busy;
  return info;
}

}  // namespace liger
