// The scheduler against the real fixture model: batched streams must produce exactly what each
// request produces alone through Generate, for the softmax teacher and a converted Liger model.
#include "core/serving/generation_scheduler.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/engine/generator.h"
#include "core/model/model_loader.h"
#include "core/serving/session_store.h"
#include "core/tokenizer/tokenizer_loader.h"
#include "nlohmann/json.hpp"
#include "tests/core/serving/scheduler_test_util.h"
#include "tests/test_device.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

namespace fs = std::filesystem;
using ::liger::testing::CountingObserver;
using ::liger::testing::FixtureModel;
using ::liger::testing::StreamRecorder;
using ::testing::HasSubstr;

constexpr char kFixture[] = "llama3-tiny";

struct LoadedModel {
  std::unique_ptr<Transformer> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

// "teacher": the fixture itself; "gla": its config converted to a Liger GLA model (conversion adds
// no tensors, so the fixture's weights serve).
const LoadedModel& Model(const std::string& kind) {
  static auto* models = new std::map<std::string, LoadedModel>();
  auto it = models->find(kind);
  if (it != models->end()) return it->second;
  std::string dir = FixtureModel(kFixture);
  const fs::path temp = fs::temp_directory_path() /
                        ("liger-serving-test-" + std::to_string(::getpid()) + "-" + kind);
  if (kind != "teacher") {
    fs::remove_all(temp);
    fs::create_directories(temp);
    std::ifstream in(dir + "/config.json");
    nlohmann::json config = nlohmann::json::parse(in);
    config["liger"] = {{"base_model_type", config["model_type"]}, {"variant", kind},
                       {"softmax_layers", std::vector<int>{}}, {"gsa_slots", 16},
                       {"chunk_size", 16}};
    config["model_type"] = "liger_" + kind;
    std::ofstream(temp / "config.json") << config.dump(2);
    fs::create_symlink(dir + "/model.safetensors", temp / "model.safetensors");
    dir = temp.string();
  }
  ModelLoadOptions options;
  options.device = ::liger::testing::TestDevice();
  LoadedModel loaded;
  absl::StatusOr<std::unique_ptr<Transformer>> model = LoadModel(dir, options);
  fs::remove_all(temp);
  EXPECT_TRUE(model.ok()) << model.status();
  if (model.ok()) loaded.model = *std::move(model);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(FixtureModel(kFixture));
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  if (tokenizer.ok()) loaded.tokenizer = *std::move(tokenizer);
  return models->emplace(kind, std::move(loaded)).first->second;
}

// As many new tokens as a request may ask for: longer than any test waits.
const int kEndless = static_cast<int>(SchedulerOptions().max_new_tokens);

GenerationOptions Greedy(int max_new_tokens, bool ignore_eos = true) {
  GenerationOptions options;
  options.max_new_tokens = max_new_tokens;
  options.ignore_eos = ignore_eos;
  return options;
}

std::vector<int32_t> Concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class SchedulerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const LoadedModel& loaded = Model(GetParam());
    ASSERT_NE(loaded.model, nullptr);
    ASSERT_NE(loaded.tokenizer, nullptr);
    model_ = loaded.model.get();
    tokenizer_ = loaded.tokenizer.get();
  }

  std::unique_ptr<GenerationScheduler> MakeScheduler(SchedulerOptions options = {}) {
    absl::StatusOr<std::unique_ptr<GenerationScheduler>> scheduler =
        GenerationScheduler::Create(*model_, *tokenizer_, GetParam(), options, &observer_);
    EXPECT_TRUE(scheduler.ok()) << scheduler.status();
    return scheduler.ok() ? *std::move(scheduler) : nullptr;
  }

  std::vector<int32_t> Encode(const std::string& text) {
    absl::StatusOr<std::vector<int32_t>> ids = tokenizer_->Encode(text, true);
    EXPECT_TRUE(ids.ok()) << ids.status();
    return ids.ok() ? *ids : std::vector<int32_t>{};
  }

  // What Generate makes of the prompt alone, on a fresh state.
  GenerationResult Alone(const std::vector<int32_t>& prompt, const GenerationOptions& options) {
    std::unique_ptr<ModelState> state = model_->NewState();
    absl::StatusOr<GenerationResult> result =
        Generate(*model_, *tokenizer_, *state, prompt, options, nullptr);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : GenerationResult{};
  }

  std::unique_ptr<SessionStore> MakeStore() {
    absl::StatusOr<std::unique_ptr<SessionStore>> store = SessionStore::New({});
    EXPECT_TRUE(store.ok()) << store.status();
    return *std::move(store);
  }

  const Transformer* model_ = nullptr;
  const Tokenizer* tokenizer_ = nullptr;
  CountingObserver observer_;
};

TEST_P(SchedulerTest, ConcurrentGreedyRequestsMatchEachRunAlone) {
  const std::vector<std::string> texts = {
      "Once upon a time", "The old man walked slowly down the road and", "In the morning",
      "She opened the door and saw", "It was a dark and stormy night; the rain fell in torrents"};
  const std::vector<int> lengths = {12, 25, 7, 18, 30};
  std::vector<std::unique_ptr<StreamRecorder>> recorders;
  auto scheduler = MakeScheduler();
  ASSERT_NE(scheduler, nullptr);
  for (size_t i = 0; i < texts.size(); ++i) {
    recorders.push_back(std::make_unique<StreamRecorder>());
    ASSERT_TRUE(scheduler
                    ->Submit(recorders[i]->Request(Encode(texts[i]),
                                                   Greedy(lengths[i], /*ignore_eos=*/i % 2 == 0)))
                    .ok());
  }
  int64_t generated = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_TRUE(recorders[i]->WaitEnd());
    const GenerationResult alone = Alone(Encode(texts[i]), Greedy(lengths[i], i % 2 == 0));
    EXPECT_EQ(recorders[i]->tokens(), alone.tokens) << texts[i];
    EXPECT_EQ(recorders[i]->text(), alone.text) << texts[i];
    const GenerationEnd end = recorders[i]->end();
    EXPECT_TRUE(end.status.ok()) << end.status;
    EXPECT_EQ(end.finish_reason, alone.finish_reason);
    EXPECT_EQ(end.usage.prompt_tokens, alone.prompt_tokens);
    EXPECT_EQ(end.usage.generated_tokens, alone.generated_tokens);
    EXPECT_EQ(end.usage.state_tokens, 0);
    generated += alone.generated_tokens;
  }
  EXPECT_GT(observer_.max_batch(), 1);
  EXPECT_EQ(observer_.first_tokens(), static_cast<int>(texts.size()));
  EXPECT_EQ(observer_.generated_tokens(), generated);
  EXPECT_EQ(observer_.inter_tokens(), generated - static_cast<int64_t>(texts.size()));
  EXPECT_EQ(scheduler->load().running, 0);
  EXPECT_EQ(scheduler->load().waiting, 0);
}

TEST_P(SchedulerTest, SessionTurnsPrefillOnlyNewTokensAndEqualOneShotGeneration) {
  auto store = MakeStore();
  auto scheduler = MakeScheduler();
  ASSERT_NE(scheduler, nullptr);
  absl::StatusOr<SessionInfo> session = store->Create(GetParam(), model_->NewState());
  ASSERT_TRUE(session.ok()) << session.status();

  const std::vector<int32_t> first = Encode("The little dog ran");
  StreamRecorder turn1;
  GenerationRequest request = turn1.Request(first, Greedy(9));
  absl::StatusOr<SessionLease> lease = store->Acquire(session->id);
  ASSERT_TRUE(lease.ok()) << lease.status();
  request.session = *std::move(lease);
  ASSERT_TRUE(scheduler->Submit(std::move(request)).ok());
  ASSERT_TRUE(turn1.WaitEnd());
  ASSERT_TRUE(turn1.end().status.ok()) << turn1.end().status;
  const std::vector<int32_t> out1 = turn1.tokens();
  EXPECT_EQ(out1, Alone(first, Greedy(9)).tokens);
  const int64_t after1 = static_cast<int64_t>(first.size() + out1.size());
  EXPECT_EQ(turn1.end().usage.state_tokens, after1);
  // The session is free again as soon as the final event arrives.
  absl::StatusOr<SessionInfo> info1 = store->Get(session->id);
  ASSERT_TRUE(info1.ok());
  EXPECT_EQ(info1->tokens, after1);
  EXPECT_FALSE(info1->busy);

  absl::StatusOr<std::vector<int32_t>> second = tokenizer_->Encode(" and then the cat", false);
  ASSERT_TRUE(second.ok());
  StreamRecorder turn2;
  request = turn2.Request(*second, Greedy(11));
  lease = store->Acquire(session->id);
  ASSERT_TRUE(lease.ok()) << lease.status();
  request.session = *std::move(lease);
  ASSERT_TRUE(scheduler->Submit(std::move(request)).ok());
  ASSERT_TRUE(turn2.WaitEnd());
  ASSERT_TRUE(turn2.end().status.ok()) << turn2.end().status;
  EXPECT_EQ(turn2.end().usage.prompt_tokens, static_cast<int64_t>(second->size()));

  const GenerationResult one_shot = Alone(Concat(Concat(first, out1), *second), Greedy(11));
  EXPECT_EQ(turn2.tokens(), one_shot.tokens);
  const int64_t after2 = after1 + static_cast<int64_t>(second->size() + one_shot.tokens.size());
  EXPECT_EQ(turn2.end().usage.state_tokens, after2);
  absl::StatusOr<SessionInfo> info2 = store->Get(session->id);
  ASSERT_TRUE(info2.ok());
  EXPECT_EQ(info2->tokens, after2);
  if (GetParam() != "teacher") {
    EXPECT_EQ(info2->state_bytes, info1->state_bytes) << "a Liger state must not grow";
  } else {
    EXPECT_GT(info2->state_bytes, info1->state_bytes);
  }
  EXPECT_EQ(store->Stats().used_bytes, info2->state_bytes);
}

INSTANTIATE_TEST_SUITE_P(Models, SchedulerTest, ::testing::Values("teacher", "gla"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

// The behaviours below do not depend on the model kind; the teacher keeps them quick.
class SchedulerBehaviourTest : public SchedulerTest {
 protected:
  // On the GPU a client receives a step's tokens while the next step runs, so whatever it does on
  // seeing them (a new request, here) takes effect up to one step later than on the CPU.
  int PipelinedSteps() const { return model_->device().is_cuda() ? 1 : 0; }
};

TEST_P(SchedulerBehaviourTest, RequestSubmittedWhileOthersRunStartsWithinOneStep) {
  SchedulerOptions options;
  options.max_stepped_prompt_tokens = 0;  // prefilled between two steps
  auto scheduler = MakeScheduler(options);
  ASSERT_NE(scheduler, nullptr);
  StreamRecorder running(&observer_);
  ASSERT_TRUE(scheduler->Submit(running.Request(Encode("Far away"), Greedy(60))).ok());
  ASSERT_TRUE(running.WaitTokens(5));
  StreamRecorder late(&observer_);
  const int steps_at_submit = observer_.steps();
  ASSERT_TRUE(scheduler->Submit(late.Request(Encode("Near here"), Greedy(10))).ok());
  ASSERT_TRUE(late.WaitEnd());
  ASSERT_FALSE(late.steps_at_token().empty());
  EXPECT_LE(late.steps_at_token().front(), steps_at_submit + 1 + PipelinedSteps());
  // The running stream kept decoding alongside, one token per step.
  ASSERT_TRUE(running.WaitEnd());
  const std::vector<int> steps = running.steps_at_token();
  for (size_t i = 1; i < steps.size(); ++i) EXPECT_EQ(steps[i], steps[i - 1] + 1);
  EXPECT_EQ(running.tokens(), Alone(Encode("Far away"), Greedy(60)).tokens);
}

TEST_P(SchedulerBehaviourTest, ShortPromptJoiningRunningStreamsIsFedByTheirDecodeSteps) {
  auto scheduler = MakeScheduler();
  ASSERT_NE(scheduler, nullptr);
  StreamRecorder running(&observer_);
  ASSERT_TRUE(scheduler->Submit(running.Request(Encode("Far away"), Greedy(60))).ok());
  ASSERT_TRUE(running.WaitTokens(5));
  const std::vector<int32_t> prompt = Encode("Near here, by the old mill");
  ASSERT_GE(prompt.size(), 4u);
  const int64_t prompt_tokens_before = observer_.prompt_tokens();
  StreamRecorder late(&observer_);
  const int steps_at_submit = observer_.steps();
  ASSERT_TRUE(scheduler->Submit(late.Request(prompt, Greedy(10))).ok());
  ASSERT_TRUE(late.WaitEnd());
  ASSERT_TRUE(late.end().status.ok()) << late.end().status;
  // One decode step per prompt token (no prefill): the first token follows the prompt's last.
  ASSERT_FALSE(late.steps_at_token().empty());
  const int first = late.steps_at_token().front();
  EXPECT_GE(first, steps_at_submit + static_cast<int>(prompt.size()));
  EXPECT_LE(first, steps_at_submit + static_cast<int>(prompt.size()) + 1 + PipelinedSteps());
  EXPECT_EQ(late.tokens(), Alone(prompt, Greedy(10)).tokens);
  EXPECT_EQ(late.end().usage.prompt_tokens, static_cast<int64_t>(prompt.size()));
  EXPECT_EQ(observer_.prompt_tokens() - prompt_tokens_before, static_cast<int64_t>(prompt.size()));
  ASSERT_TRUE(running.WaitEnd());
  const std::vector<int> steps = running.steps_at_token();
  for (size_t i = 1; i < steps.size(); ++i) EXPECT_EQ(steps[i], steps[i - 1] + 1);
  EXPECT_EQ(running.tokens(), Alone(Encode("Far away"), Greedy(60)).tokens);
}

TEST_P(SchedulerBehaviourTest, SessionTurnFedByDecodeStepsEqualsOneShotGeneration) {
  auto store = MakeStore();
  auto scheduler = MakeScheduler();
  ASSERT_NE(scheduler, nullptr);
  StreamRecorder running;
  ASSERT_TRUE(scheduler->Submit(running.Request(Encode("Far away"), Greedy(kEndless))).ok());
  ASSERT_TRUE(running.WaitTokens(1));
  absl::StatusOr<SessionInfo> session = store->Create(GetParam(), model_->NewState());
  ASSERT_TRUE(session.ok());
  std::vector<int32_t> history;
  for (const char* text : {"The little dog ran", " and then the cat"}) {
    absl::StatusOr<std::vector<int32_t>> turn = tokenizer_->Encode(text, history.empty());
    ASSERT_TRUE(turn.ok());
    StreamRecorder stream;
    GenerationRequest request = stream.Request(*turn, Greedy(6));
    request.session = *store->Acquire(session->id);
    ASSERT_TRUE(scheduler->Submit(std::move(request)).ok());
    ASSERT_TRUE(stream.WaitEnd());
    ASSERT_TRUE(stream.end().status.ok()) << stream.end().status;
    history = Concat(history, *turn);
    EXPECT_EQ(stream.tokens(), Alone(history, Greedy(6)).tokens) << text;
    history = Concat(history, stream.tokens());
    EXPECT_EQ(store->Get(session->id)->tokens, static_cast<int64_t>(history.size()));
  }
  running.Cancel();
  ASSERT_TRUE(running.WaitEnd());
}

TEST_P(SchedulerBehaviourTest, CancelStopsWithinOneStepAndFreesTheSlot) {
  SchedulerOptions options;
  options.max_batch_size = 1;
  auto scheduler = MakeScheduler(options);
  ASSERT_NE(scheduler, nullptr);
  StreamRecorder cancelled(&observer_);
  StreamRecorder next(&observer_);
  cancelled.CancelAfter(4);
  ASSERT_TRUE(scheduler->Submit(cancelled.Request(Encode("One"), Greedy(500))).ok());
  ASSERT_TRUE(scheduler->Submit(next.Request(Encode("Two"), Greedy(6))).ok());
  ASSERT_TRUE(cancelled.WaitEnd());
  const GenerationEnd end = cancelled.end();
  EXPECT_EQ(end.status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(end.finish_reason, FinishReason::kCancelled);
  EXPECT_EQ(cancelled.tokens().size(), 4u);  // nothing after the cancel
  EXPECT_EQ(end.usage.generated_tokens, 4);
  // The only slot went to the waiting request.
  ASSERT_TRUE(next.WaitEnd());
  EXPECT_TRUE(next.end().status.ok());
  EXPECT_EQ(next.tokens(), Alone(Encode("Two"), Greedy(6)).tokens);
  EXPECT_LE(next.steps_at_token().front(), cancelled.steps_at_token().back() + 1);
}

TEST_P(SchedulerBehaviourTest, CancelledSessionHoldsEveryTokenSent) {
  auto store = MakeStore();
  auto scheduler = MakeScheduler();
  ASSERT_NE(scheduler, nullptr);
  absl::StatusOr<SessionInfo> session = store->Create(GetParam(), model_->NewState());
  ASSERT_TRUE(session.ok());
  const std::vector<int32_t> prompt = Encode("A river");
  StreamRecorder stream(&observer_);
  GenerationRequest request = stream.Request(prompt, Greedy(kEndless));
  request.session = *store->Acquire(session->id);
  ASSERT_TRUE(scheduler->Submit(std::move(request)).ok());
  ASSERT_TRUE(stream.WaitTokens(3));
  EXPECT_EQ(store->Acquire(session->id).status().code(), absl::StatusCode::kFailedPrecondition);
  const size_t sent_at_cancel = stream.tokens().size();
  stream.Cancel();  // from another thread, as a gone client
  ASSERT_TRUE(stream.WaitEnd());
  const std::vector<int32_t> sent = stream.tokens();
  EXPECT_LE(sent.size(), sent_at_cancel + 1);
  const GenerationEnd end = stream.end();
  EXPECT_EQ(end.status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(end.usage.generated_tokens, static_cast<int64_t>(sent.size()));
  EXPECT_EQ(end.usage.state_tokens, static_cast<int64_t>(prompt.size() + sent.size()));
  absl::StatusOr<SessionInfo> info = store->Get(session->id);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->tokens, static_cast<int64_t>(prompt.size() + sent.size()));
  EXPECT_FALSE(info->busy);
  // The slot is free: a new request runs at once.
  StreamRecorder after;
  ASSERT_TRUE(scheduler->Submit(after.Request(prompt, Greedy(3))).ok());
  ASSERT_TRUE(after.WaitEnd());
  EXPECT_TRUE(after.end().status.ok());
}

TEST_P(SchedulerBehaviourTest, ChunkedPrefillMatchesGenerate) {
  SchedulerOptions options;
  options.max_prefill_tokens = 3;
  auto scheduler = MakeScheduler(options);
  ASSERT_NE(scheduler, nullptr);
  const std::vector<int32_t> prompt =
      Encode("There was once a velveteen rabbit, and in the beginning he was really splendid.");
  ASSERT_GT(prompt.size(), 10u);
  StreamRecorder stream;
  ASSERT_TRUE(scheduler->Submit(stream.Request(prompt, Greedy(15))).ok());
  ASSERT_TRUE(stream.WaitEnd());
  EXPECT_EQ(stream.tokens(), Alone(prompt, Greedy(15)).tokens);
  EXPECT_EQ(stream.end().usage.prompt_tokens, static_cast<int64_t>(prompt.size()));
  EXPECT_EQ(observer_.prompt_tokens(), static_cast<int64_t>(prompt.size()));
}

TEST_P(SchedulerBehaviourTest, FullQueueIsResourceExhausted) {
  SchedulerOptions options;
  options.max_batch_size = 1;
  options.max_queue_length = 1;
  auto scheduler = MakeScheduler(options);
  ASSERT_NE(scheduler, nullptr);
  StreamRecorder running, queued, refused;
  ASSERT_TRUE(scheduler->Submit(running.Request(Encode("First"), Greedy(kEndless))).ok());
  ASSERT_TRUE(running.WaitTokens(1));
  ASSERT_TRUE(scheduler->Submit(queued.Request(Encode("Second"), Greedy(2))).ok());
  EXPECT_EQ(scheduler->load().waiting, 1);
  EXPECT_EQ(scheduler->load().running, 1);
  const absl::Status full = scheduler->Submit(refused.Request(Encode("Third"), Greedy(2)));
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.message(), HasSubstr("queue"));
  running.Cancel();
  ASSERT_TRUE(queued.WaitEnd());
  EXPECT_TRUE(queued.end().status.ok());
  EXPECT_EQ(refused.ends(), 0);
  EXPECT_EQ(observer_.max_waiting(), 1);
}

TEST_P(SchedulerBehaviourTest, ShutdownLetsStreamsFinishWithinTheGrace) {
  auto scheduler = MakeScheduler();
  ASSERT_NE(scheduler, nullptr);
  StreamRecorder a, b;
  ASSERT_TRUE(scheduler->Submit(a.Request(Encode("Grace"), Greedy(20))).ok());
  ASSERT_TRUE(scheduler->Submit(b.Request(Encode("Period"), Greedy(5))).ok());
  scheduler->Shutdown(absl::Minutes(5));  // returns once both are done
  EXPECT_EQ(a.ends(), 1);
  EXPECT_EQ(b.ends(), 1);
  EXPECT_TRUE(a.end().status.ok());
  EXPECT_EQ(a.end().finish_reason, FinishReason::kLength);
  EXPECT_EQ(a.tokens().size(), 20u);
  EXPECT_TRUE(b.end().status.ok());
  StreamRecorder late;
  EXPECT_EQ(scheduler->Submit(late.Request(Encode("Late"), Greedy(2))).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(late.ends(), 0);
}

TEST_P(SchedulerBehaviourTest, ShutdownEndsStreamsAfterTheGraceKeepingSessionsConsistent) {
  auto store = MakeStore();
  SchedulerOptions options;
  options.max_batch_size = 1;
  auto scheduler = MakeScheduler(options);
  ASSERT_NE(scheduler, nullptr);
  absl::StatusOr<SessionInfo> session = store->Create(GetParam(), model_->NewState());
  ASSERT_TRUE(session.ok());
  const std::vector<int32_t> prompt = Encode("Endless");
  StreamRecorder endless, queued;
  GenerationRequest request = endless.Request(prompt, Greedy(kEndless));
  request.session = *store->Acquire(session->id);
  ASSERT_TRUE(scheduler->Submit(std::move(request)).ok());
  ASSERT_TRUE(endless.WaitTokens(2));
  ASSERT_TRUE(scheduler->Submit(queued.Request(Encode("Never"), Greedy(5))).ok());
  scheduler->Shutdown(absl::ZeroDuration());
  ASSERT_EQ(endless.ends(), 1);
  EXPECT_EQ(endless.end().status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(endless.end().finish_reason, FinishReason::kCancelled);
  const int64_t held = static_cast<int64_t>(prompt.size() + endless.tokens().size());
  EXPECT_EQ(endless.end().usage.state_tokens, held);
  EXPECT_EQ(store->Get(session->id)->tokens, held);
  EXPECT_FALSE(store->Get(session->id)->busy);
  ASSERT_EQ(queued.ends(), 1);
  EXPECT_EQ(queued.end().status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(queued.end().usage.prompt_tokens, 0);
  EXPECT_TRUE(queued.tokens().empty());
}

TEST_P(SchedulerBehaviourTest, PassedDeadlineEndsTheRequest) {
  auto scheduler = MakeScheduler();
  ASSERT_NE(scheduler, nullptr);
  StreamRecorder expired;
  GenerationRequest request = expired.Request(Encode("Late"), Greedy(5));
  request.deadline = absl::Now() - absl::Seconds(1);
  ASSERT_TRUE(scheduler->Submit(std::move(request)).ok());
  ASSERT_TRUE(expired.WaitEnd());
  EXPECT_EQ(expired.end().status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(expired.end().finish_reason, FinishReason::kCancelled);
  EXPECT_TRUE(expired.tokens().empty());
}

TEST_P(SchedulerBehaviourTest, RejectsBadRequestsAndReleasesTheirSessions) {
  EXPECT_EQ(GenerationScheduler::Create(*model_, *tokenizer_, "m", SchedulerOptions{0, 1, 1}, nullptr)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GenerationScheduler::Create(*model_, *tokenizer_, "m", SchedulerOptions{1, 0, 1}, nullptr)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GenerationScheduler::Create(*model_, *tokenizer_, "m", SchedulerOptions{1, 1, 0}, nullptr)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      GenerationScheduler::Create(*model_, *tokenizer_, "m", SchedulerOptions{1, 1, 1, -1}, nullptr)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);

  SchedulerOptions no_limit;
  no_limit.max_new_tokens = 0;
  EXPECT_EQ(GenerationScheduler::Create(*model_, *tokenizer_, "m", no_limit, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);

  auto store = MakeStore();
  SchedulerOptions limits;
  limits.max_prompt_tokens = 4;
  limits.max_new_tokens = 10;
  auto scheduler = MakeScheduler(limits);
  ASSERT_NE(scheduler, nullptr);
  StreamRecorder stream;
  EXPECT_EQ(scheduler->Submit(stream.Request({1, 2, 3, 4, 5}, Greedy(3))).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler->Submit(stream.Request({1, 2}, Greedy(11))).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler->Submit(stream.Request({}, Greedy(3))).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler->Submit(stream.Request({1, 1 << 20}, Greedy(3))).code(),
            absl::StatusCode::kInvalidArgument);
  GenerationOptions bad = Greedy(3);
  bad.min_new_tokens = 5;
  EXPECT_EQ(scheduler->Submit(stream.Request({1}, bad)).code(), absl::StatusCode::kInvalidArgument);

  absl::StatusOr<SessionInfo> foreign = store->Create("another-model", model_->NewState());
  ASSERT_TRUE(foreign.ok());
  GenerationRequest request = stream.Request(Encode("Hi"), Greedy(3));
  request.session = *store->Acquire(foreign->id);
  const absl::Status wrong_model = scheduler->Submit(std::move(request));
  EXPECT_EQ(wrong_model.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(wrong_model.message(), HasSubstr("another-model"));
  EXPECT_FALSE(store->Get(foreign->id)->busy);  // the refused request gave its lease back

  absl::StatusOr<SessionInfo> own = store->Create(GetParam(), model_->NewState());
  ASSERT_TRUE(own.ok());
  request = stream.Request({}, Greedy(3));
  request.session = *store->Acquire(own->id);
  const absl::Status empty = scheduler->Submit(std::move(request));
  EXPECT_EQ(empty.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(store->Get(own->id)->busy);
  EXPECT_EQ(store->Get(own->id)->tokens, 0);
  EXPECT_EQ(stream.ends(), 0);
}

INSTANTIATE_TEST_SUITE_P(Teacher, SchedulerBehaviourTest, ::testing::Values("teacher"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace liger
