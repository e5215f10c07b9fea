// Scheduler paths that need a model that misbehaves or whose every fed token can be inspected.
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "core/serving/generation_scheduler.h"
#include "core/serving/session_store.h"
#include "tests/core/engine/fake_causal_lm.h"
#include "tests/core/engine/fake_tokenizer.h"
#include "tests/core/serving/scheduler_test_util.h"

namespace liger {
namespace {

using ::liger::testing::FakeCausalLM;
using ::liger::testing::FakeState;
using ::liger::testing::FakeTokenizer;
using ::liger::testing::StreamRecorder;

// Ids of a four-token vocabulary: after kFakeA comes kFakeB, after kFakeB kFakeA; kFakeEos ends.
enum : int32_t { kFakeBos = 0, kFakeEos = 1, kFakeA = 2, kFakeB = 3 };

FakeTokenizer FourTokenTokenizer() {
  return FakeTokenizer({"<s>", "</s>", "a", "b"}, {kFakeBos, kFakeEos}, kFakeBos, kFakeEos);
}

std::unique_ptr<GenerationScheduler> FakeScheduler(const FakeCausalLM& model,
                                                   const Tokenizer& tokenizer) {
  absl::StatusOr<std::unique_ptr<GenerationScheduler>> scheduler =
      GenerationScheduler::Create(model, tokenizer, "fake", {}, nullptr);
  EXPECT_TRUE(scheduler.ok()) << scheduler.status();
  return *std::move(scheduler);
}

GenerationOptions FakeGreedy(int max_new_tokens) {
  GenerationOptions options;
  options.max_new_tokens = max_new_tokens;
  return options;
}

TEST(SchedulerFailureTest, FailedDecodeEndsTheBatchAndDeletesItsSession) {
  FakeCausalLM model({-1, -1, kFakeB, kFakeA});
  model.FailDecodeAfter(3);
  const FakeTokenizer tokenizer = FourTokenTokenizer();
  absl::StatusOr<std::unique_ptr<SessionStore>> store = SessionStore::New({});
  ASSERT_TRUE(store.ok());
  absl::StatusOr<SessionInfo> session = (*store)->Create("fake", model.NewState());
  ASSERT_TRUE(session.ok());
  StreamRecorder with_session, one_shot;
  {
    auto scheduler = FakeScheduler(model, tokenizer);
    GenerationRequest request = with_session.Request({kFakeBos, kFakeA}, FakeGreedy(50));
    request.session = *(*store)->Acquire(session->id);
    ASSERT_TRUE(scheduler->Submit(std::move(request)).ok());
    ASSERT_TRUE(scheduler->Submit(one_shot.Request({kFakeBos, kFakeB}, FakeGreedy(50))).ok());
    ASSERT_TRUE(with_session.WaitEnd());
    ASSERT_TRUE(one_shot.WaitEnd());
    EXPECT_EQ(scheduler->load().running, 0);
  }
  EXPECT_EQ(with_session.end().status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(one_shot.end().status.code(), absl::StatusCode::kInternal);
  EXPECT_LT(with_session.tokens().size(), 50u);
  EXPECT_EQ((*store)->Get(session->id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*store)->Stats().sessions, 0);
}

TEST(SchedulerFailureTest, SessionStateTakesEveryTokenSentThroughEos) {
  FakeCausalLM model({-1, -1, kFakeB, kFakeEos});  // a -> b -> EOS
  const FakeTokenizer tokenizer = FourTokenTokenizer();
  absl::StatusOr<std::unique_ptr<SessionStore>> store = SessionStore::New({});
  ASSERT_TRUE(store.ok());
  absl::StatusOr<SessionInfo> session = (*store)->Create("fake", model.NewState());
  ASSERT_TRUE(session.ok());
  auto scheduler = FakeScheduler(model, tokenizer);
  StreamRecorder stream;
  GenerationRequest request = stream.Request({kFakeBos, kFakeA}, FakeGreedy(50));
  absl::StatusOr<SessionLease> lease = (*store)->Acquire(session->id);
  ASSERT_TRUE(lease.ok());
  const FakeState& state = dynamic_cast<const FakeState&>(lease->state());
  request.session = *std::move(lease);
  ASSERT_TRUE(scheduler->Submit(std::move(request)).ok());
  ASSERT_TRUE(stream.WaitEnd());
  EXPECT_TRUE(stream.end().status.ok());
  EXPECT_EQ(stream.end().finish_reason, FinishReason::kEos);
  EXPECT_EQ(stream.tokens(), (std::vector<int32_t>{kFakeB, kFakeEos}));
  EXPECT_EQ(stream.text(), "b");
  // The final EOS was fed too, so the next turn continues after it.
  EXPECT_EQ(state.seen, (std::vector<int32_t>{kFakeBos, kFakeA, kFakeB, kFakeEos}));
  EXPECT_EQ((*store)->Get(session->id)->tokens, 4);
}

}  // namespace
}  // namespace liger
