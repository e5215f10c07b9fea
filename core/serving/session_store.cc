#include "core/serving/session_store.h"

#include <algorithm>
#include <exception>
#include <iterator>
#include <utility>

#include <c10/util/Exception.h>

#include "absl/strings/str_cat.h"
#include "core/serving/session_id.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

absl::Status SessionBusyError(const std::string& id) {
  return absl::FailedPreconditionError(
      absl::StrCat("session is busy: a generation is using session ", id));
}

absl::Status SessionNotFoundError(const std::string& id) {
  // With several replicas, the likely cause is a request that reached the wrong one.
  return absl::NotFoundError(absl::StrCat(
      "no session with id \"", id, "\" on this server (a session lives on one replica: route its "
      "requests by session id, or move it with ExportSession and ImportSession)"));
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
  std::unique_ptr<SessionDirectory> directory;
  if (!options.session_dir.empty()) {
    if (options.codec == nullptr) {
      return absl::InvalidArgumentError("a session directory needs a codec for the states");
    }
    LIGER_ASSIGN_OR_RETURN(directory, SessionDirectory::Open(options.session_dir));
  }
  std::unique_ptr<SessionStore> store(new SessionStore(std::move(options), std::move(directory)));
  if (store->directory_ != nullptr) {
    absl::MutexLock lock(&store->mu_);
    const absl::Time now = store->Now();
    for (ParkedSession& parked : store->directory_->LoadAll(
             [&](const absl::Status& status) { store->ReportError(status); })) {
      store->AddParkedLocked(std::move(parked));
    }
    store->SweepLocked(now);
  }
  return store;
}

SessionStore::SessionStore(SessionStoreOptions options,
                           std::unique_ptr<SessionDirectory> directory)
    : budget_bytes_(options.budget_bytes),
      idle_ttl_(options.idle_ttl),
      clock_(std::move(options.clock)),
      max_sessions_per_tenant_(options.max_sessions_per_tenant),
      directory_(std::move(directory)),
      codec_(options.codec),
      on_error_(std::move(options.on_error)) {}

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
  LIGER_ASSIGN_OR_RETURN(std::string id, UnusedIdLocked());
  return InsertLocked(id, tenant, std::move(model), std::move(state), now, now);
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
  if ((*entry)->on_disk) {
    // The state is about to move on; its old file must never stand in for it after a crash.
    LIGER_RETURN_IF_ERROR(directory_->Remove(id));
    (*entry)->on_disk = false;
  }
  (*entry)->busy = true;
  TouchLocked(**entry, now);
  return SessionLease(this, id, (*entry)->model, (*entry)->state.get());
}

absl::StatusOr<SessionInfo> SessionStore::Get(const std::string& id, const std::string& tenant) {
  absl::MutexLock lock(&mu_);
  SweepLocked(Now());
  if (const ParkedSession* parked = FindParkedLocked(id, tenant)) return Info(*parked);
  absl::StatusOr<Entry*> entry = FindLocked(id, tenant);
  if (!entry.ok()) return entry.status();
  return Info(id, **entry);
}

absl::Status SessionStore::Delete(const std::string& id, const std::string& tenant) {
  absl::MutexLock lock(&mu_);
  SweepLocked(Now());
  if (FindParkedLocked(id, tenant) != nullptr) return DeleteLocked(id);
  absl::StatusOr<Entry*> entry = FindLocked(id, tenant);
  if (!entry.ok()) return entry.status();
  if ((*entry)->busy) return SessionBusyError(id);
  return DeleteLocked(id);
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
  LIGER_ASSIGN_OR_RETURN(std::string copy_id, UnusedIdLocked());
  return InsertLocked(copy_id, tenant, source.model, std::move(copy), now, now);
}

std::vector<SessionInfo> SessionStore::List(const std::string& tenant) {
  absl::MutexLock lock(&mu_);
  SweepLocked(Now());
  std::vector<SessionInfo> infos;
  for (const auto& [id, entry] : sessions_) {
    if (entry.tenant == tenant) infos.push_back(Info(id, entry));
  }
  for (const auto& [id, parked] : parked_) {
    if (parked.tenant == tenant) infos.push_back(Info(parked));
  }
  std::sort(infos.begin(), infos.end(), [](const SessionInfo& a, const SessionInfo& b) {
    return a.created != b.created ? a.created < b.created : a.id < b.id;
  });
  return infos;
}

absl::StatusOr<std::string> SessionStore::Export(const std::string& id,
                                                 const std::string& tenant) {
  if (codec_ == nullptr) {
    return absl::FailedPreconditionError("this server cannot serialize session states");
  }
  absl::MutexLock lock(&mu_);
  const absl::Time now = Now();
  SweepLocked(now);
  if (const ParkedSession* parked = FindParkedLocked(id, tenant)) {
    LIGER_ASSIGN_OR_RETURN(std::string state, directory_->ReadState(*parked));
    return EncodeSession(*parked, state);
  }
  LIGER_ASSIGN_OR_RETURN(Entry * entry, FindLocked(id, tenant));
  if (entry->busy) return SessionBusyError(id);
  LIGER_ASSIGN_OR_RETURN(std::string state, codec_->Encode(tenant, entry->model, *entry->state));
  TouchLocked(*entry, now);
  return EncodeSession(Header(id, *entry), state);
}

absl::StatusOr<SessionInfo> SessionStore::Import(absl::string_view bytes,
                                                 const std::string& tenant) {
  if (codec_ == nullptr) {
    return absl::FailedPreconditionError("this server cannot serialize session states");
  }
  LIGER_ASSIGN_OR_RETURN(auto decoded, DecodeSession(bytes, "imported session"));
  const ParkedSession& header = decoded.first;
  if (header.tenant != tenant) {
    return absl::PermissionDeniedError("the imported session belongs to another tenant");
  }
  absl::MutexLock lock(&mu_);
  const absl::Time now = Now();
  SweepLocked(now);
  if (sessions_.count(header.id) != 0 || parked_.count(header.id) != 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("session ", header.id, " already exists on this server"));
  }
  LIGER_RETURN_IF_ERROR(CheckTenantRoomLocked(tenant));
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<ModelState> state,
                         codec_->Decode(tenant, header.model, decoded.second));
  LIGER_RETURN_IF_ERROR(
      MakeRoomLocked(state->bytes(), "", absl::StrCat("imported session ", header.id)));
  return InsertLocked(header.id, tenant, header.model, std::move(state), header.created, now);
}

absl::StatusOr<int> SessionStore::ParkAll() {
  absl::MutexLock lock(&mu_);
  if (directory_ == nullptr) return 0;
  int parked = 0;
  absl::Status first_error;
  for (auto it = lru_.begin(); it != lru_.end();) {
    const auto next = std::next(it);
    if (!sessions_.at(*it).busy) {
      if (absl::Status s = ParkLocked(std::string(*it)); s.ok()) {
        ++parked;
      } else if (first_error.ok()) {
        first_error = s;
      }
    }
    it = next;
  }
  if (!first_error.ok()) return first_error;
  return parked;
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
  stats.parked = static_cast<int64_t>(parked_.size());
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
  if (discard) return DeleteLocked(id);
  const int64_t bytes = entry.state->bytes();
  const int64_t growth = bytes - entry.bytes;
  if (growth > 0) {
    const std::string what = absl::StrCat("session ", id, " (grown to ", bytes, " bytes)");
    if (absl::Status s = MakeRoomLocked(growth, id, what); !s.ok()) {
      DeleteLocked(id).IgnoreError();  // its file went at Acquire
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
      ReportError(DeleteLocked(std::string(*it)));
      ++expired_;
      ++removed;
    }
    it = next;
  }
  while (!parked_by_use_.empty() && now - parked_by_use_.begin()->first > idle_ttl_) {
    const std::string id = parked_by_use_.begin()->second;
    ReportError(directory_->Remove(id));
    DropParkedLocked(id);
    ++expired_;
    ++removed;
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
      if (directory_ == nullptr) {
        EraseLocked(std::string(*it));
      } else if (absl::Status s = ParkLocked(std::string(*it)); !s.ok()) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "no room for ", what, ": evicting a least recently used session needs it parked, and ",
            s.message()));
      }
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

absl::StatusOr<std::string> SessionStore::UnusedIdLocked() {
  std::string id;
  do {
    LIGER_ASSIGN_OR_RETURN(id, NewSessionId());
  } while (sessions_.count(id) != 0 || parked_.count(id) != 0);
  return id;
}

SessionInfo SessionStore::InsertLocked(const std::string& id, std::string tenant,
                                       std::string model, std::unique_ptr<ModelState> state,
                                       absl::Time created, absl::Time last_used, bool on_disk) {
  CountTenantLocked(tenant, +1);
  Entry entry;
  entry.tenant = std::move(tenant);
  entry.model = std::move(model);
  entry.tokens = state->tokens();
  entry.bytes = state->bytes();
  entry.state = std::move(state);
  entry.created = created;
  entry.last_used = last_used;
  entry.on_disk = on_disk;
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
  CountTenantLocked(it->second.tenant, -1);
  sessions_.erase(it);
}

absl::Status SessionStore::DeleteLocked(const std::string& id) {
  if (parked_.count(id) != 0) {
    LIGER_RETURN_IF_ERROR(directory_->Remove(id));
    DropParkedLocked(id);
    return absl::OkStatus();
  }
  const auto it = sessions_.find(id);
  if (it == sessions_.end()) return absl::OkStatus();
  // The memory goes even when the file cannot: the session must not outlive its deletion here.
  absl::Status removed;
  if (it->second.on_disk) removed = directory_->Remove(id);
  EraseLocked(id);
  return removed;
}

void SessionStore::TouchLocked(Entry& entry, absl::Time now) {
  entry.last_used = std::max(entry.last_used, now);
  lru_.splice(lru_.end(), lru_, entry.lru);
}

absl::StatusOr<SessionStore::Entry*> SessionStore::FindLocked(const std::string& id,
                                                             const std::string& tenant) {
  auto it = sessions_.find(id);
  if (it != sessions_.end() && it->second.tenant == tenant) return &it->second;
  if (const ParkedSession* parked = FindParkedLocked(id, tenant)) {
    const ParkedSession copy = *parked;  // restoring drops it from parked_
    return RestoreLocked(copy);
  }
  return SessionNotFoundError(id);
}

const ParkedSession* SessionStore::FindParkedLocked(const std::string& id,
                                                    const std::string& tenant) {
  const auto it = parked_.find(id);
  return it != parked_.end() && it->second.tenant == tenant ? &it->second : nullptr;
}

absl::Status SessionStore::ParkLocked(const std::string& id) {
  Entry& entry = sessions_.at(id);
  ParkedSession parked = Header(id, entry);
  if (!entry.on_disk) {
    absl::StatusOr<std::string> bytes = codec_->Encode(entry.tenant, entry.model, *entry.state);
    absl::Status written =
        bytes.ok() ? directory_->Write(parked, *bytes) : std::move(bytes).status();
    if (!written.ok()) {
      return absl::Status(written.code(),
                          absl::StrCat("cannot park session ", id, ": ", written.message()));
    }
  }
  EraseLocked(id);
  AddParkedLocked(std::move(parked));
  return absl::OkStatus();
}

absl::StatusOr<SessionStore::Entry*> SessionStore::RestoreLocked(const ParkedSession& parked) {
  absl::StatusOr<std::string> bytes = directory_->ReadState(parked);
  absl::StatusOr<std::unique_ptr<ModelState>> state =
      bytes.ok() ? codec_->Decode(parked.tenant, parked.model, *bytes) : std::move(bytes).status();
  if (absl::IsDataLoss(state.status()) || absl::IsNotFound(state.status())) {
    // The file cannot become the session again; keep it aside for an operator, not in the way.
    ReportError(directory_->SetAside(parked.id));
    DropParkedLocked(parked.id);
  }
  if (!state.ok()) {
    return absl::Status(state.status().code(), absl::StrCat("cannot restore parked session ",
                                                            parked.id, ": ",
                                                            state.status().message()));
  }
  LIGER_RETURN_IF_ERROR(
      MakeRoomLocked((*state)->bytes(), "", absl::StrCat("restoring session ", parked.id)));
  DropParkedLocked(parked.id);
  InsertLocked(parked.id, parked.tenant, parked.model, *std::move(state), parked.created,
               parked.last_used, /*on_disk=*/true);
  return &sessions_.at(parked.id);
}

void SessionStore::AddParkedLocked(ParkedSession parked) {
  CountTenantLocked(parked.tenant, +1);
  parked_by_use_.emplace(parked.last_used, parked.id);
  const std::string id = parked.id;
  parked_.emplace(id, std::move(parked));
}

void SessionStore::DropParkedLocked(const std::string& id) {
  const auto it = parked_.find(id);
  if (it == parked_.end()) return;
  parked_by_use_.erase({it->second.last_used, id});
  CountTenantLocked(it->second.tenant, -1);
  parked_.erase(it);
}

void SessionStore::CountTenantLocked(const std::string& tenant, int delta) {
  if (int64_t& count = tenant_sessions_[tenant]; (count += delta) == 0) {
    tenant_sessions_.erase(tenant);
  }
}

void SessionStore::ReportError(const absl::Status& status) const {
  if (!status.ok() && on_error_) on_error_(status);
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

ParkedSession SessionStore::Header(const std::string& id, const Entry& entry) {
  ParkedSession header;
  header.id = id;
  header.tenant = entry.tenant;
  header.model = entry.model;
  header.created = entry.created;
  header.last_used = entry.last_used;
  header.tokens = entry.tokens;
  header.state_bytes = entry.bytes;
  return header;
}

SessionInfo SessionStore::Info(const ParkedSession& parked) {
  SessionInfo info;
  info.id = parked.id;
  info.tenant = parked.tenant;
  info.model = parked.model;
  info.created = parked.created;
  info.last_used = parked.last_used;
  info.tokens = parked.tokens;
  info.state_bytes = parked.state_bytes;
  return info;
}

}  // namespace liger
