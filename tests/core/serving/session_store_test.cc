#include "core/serving/session_store.h"

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/serving/session_id.h"
#include "tests/core/serving/sized_state.h"

namespace liger {
namespace {

using ::liger::testing::SizedState;
using ::testing::HasSubstr;

// A clock the test moves by hand.
struct FakeClock {
  absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  std::function<absl::Time()> Function() {
    return [this] { return now; };
  }
};

std::unique_ptr<SessionStore> MakeStore(FakeClock& clock, int64_t budget = 1 << 20,
                                        absl::Duration ttl = absl::InfiniteDuration()) {
  SessionStoreOptions options;
  options.budget_bytes = budget;
  options.idle_ttl = ttl;
  options.clock = clock.Function();
  absl::StatusOr<std::unique_ptr<SessionStore>> store = SessionStore::New(std::move(options));
  EXPECT_TRUE(store.ok()) << store.status();
  return *std::move(store);
}

std::string MustCreate(SessionStore& store, int64_t bytes, int64_t tokens = 0) {
  absl::StatusOr<SessionInfo> info = store.Create("m", std::make_unique<SizedState>(bytes, tokens));
  EXPECT_TRUE(info.ok()) << info.status();
  return info.ok() ? info->id : "";
}

bool Exists(SessionStore& store, const std::string& id) { return store.Get(id).ok(); }

TEST(SessionStoreTest, RejectsBadOptionsAndArguments) {
  SessionStoreOptions no_budget;
  no_budget.budget_bytes = 0;
  EXPECT_EQ(SessionStore::New(no_budget).status().code(), absl::StatusCode::kInvalidArgument);
  SessionStoreOptions no_ttl;
  no_ttl.idle_ttl = absl::ZeroDuration();
  EXPECT_EQ(SessionStore::New(no_ttl).status().code(), absl::StatusCode::kInvalidArgument);

  FakeClock clock;
  auto store = MakeStore(clock);
  EXPECT_EQ(store->Create("m", nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Create("", std::make_unique<SizedState>(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SessionStoreTest, ASessionExistsOnlyForItsTenant) {
  FakeClock clock;
  auto store = MakeStore(clock);
  absl::StatusOr<SessionInfo> mine = store->Create("m", std::make_unique<SizedState>(10), "alpha");
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_EQ(mine->tenant, "alpha");
  const std::string id = mine->id;
  // Another tenant, and the unauthenticated one, see no such session: the same NOT_FOUND as for an
  // id never made.
  for (const std::string tenant : {"beta", ""}) {
    EXPECT_EQ(store->Get(id, tenant).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(store->Acquire(id, tenant).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(store->AcquireFor(id, "m", tenant).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(store->Fork(id, tenant).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(store->Delete(id, tenant).code(), absl::StatusCode::kNotFound);
    EXPECT_TRUE(store->List(tenant).empty());
    const std::string never_made(id.size(), 'f');
    std::string expected(store->Get(never_made, tenant).status().message());
    expected.replace(expected.find(never_made), never_made.size(), id);
    EXPECT_EQ(store->Get(id, tenant).status().message(), expected);
  }
  // Its tenant sees it, forks it (the copy is the tenant's too) and deletes it.
  ASSERT_TRUE(store->Get(id, "alpha").ok());
  absl::StatusOr<SessionInfo> fork = store->Fork(id, "alpha");
  ASSERT_TRUE(fork.ok()) << fork.status();
  EXPECT_EQ(fork->tenant, "alpha");
  EXPECT_EQ(store->Get(fork->id, "beta").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->List("alpha").size(), 2u);
  EXPECT_TRUE(store->Delete(id, "alpha").ok());
  EXPECT_EQ(store->Get(id, "alpha").status().code(), absl::StatusCode::kNotFound);
}

TEST(SessionStoreTest, EachTenantHoldsAtMostItsLimit) {
  FakeClock clock;
  SessionStoreOptions options;
  options.clock = clock.Function();
  options.max_sessions_per_tenant = 2;
  absl::StatusOr<std::unique_ptr<SessionStore>> store = SessionStore::New(options);
  ASSERT_TRUE(store.ok()) << store.status();
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<SessionInfo> info = (*store)->Create("m", std::make_unique<SizedState>(1), "alpha");
    ASSERT_TRUE(info.ok()) << info.status();
    ids.push_back(info->id);
  }
  EXPECT_EQ((*store)->Create("m", std::make_unique<SizedState>(1), "alpha").status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ((*store)->Fork(ids[0], "alpha").status().code(), absl::StatusCode::kResourceExhausted);
  // Other tenants have limits of their own; a deletion frees a place.
  EXPECT_TRUE((*store)->Create("m", std::make_unique<SizedState>(1), "beta").ok());
  ASSERT_TRUE((*store)->Delete(ids[0], "alpha").ok());
  EXPECT_TRUE((*store)->Fork(ids[1], "alpha").ok());

  SessionStoreOptions zero;
  zero.max_sessions_per_tenant = 0;
  EXPECT_EQ(SessionStore::New(zero).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SessionStoreTest, CreateGetListDelete) {
  FakeClock clock;
  auto store = MakeStore(clock);
  absl::StatusOr<SessionInfo> a = store->Create("llama", std::make_unique<SizedState>(100, 7));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->model, "llama");
  EXPECT_EQ(a->tokens, 7);
  EXPECT_EQ(a->state_bytes, 100);
  EXPECT_EQ(a->created, clock.now);
  EXPECT_FALSE(a->busy);
  clock.now += absl::Seconds(1);
  const std::string b = MustCreate(*store, 50, 3);

  absl::StatusOr<SessionInfo> got = store->Get(a->id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->tokens, 7);
  EXPECT_EQ(got->state_bytes, 100);
  std::vector<SessionInfo> all = store->List();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, a->id);  // oldest first
  EXPECT_EQ(all[1].id, b);
  EXPECT_EQ(store->Stats().used_bytes, 150);

  ASSERT_TRUE(store->Delete(a->id).ok());
  EXPECT_EQ(store->Get(a->id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Delete(a->id).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Acquire(a->id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Fork(a->id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->List().size(), 1u);
  EXPECT_EQ(store->Stats().used_bytes, 50);
  EXPECT_EQ(store->Stats().sessions, 1);
}

TEST(SessionStoreTest, IdsAreUniqueAnd32HexDigits) {
  FakeClock clock;
  auto store = MakeStore(clock);
  std::set<std::string> ids;
  for (int i = 0; i < 500; ++i) {
    const std::string id = i % 2 == 0 ? MustCreate(*store, 0) : *NewSessionId();
    ASSERT_EQ(id.size(), 32u) << id;
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 500u);
}

TEST(SessionStoreTest, LeaseIsExclusiveAndReleaseCommitsTheState) {
  FakeClock clock;
  auto store = MakeStore(clock);
  const std::string id = MustCreate(*store, 100, 5);
  {
    absl::StatusOr<SessionLease> lease = store->Acquire(id);
    ASSERT_TRUE(lease.ok()) << lease.status();
    EXPECT_EQ(lease->id(), id);
    EXPECT_EQ(lease->model(), "m");
    absl::StatusOr<SessionLease> second = store->Acquire(id);
    EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(second.status().message(), HasSubstr("session is busy"));
    EXPECT_EQ(store->Delete(id).code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(store->Fork(id).status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_TRUE(store->Get(id)->busy);

    clock.now += absl::Seconds(3);
    static_cast<SizedState&>(lease->state()).Set(120, 9);
    // Until released, the store reports what the session held when leased.
    EXPECT_EQ(store->Get(id)->tokens, 5);
    ASSERT_TRUE(lease->Release().ok());
    EXPECT_EQ(lease->Release().code(), absl::StatusCode::kFailedPrecondition);
  }
  absl::StatusOr<SessionInfo> info = store->Get(id);
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->busy);
  EXPECT_EQ(info->tokens, 9);
  EXPECT_EQ(info->state_bytes, 120);
  EXPECT_EQ(info->last_used, clock.now);
  EXPECT_EQ(store->Stats().used_bytes, 120);

  // A lease that goes out of scope is released; a moved-from one releases nothing.
  {
    absl::StatusOr<SessionLease> lease = store->Acquire(id);
    ASSERT_TRUE(lease.ok());
    SessionLease moved = *std::move(lease);
    EXPECT_FALSE(lease->held());
    EXPECT_TRUE(moved.held());
  }
  EXPECT_TRUE(store->Acquire(id).ok());  // (released again at the end of the statement)
}

TEST(SessionStoreTest, DiscardDeletesTheSession) {
  FakeClock clock;
  auto store = MakeStore(clock);
  const std::string id = MustCreate(*store, 100);
  absl::StatusOr<SessionLease> lease = store->Acquire(id);
  ASSERT_TRUE(lease.ok());
  lease->Discard();
  EXPECT_FALSE(lease->held());
  EXPECT_EQ(store->Get(id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Stats().used_bytes, 0);
}

TEST(SessionStoreTest, OnlyOneOfManyConcurrentAcquiresWins) {
  FakeClock clock;
  auto store = MakeStore(clock);
  const std::string id = MustCreate(*store, 10);
  std::atomic<int> winners{0};
  std::atomic<int> busy{0};
  std::vector<SessionLease> kept;
  absl::Mutex kept_mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      absl::StatusOr<SessionLease> lease = store->Acquire(id);
      if (lease.ok()) {
        ++winners;
        absl::MutexLock lock(&kept_mu);
        kept.push_back(*std::move(lease));  // held until all threads tried
      } else if (lease.status().code() == absl::StatusCode::kFailedPrecondition) {
        ++busy;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(busy.load(), 7);
}

TEST(SessionStoreTest, EvictsIdleSessionsLeastRecentlyUsedFirst) {
  FakeClock clock;
  auto store = MakeStore(clock, /*budget=*/300);
  const std::string a = MustCreate(*store, 100);
  clock.now += absl::Seconds(1);
  const std::string b = MustCreate(*store, 100);
  clock.now += absl::Seconds(1);
  const std::string c = MustCreate(*store, 100);
  clock.now += absl::Seconds(1);
  ASSERT_TRUE(store->Acquire(a)->Release().ok());  // a is now the most recently used
  // Get is not a use.
  ASSERT_TRUE(store->Get(b).ok());

  clock.now += absl::Seconds(1);
  const std::string d = MustCreate(*store, 100);
  EXPECT_FALSE(Exists(*store, b));
  EXPECT_TRUE(Exists(*store, c));
  EXPECT_TRUE(Exists(*store, a));
  clock.now += absl::Seconds(1);
  const std::string e = MustCreate(*store, 150);  // needs two evictions: c, then a
  EXPECT_FALSE(Exists(*store, c));
  EXPECT_FALSE(Exists(*store, a));
  EXPECT_TRUE(Exists(*store, d));
  EXPECT_TRUE(Exists(*store, e));
  const SessionStoreStats stats = store->Stats();
  EXPECT_EQ(stats.evicted, 3);
  EXPECT_EQ(stats.used_bytes, 250);
  EXPECT_EQ(stats.budget_bytes, 300);
}

TEST(SessionStoreTest, ExhaustedBudgetFailsWithoutEvictingBusySessions) {
  FakeClock clock;
  auto store = MakeStore(clock, /*budget=*/250);
  const std::string busy = MustCreate(*store, 100);
  const std::string idle = MustCreate(*store, 100);
  absl::StatusOr<SessionLease> lease = store->Acquire(busy);
  ASSERT_TRUE(lease.ok());

  absl::StatusOr<SessionInfo> big = store->Create("m", std::make_unique<SizedState>(200));
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(big.status().message(), HasSubstr("needs 200 bytes"));
  EXPECT_THAT(big.status().message(), HasSubstr("200 of the 250-byte session budget"));
  // Nothing was evicted for a request that could not be met.
  EXPECT_TRUE(Exists(*store, idle));
  EXPECT_EQ(store->Create("m", std::make_unique<SizedState>(251)).status().code(),
            absl::StatusCode::kResourceExhausted);
  // 150 fits once the idle session goes.
  EXPECT_TRUE(store->Create("m", std::make_unique<SizedState>(150)).ok());
  EXPECT_FALSE(Exists(*store, idle));
  EXPECT_TRUE(Exists(*store, busy));
  EXPECT_LE(store->Stats().used_bytes, 250);
}

TEST(SessionStoreTest, GrowthPastTheBudgetEvictsOthersOrDeletesTheSession) {
  FakeClock clock;
  auto store = MakeStore(clock, /*budget=*/300);
  const std::string growing = MustCreate(*store, 100);
  const std::string other = MustCreate(*store, 100);
  absl::StatusOr<SessionLease> lease = store->Acquire(growing);
  ASSERT_TRUE(lease.ok());
  static_cast<SizedState&>(lease->state()).Set(250, 10);
  ASSERT_TRUE(lease->Release().ok());
  EXPECT_FALSE(Exists(*store, other));
  EXPECT_EQ(store->Get(growing)->state_bytes, 250);

  lease = store->Acquire(growing);
  ASSERT_TRUE(lease.ok());
  static_cast<SizedState&>(lease->state()).Set(400, 20);
  const absl::Status released = lease->Release();
  EXPECT_EQ(released.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(released.message(), HasSubstr("deleted"));
  EXPECT_EQ(store->Get(growing).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Stats().used_bytes, 0);
}

TEST(SessionStoreTest, ForkDeepCopiesAndCountsAgainstTheBudget) {
  FakeClock clock;
  auto store = MakeStore(clock, /*budget=*/250);
  const std::string source = MustCreate(*store, 100, 4);
  absl::StatusOr<SessionInfo> fork = store->Fork(source);
  ASSERT_TRUE(fork.ok()) << fork.status();
  EXPECT_NE(fork->id, source);
  EXPECT_EQ(fork->tokens, 4);
  EXPECT_EQ(fork->state_bytes, 100);
  EXPECT_EQ(fork->model, "m");
  EXPECT_EQ(store->Stats().used_bytes, 200);

  // The copy is independent of its source.
  absl::StatusOr<SessionLease> lease = store->Acquire(fork->id);
  ASSERT_TRUE(lease.ok());
  static_cast<SizedState&>(lease->state()).Set(100, 9);
  ASSERT_TRUE(lease->Release().ok());
  EXPECT_EQ(store->Get(source)->tokens, 4);
  EXPECT_EQ(store->Get(fork->id)->tokens, 9);

  // A second copy fits only by evicting the first fork, never the source itself.
  clock.now += absl::Seconds(1);
  ASSERT_TRUE(store->Acquire(source)->Release().ok());
  absl::StatusOr<SessionInfo> second = store->Fork(source);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(Exists(*store, fork->id));
  EXPECT_TRUE(Exists(*store, source));

  auto small = MakeStore(clock, /*budget=*/150);
  const std::string only = MustCreate(*small, 100);
  EXPECT_EQ(small->Fork(only).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(Exists(*small, only));
}

TEST(SessionStoreTest, IdleSessionsExpireAfterTheTtl) {
  FakeClock clock;
  auto store = MakeStore(clock, 1 << 20, /*ttl=*/absl::Seconds(10));
  const std::string a = MustCreate(*store, 10);
  clock.now += absl::Seconds(5);
  const std::string b = MustCreate(*store, 10);
  const std::string busy = MustCreate(*store, 10);
  absl::StatusOr<SessionLease> lease = store->Acquire(busy);
  ASSERT_TRUE(lease.ok());

  clock.now += absl::Seconds(5);  // a is exactly 10 s idle: not yet longer than the TTL
  EXPECT_TRUE(Exists(*store, a));
  clock.now += absl::Seconds(1);
  EXPECT_EQ(store->Get(a).status().code(), absl::StatusCode::kNotFound);  // expired on access
  EXPECT_TRUE(Exists(*store, b));
  clock.now += absl::Seconds(5);
  EXPECT_EQ(store->SweepExpired(), 1);  // b; the busy session never expires
  EXPECT_FALSE(Exists(*store, b));
  EXPECT_TRUE(Exists(*store, busy));
  EXPECT_EQ(store->Stats().expired, 2);

  clock.now += absl::Seconds(100);
  ASSERT_TRUE(lease->Release().ok());  // a release is a use
  EXPECT_EQ(store->SweepExpired(), 0);
  clock.now += absl::Seconds(11);
  EXPECT_EQ(store->SweepExpired(), 1);
  EXPECT_EQ(store->Stats().sessions, 0);
  EXPECT_EQ(store->Stats().used_bytes, 0);
}

}  // namespace
}  // namespace liger
