#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/serving/session_store.h"
#include "tests/core/serving/sized_state.h"

namespace liger {
namespace {

using ::liger::testing::SizedState;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// Encodes a SizedState as "bytes,tokens", for the models in `models`.
class SizedStateCodec : public SessionCodec {
 public:
  absl::StatusOr<std::string> Encode(const std::string& /*tenant*/, const std::string& model,
                                     const ModelState& state) const override {
    if (models.count(model) == 0) return absl::FailedPreconditionError("model not loaded");
    return absl::StrCat(state.bytes(), ",", state.tokens());
  }
  absl::StatusOr<std::unique_ptr<ModelState>> Decode(const std::string& /*tenant*/,
                                                     const std::string& model,
                                                     absl::string_view bytes) const override {
    if (models.count(model) == 0) return absl::FailedPreconditionError("model not loaded");
    std::vector<std::string> fields = absl::StrSplit(bytes, ',');
    int64_t size = 0;
    int64_t tokens = 0;
    if (fields.size() != 2 || !absl::SimpleAtoi(fields[0], &size) ||
        !absl::SimpleAtoi(fields[1], &tokens)) {
      return absl::DataLossError("not a sized state");
    }
    return std::make_unique<SizedState>(size, tokens);
  }

  std::set<std::string> models = {"m"};
};

class SessionStoreParkingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/liger-session-dir-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A store on dir_ holding at most `budget` bytes in memory.
  std::unique_ptr<SessionStore> Open(int64_t budget = 100,
                                     absl::Duration ttl = absl::InfiniteDuration()) {
    SessionStoreOptions options;
    options.budget_bytes = budget;
    options.idle_ttl = ttl;
    options.clock = [this] { return now_; };
    options.session_dir = dir_;
    options.codec = &codec_;
    options.on_error = [this](const absl::Status& status) { errors_.push_back(status); };
    absl::StatusOr<std::unique_ptr<SessionStore>> store = SessionStore::New(std::move(options));
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  static std::string MustCreate(SessionStore& store, int64_t bytes, int64_t tokens,
                                const std::string& tenant = "") {
    absl::StatusOr<SessionInfo> info =
        store.Create("m", std::make_unique<SizedState>(bytes, tokens), tenant);
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? info->id : "";
  }

  std::string FileOf(const std::string& id) const { return absl::StrCat(dir_, "/", id, ".session"); }
  bool HasFile(const std::string& id) const { return std::filesystem::exists(FileOf(id)); }

  std::string dir_;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  SizedStateCodec codec_;
  std::vector<absl::Status> errors_;
};

TEST_F(SessionStoreParkingTest, EvictionParksAndTheNextUseRestoresTheSameState) {
  auto store = Open(/*budget=*/100);
  const std::string a = MustCreate(*store, 60, 7);
  const std::string b = MustCreate(*store, 60, 9);  // evicts a to disk
  EXPECT_TRUE(HasFile(a));
  EXPECT_FALSE(HasFile(b));
  SessionStoreStats stats = store->Stats();
  EXPECT_EQ(stats.sessions, 1);
  EXPECT_EQ(stats.parked, 1);
  EXPECT_EQ(stats.used_bytes, 60);

  // Get and List answer from the header without bringing it back.
  absl::StatusOr<SessionInfo> info = store->Get(a);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->tokens, 7);
  EXPECT_EQ(info->state_bytes, 60);
  EXPECT_THAT(store->List(), SizeIs(2));
  EXPECT_EQ(store->Stats().parked, 1);

  absl::StatusOr<SessionLease> lease = store->Acquire(a);  // parks b to make room
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->state().tokens(), 7);
  EXPECT_EQ(lease->state().bytes(), 60);
  EXPECT_FALSE(HasFile(a)) << "a leased state moves on; its old file must go";
  EXPECT_TRUE(HasFile(b));
  static_cast<SizedState&>(lease->state()).Set(60, 12);
  ASSERT_TRUE(lease->Release().ok());
  EXPECT_EQ(store->Get(a)->tokens, 12);
  EXPECT_TRUE(errors_.empty());
}

TEST_F(SessionStoreParkingTest, ParkAllThenANewStoreOnTheDirectoryHasEverySession) {
  std::string a, b, c, forked;
  {
    auto store = Open(/*budget=*/1000);
    a = MustCreate(*store, 10, 1, "tenant-a");
    b = MustCreate(*store, 20, 2, "tenant-b");
    c = MustCreate(*store, 30, 3, "tenant-a");
    absl::StatusOr<SessionInfo> fork = store->Fork(c, "tenant-a");
    ASSERT_TRUE(fork.ok()) << fork.status();
    forked = fork->id;
    absl::StatusOr<int> parked = store->ParkAll();
    ASSERT_TRUE(parked.ok()) << parked.status();
    EXPECT_EQ(*parked, 4);
    EXPECT_EQ(store->Stats().sessions, 0);
  }
  auto store = Open(/*budget=*/1000);
  EXPECT_EQ(store->Stats().parked, 4);
  EXPECT_THAT(store->List("tenant-a"), SizeIs(3));
  EXPECT_THAT(store->List("tenant-b"), SizeIs(1));
  for (const auto& [id, tenant, tokens] :
       std::vector<std::tuple<std::string, std::string, int64_t>>{
           {a, "tenant-a", 1}, {b, "tenant-b", 2}, {c, "tenant-a", 3}, {forked, "tenant-a", 3}}) {
    absl::StatusOr<SessionLease> lease = store->Acquire(id, tenant);
    ASSERT_TRUE(lease.ok()) << lease.status();
    EXPECT_EQ(lease->state().tokens(), tokens);
  }
  // Each tenant still sees only its own, parked or not.
  EXPECT_EQ(store->Get(b, "tenant-a").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(errors_.empty());
}

TEST_F(SessionStoreParkingTest, AnotherTenantCannotTouchAParkedSession) {
  auto store = Open(/*budget=*/100);
  const std::string a = MustCreate(*store, 60, 1, "owner");
  MustCreate(*store, 60, 1, "owner");  // parks a
  ASSERT_TRUE(HasFile(a));
  EXPECT_EQ(store->Get(a, "intruder").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Acquire(a, "intruder").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Fork(a, "intruder").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Delete(a, "intruder").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(HasFile(a));
  EXPECT_TRUE(store->Delete(a, "owner").ok());
  EXPECT_FALSE(HasFile(a));
  EXPECT_EQ(store->Get(a, "owner").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SessionStoreParkingTest, ParkedSessionsCountAgainstTheTenantLimit) {
  SessionStoreOptions options;
  options.budget_bytes = 100;
  options.session_dir = dir_;
  options.codec = &codec_;
  options.max_sessions_per_tenant = 2;
  auto store = *SessionStore::New(std::move(options));
  MustCreate(*store, 60, 0);
  MustCreate(*store, 60, 0);  // the first is parked, still the tenant's
  EXPECT_EQ(store->Create("m", std::make_unique<SizedState>(1)).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(SessionStoreParkingTest, ForkOfAParkedSessionRestoresItAndLeavesItsFile) {
  auto store = Open(/*budget=*/100);
  const std::string a = MustCreate(*store, 50, 5);
  MustCreate(*store, 60, 0);  // parks a
  ASSERT_TRUE(HasFile(a));
  absl::StatusOr<SessionInfo> fork = store->Fork(a);
  ASSERT_TRUE(fork.ok()) << fork.status();
  EXPECT_EQ(fork->tokens, 5);
  // a's state is unchanged, so its file still holds it and parking it again writes nothing.
  EXPECT_TRUE(HasFile(a));
}

TEST_F(SessionStoreParkingTest, ExpiredParkedSessionsAreRemovedWithTheirFiles) {
  std::string a;
  {
    auto store = Open(/*budget=*/100, absl::Hours(1));
    a = MustCreate(*store, 60, 0);
    ASSERT_TRUE(store->ParkAll().ok());
  }
  now_ += absl::Hours(2);
  auto store = Open(/*budget=*/100, absl::Hours(1));
  EXPECT_EQ(store->Stats().parked, 0);
  EXPECT_EQ(store->Stats().expired, 1);
  EXPECT_FALSE(HasFile(a));
}

TEST_F(SessionStoreParkingTest, ADamagedFileIsDataLossAndSetAside) {
  std::string a;
  {
    auto store = Open();
    a = MustCreate(*store, 10, 3);
    ASSERT_TRUE(store->ParkAll().ok());
  }
  {
    std::fstream file(FileOf(a), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(-6, std::ios::end);
    file.put('X');
  }
  auto store = Open();
  EXPECT_EQ(store->Acquire(a).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(HasFile(a));
  EXPECT_TRUE(std::filesystem::exists(FileOf(a) + ".damaged"));
  EXPECT_EQ(store->Get(a).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SessionStoreParkingTest, UnreadableFilesAreReportedAndSkippedAtStart) {
  std::ofstream(absl::StrCat(dir_, "/0123.session")) << "garbage";
  auto store = Open();
  EXPECT_EQ(store->Stats().parked, 0);
  ASSERT_THAT(errors_, SizeIs(1));
  EXPECT_EQ(errors_[0].code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(errors_[0].message(), HasSubstr("0123.session"));
}

TEST_F(SessionStoreParkingTest, ASessionOfAModelNotLoadedStaysParkedUntilItIs) {
  auto store = Open(/*budget=*/100);
  const std::string a = MustCreate(*store, 60, 4);
  MustCreate(*store, 60, 0);  // parks a
  codec_.models.erase("m");
  EXPECT_EQ(store->Acquire(a).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(HasFile(a));
  EXPECT_TRUE(store->Get(a).ok());
  codec_.models.insert("m");
  absl::StatusOr<SessionLease> lease = store->Acquire(a);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->state().tokens(), 4);
}

TEST_F(SessionStoreParkingTest, ASessionThatCannotBeParkedIsNotEvictedToMakeRoom) {
  auto store = Open(/*budget=*/100);
  const std::string a = MustCreate(*store, 60, 4);
  codec_.models.erase("m");  // writing a's state now fails, as on a full disk
  absl::StatusOr<SessionInfo> b = store->Create("m", std::make_unique<SizedState>(60, 0));
  EXPECT_EQ(b.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(b.status().message(), HasSubstr(absl::StrCat("cannot park session ", a)));
  EXPECT_FALSE(HasFile(a));
  absl::StatusOr<SessionLease> lease = store->Acquire(a);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->state().tokens(), 4);
}

// Moving a session to another replica: Export on one store, Import on another.
TEST_F(SessionStoreParkingTest, AnExportedSessionImportsElsewhereUnderTheSameId) {
  auto here = Open(/*budget=*/100);
  const std::string a = MustCreate(*here, 50, 6, "tenant-a");
  absl::StatusOr<std::string> bytes = here->Export(a, "tenant-a");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(here->Get(a, "tenant-a").ok()) << "exporting leaves the session in place";

  SessionStoreOptions options;
  options.codec = &codec_;
  auto there = *SessionStore::New(std::move(options));
  absl::StatusOr<SessionInfo> imported = there->Import(*bytes, "tenant-a");
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->id, a);
  EXPECT_EQ(imported->tokens, 6);
  absl::StatusOr<SessionLease> lease = there->Acquire(a, "tenant-a");
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->state().bytes(), 50);
  lease->Release().IgnoreError();

  // A parked session exports from its file.
  MustCreate(*here, 60, 0, "tenant-a");  // parks a
  ASSERT_TRUE(HasFile(a));
  EXPECT_EQ(here->Export(a, "tenant-a").value_or(""), *bytes);
}

TEST_F(SessionStoreParkingTest, ExportAndImportRefuseWhatTheyMust) {
  auto here = Open();
  const std::string a = MustCreate(*here, 10, 1, "tenant-a");
  EXPECT_EQ(here->Export(a, "tenant-b").status().code(), absl::StatusCode::kNotFound);
  {
    absl::StatusOr<SessionLease> lease = here->Acquire(a, "tenant-a");
    ASSERT_TRUE(lease.ok());
    EXPECT_EQ(here->Export(a, "tenant-a").status().code(), absl::StatusCode::kFailedPrecondition);
  }
  const std::string bytes = *here->Export(a, "tenant-a");

  EXPECT_EQ(here->Import(bytes, "tenant-a").status().code(), absl::StatusCode::kAlreadyExists);
  auto there = Open();
  EXPECT_EQ(there->Import(bytes, "tenant-b").status().code(),
            absl::StatusCode::kPermissionDenied);
  for (size_t i = 0; i < bytes.size(); i += 7) {
    std::string damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x20);
    const absl::StatusCode code = there->Import(damaged, "tenant-a").status().code();
    EXPECT_TRUE(code == absl::StatusCode::kDataLoss || code == absl::StatusCode::kFailedPrecondition)
        << "byte " << i << ": " << code;
  }
  EXPECT_EQ(there->Import(bytes.substr(0, bytes.size() - 1), "tenant-a").status().code(),
            absl::StatusCode::kDataLoss);
  // An id that could name a path outside the directory never gets in.
  ParkedSession hostile;
  hostile.id = "../../escaped";
  hostile.tenant = "tenant-a";
  hostile.model = "m";
  EXPECT_EQ(there->Import(EncodeSession(hostile, "10,1"), "tenant-a").status().code(),
            absl::StatusCode::kDataLoss);
  codec_.models.erase("m");
  EXPECT_EQ(there->Import(bytes, "tenant-a").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(there->Stats().sessions, 0);
}

TEST_F(SessionStoreParkingTest, WithoutACodecTheDirectoryIsRefused) {
  SessionStoreOptions options;
  options.session_dir = dir_;
  EXPECT_EQ(SessionStore::New(std::move(options)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace liger
