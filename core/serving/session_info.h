#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace liger {

// What a session store tells about one session (a snapshot).
struct SessionInfo {
  std::string id;
  std::string tenant;        // the tenant it belongs to (empty without authentication)
  std::string model;         // the model whose state it holds
  absl::Time created;
  absl::Time last_used;      // the last lease, release or fork
  int64_t tokens = 0;        // tokens the state has consumed
  int64_t state_bytes = 0;   // tensor bytes the state holds
  bool busy = false;         // leased by a running generation
};

// The store as a whole, for metrics.
struct SessionStoreStats {
  int64_t sessions = 0;      // in memory
  int64_t parked = 0;        // in the session directory only
  int64_t used_bytes = 0;
  int64_t budget_bytes = 0;
  int64_t evicted = 0;  // sessions removed to make room, since the store was made
  int64_t expired = 0;  // sessions removed for being idle past the TTL
};

}  // namespace liger
