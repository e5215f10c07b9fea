#include "core/serving/session_lease.h"

#include <utility>

#include "core/serving/session_store.h"

namespace liger {

SessionLease::SessionLease(SessionStore* store, std::string id, std::string model,
                           ModelState* state)
    : store_(store), id_(std::move(id)), model_(std::move(model)), state_(state) {}

SessionLease::SessionLease(SessionLease&& other) noexcept
    : store_(std::exchange(other.store_, nullptr)),
      id_(std::move(other.id_)),
      model_(std::move(other.model_)),
      state_(std::exchange(other.state_, nullptr)) {}

SessionLease& SessionLease::operator=(SessionLease&& other) noexcept {
  if (this != &other) {
    if (held()) Release().IgnoreError();
    store_ = std::exchange(other.store_, nullptr);
    id_ = std::move(other.id_);
    model_ = std::move(other.model_);
    state_ = std::exchange(other.state_, nullptr);
  }
  return *this;
}

SessionLease::~SessionLease() {
  // A failed release has already deleted the session; there is no one left to tell.
  if (held()) Release().IgnoreError();
}

absl::Status SessionLease::Release() {
  if (!held()) return absl::FailedPreconditionError("the session lease is not held");
  SessionStore* store = std::exchange(store_, nullptr);
  state_ = nullptr;
  return store->Return(id_, /*discard=*/false);
}

void SessionLease::Discard() {
  if (!held()) return;
  SessionStore* store = std::exchange(store_, nullptr);
  state_ = nullptr;
  store->Return(id_, /*discard=*/true).IgnoreError();
}

}  // namespace liger
