#pragma once

#include <string>

#include "absl/status/status.h"
#include "core/model/model_state.h"

namespace liger {

class SessionStore;

// Exclusive use of one session's state while a generation runs (see SessionStore::Acquire). Moving
// transfers the lease; destroying a held lease releases it. The store must outlive its leases.
class SessionLease {
 public:
  SessionLease(SessionLease&& other) noexcept;
  SessionLease& operator=(SessionLease&& other) noexcept;
  SessionLease(const SessionLease&) = delete;
  SessionLease& operator=(const SessionLease&) = delete;
  ~SessionLease();

  bool held() const { return store_ != nullptr; }
  const std::string& id() const { return id_; }
  const std::string& model() const { return model_; }
  // The session's state, to advance in place. Only while held().
  ModelState& state() const { return *state_; }

  // Commits the state's new token count and size and frees the session for its next use.
  // RESOURCE_EXHAUSTED when the state grew past the budget and idle sessions could not make room:
  // the session is then deleted. FAILED_PRECONDITION if the lease is not held.
  absl::Status Release();
  // The state is no longer usable (a generation failed midway): deletes the session.
  void Discard();

 private:
  friend class SessionStore;
  SessionLease(SessionStore* store, std::string id, std::string model, ModelState* state);

  SessionStore* store_ = nullptr;
  std::string id_;
  std::string model_;
  ModelState* state_ = nullptr;
};

}  // namespace liger
