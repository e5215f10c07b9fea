// Generate, the session RPCs and Convert over a real port-0 server and real clients, checked
// against the offline generator (what `liger generate` runs) on the tiny Llama fixture.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "core/engine/generator.h"
#include "core/model/transformer.h"
#include "liger/v1/liger.grpc.pb.h"
#include "service/liger_server.h"
#include "service/scheduler_metrics.h"
#include "tests/test_paths.h"

namespace liger::service {
namespace {

// As many new tokens as a request may ask for by default: longer than any test waits.
constexpr int kEndlessTokens = 16384;

constexpr auto kRpcTestDeadline = std::chrono::seconds(120);

std::string RpcTestModelDir() { return liger::testing::SourceDir() + "/models/llama3-tiny"; }

ServerOptions LocalRpcServerOptions() {
  ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  return options;
}

std::unique_ptr<SchedulerMetrics> NewSchedulerMetrics(metrics::Registry& registry) {
  absl::StatusOr<std::unique_ptr<SchedulerMetrics>> metrics = SchedulerMetrics::Create(registry);
  EXPECT_TRUE(metrics.ok()) << metrics.status();
  return metrics.ok() ? *std::move(metrics) : nullptr;
}

// What one Generate call streamed.
struct Streamed {
  grpc::Status status;
  std::vector<v1::GenerateResponse> messages;
  std::vector<int32_t> ids;
  std::string text;
};

class GenerationRpcTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(LocalRpcServerOptions()); }

  void StartServer(const ServerOptions& options) {
    stub_.reset();
    server_.reset();
    metrics_.reset();
    metrics_registry_ = std::make_unique<metrics::Registry>();
    absl::StatusOr<std::unique_ptr<ServiceMetrics>> metrics =
        ServiceMetrics::Create(*metrics_registry_, models_);
    ASSERT_TRUE(metrics.ok()) << metrics.status();
    metrics_ = std::move(*metrics);
    absl::StatusOr<std::unique_ptr<LigerServer>> server =
        LigerServer::Start(options, &models_, metrics_.get(), &logger_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    stub_ = v1::LigerService::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  }

  static void SetDeadline(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() + kRpcTestDeadline);
  }

  void LoadTiny() {
    v1::LoadModelRequest request;
    request.set_name("tiny");
    request.set_model_dir(RpcTestModelDir());
    v1::LoadModelResponse response;
    grpc::ClientContext context;
    SetDeadline(&context);
    const grpc::Status status = stub_->LoadModel(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  Streamed Generate(const v1::GenerateRequest& request) {
    grpc::ClientContext context;
    SetDeadline(&context);
    Streamed out;
    std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader =
        stub_->Generate(&context, request);
    v1::GenerateResponse response;
    while (reader->Read(&response)) {
      if (response.has_token()) {
        out.ids.push_back(response.token().token_id());
        out.text += response.token().text_delta();
      }
      out.messages.push_back(response);
    }
    out.status = reader->Finish();
    return out;
  }

  // The offline generator over a fresh state, as `liger generate` runs it.
  GenerationResult Offline(const std::vector<int32_t>& prompt, const GenerationOptions& options) {
    absl::StatusOr<std::shared_ptr<const HostedModel>> model = models_.Find("tiny");
    EXPECT_TRUE(model.ok()) << model.status();
    std::unique_ptr<ModelState> state = (*model)->model->NewState();
    absl::StatusOr<GenerationResult> result =
        liger::Generate(*(*model)->model, *(*model)->tokenizer, *state, prompt, options, nullptr);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : GenerationResult();
  }

  std::vector<int32_t> Encode(const std::string& text, bool add_special) {
    absl::StatusOr<std::shared_ptr<const HostedModel>> model = models_.Find("tiny");
    EXPECT_TRUE(model.ok()) << model.status();
    absl::StatusOr<std::vector<int32_t>> ids = (*model)->tokenizer->Encode(text, add_special);
    EXPECT_TRUE(ids.ok()) << ids.status();
    return ids.ok() ? *ids : std::vector<int32_t>();
  }

  grpc::Status CreateSession(v1::Session* session) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::CreateSessionResponse response;
    const grpc::Status status =
        stub_->CreateSession(&context, v1::CreateSessionRequest(), &response);
    *session = response.session();
    return status;
  }

  grpc::Status GetSession(const std::string& id, v1::Session* session) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::GetSessionRequest request;
    request.set_session_id(id);
    v1::GetSessionResponse response;
    const grpc::Status status = stub_->GetSession(&context, request, &response);
    *session = response.session();
    return status;
  }

  static v1::GenerateRequest IdsRequest(const std::vector<int32_t>& ids, int max_new_tokens,
                                        const std::string& session_id = "") {
    v1::GenerateRequest request;
    request.mutable_token_ids()->mutable_ids()->Add(ids.begin(), ids.end());
    request.set_max_new_tokens(max_new_tokens);
    request.set_ignore_eos(true);
    request.set_session_id(session_id);
    return request;
  }

  static GenerationOptions GreedyOptions(int max_new_tokens) {
    GenerationOptions options;
    options.max_new_tokens = max_new_tokens;
    options.ignore_eos = true;
    return options;
  }

  // Declared in dependency order: destroyed in reverse, the server first.
  std::ostringstream log_;
  StructuredLogger logger_{LogFormat::kJson,
                           {std::make_shared<spdlog::sinks::ostream_sink_mt>(log_)}};
  metrics::Registry scheduler_registry_;
  std::unique_ptr<SchedulerMetrics> scheduler_metrics_ = NewSchedulerMetrics(scheduler_registry_);
  ModelRegistry models_{"float32", "cpu", [this](const std::string& model) {
                          return scheduler_metrics_->ForModel(model);
                        }};
  std::unique_ptr<metrics::Registry> metrics_registry_;
  std::unique_ptr<ServiceMetrics> metrics_;
  std::unique_ptr<LigerServer> server_;
  std::unique_ptr<v1::LigerService::Stub> stub_;
};

TEST_F(GenerationRpcTest, GenerateWithoutAModelFailsPrecondition) {
  v1::GenerateRequest request;
  request.set_text("hi");
  EXPECT_EQ(Generate(request).status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::Session session;
  EXPECT_EQ(CreateSession(&session).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(GenerationRpcTest, GreedyStreamEqualsOfflineGeneration) {
  ASSERT_NO_FATAL_FAILURE(LoadTiny());
  v1::GenerateRequest request;
  request.set_text("Once upon a time");
  request.set_max_new_tokens(16);
  request.set_logprobs(true);
  const Streamed streamed = Generate(request);
  ASSERT_TRUE(streamed.status.ok()) << streamed.status.error_message();

  GenerationOptions options;
  options.max_new_tokens = 16;
  const std::vector<int32_t> prompt = Encode("Once upon a time", true);
  const GenerationResult offline = Offline(prompt, options);
  EXPECT_EQ(streamed.ids, offline.tokens);
  EXPECT_EQ(streamed.text, offline.text);

  ASSERT_FALSE(streamed.messages.empty());
  for (size_t i = 0; i + 1 < streamed.messages.size(); ++i) {
    EXPECT_EQ(streamed.messages[i].finish_reason(), v1::FINISH_REASON_UNSPECIFIED);
    EXPECT_TRUE(streamed.messages[i].token().has_logprob());
    EXPECT_LE(streamed.messages[i].token().logprob(), 0.0f);
  }
  const v1::GenerateResponse& last = streamed.messages.back();
  EXPECT_TRUE(last.has_token());
  EXPECT_NE(last.finish_reason(), v1::FINISH_REASON_UNSPECIFIED);
  EXPECT_EQ(last.usage().prompt_tokens(), static_cast<int64_t>(prompt.size()));
  EXPECT_EQ(last.usage().generated_tokens(), static_cast<int64_t>(offline.tokens.size()));
  EXPECT_EQ(last.usage().context_tokens(), 0);

  const std::string metrics = scheduler_registry_.ExpositionText();
  EXPECT_TRUE(absl::StrContains(
      metrics, "liger_generated_tokens_total{model=\"tiny\"} " +
                   std::to_string(offline.tokens.size()) + "\n"))
      << metrics;
  EXPECT_TRUE(absl::StrContains(
      metrics, "liger_prompt_tokens_total{model=\"tiny\"} " + std::to_string(prompt.size()) +
                   "\n"));
  EXPECT_TRUE(
      absl::StrContains(metrics, "liger_time_to_first_token_seconds_count{model=\"tiny\"} 1\n"));
  EXPECT_TRUE(absl::StrContains(metrics, "liger_generation_requests_running{model=\"tiny\"} 0\n"));
}

TEST_F(GenerationRpcTest, SessionTurnPrefillsOnlyItsNewTokens) {
  ASSERT_NO_FATAL_FAILURE(LoadTiny());
  v1::Session session;
  ASSERT_TRUE(CreateSession(&session).ok());
  EXPECT_EQ(session.model(), "tiny");
  EXPECT_EQ(session.tokens(), 0);
  EXPECT_TRUE(absl::StrContains(metrics_registry_->ExpositionText(), "liger_sessions 1\n"));

  const std::vector<int32_t> first = Encode("The cat sat", true);
  const std::vector<int32_t> second = Encode(" on the mat and", false);
  const Streamed turn1 = Generate(IdsRequest(first, 6, session.session_id()));
  ASSERT_TRUE(turn1.status.ok()) << turn1.status.error_message();
  const Streamed turn2 = Generate(IdsRequest(second, 6, session.session_id()));
  ASSERT_TRUE(turn2.status.ok()) << turn2.status.error_message();

  const v1::Usage& usage = turn2.messages.back().usage();
  EXPECT_EQ(usage.prompt_tokens(), static_cast<int64_t>(second.size()));
  EXPECT_EQ(usage.context_tokens(), static_cast<int64_t>(first.size() + turn1.ids.size()));
  EXPECT_EQ(usage.generated_tokens(), 6);

  // One shot over everything the session consumed gives the second turn's tokens.
  std::vector<int32_t> all = first;
  all.insert(all.end(), turn1.ids.begin(), turn1.ids.end());
  all.insert(all.end(), second.begin(), second.end());
  EXPECT_EQ(turn2.ids, Offline(all, GreedyOptions(6)).tokens);

  v1::Session after;
  ASSERT_TRUE(GetSession(session.session_id(), &after).ok());
  EXPECT_EQ(after.tokens(), static_cast<int64_t>(all.size() + turn2.ids.size()));
  EXPECT_FALSE(after.busy());
  EXPECT_GT(after.state_bytes(), 0);
}

TEST_F(GenerationRpcTest, ForkedSessionsContinueAlike) {
  ASSERT_NO_FATAL_FAILURE(LoadTiny());
  v1::Session session;
  ASSERT_TRUE(CreateSession(&session).ok());
  ASSERT_TRUE(Generate(IdsRequest(Encode("A dog", true), 4, session.session_id())).status.ok());

  v1::ForkSessionRequest fork_request;
  fork_request.set_session_id(session.session_id());
  v1::ForkSessionResponse fork;
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ASSERT_TRUE(stub_->ForkSession(&context, fork_request, &fork).ok());
  }
  EXPECT_NE(fork.session().session_id(), session.session_id());
  v1::Session original;
  ASSERT_TRUE(GetSession(session.session_id(), &original).ok());
  EXPECT_EQ(fork.session().tokens(), original.tokens());

  const std::vector<int32_t> next = Encode(" ran", false);
  const Streamed a = Generate(IdsRequest(next, 5, session.session_id()));
  const Streamed b = Generate(IdsRequest(next, 5, fork.session().session_id()));
  ASSERT_TRUE(a.status.ok() && b.status.ok());
  EXPECT_EQ(a.ids, b.ids);

  v1::ListSessionsResponse list;
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ASSERT_TRUE(stub_->ListSessions(&context, v1::ListSessionsRequest(), &list).ok());
  }
  ASSERT_EQ(list.sessions_size(), 2);
  EXPECT_EQ(list.sessions(0).session_id(), session.session_id());
  EXPECT_EQ(list.state_bytes_used(),
            list.sessions(0).state_bytes() + list.sessions(1).state_bytes());

  v1::DeleteSessionRequest remove;
  remove.set_session_id(fork.session().session_id());
  v1::DeleteSessionResponse removed;
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ASSERT_TRUE(stub_->DeleteSession(&context, remove, &removed).ok());
  }
  v1::Session gone;
  EXPECT_EQ(GetSession(fork.session().session_id(), &gone).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Generate(IdsRequest(next, 1, "no-such-session")).status.error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(GenerationRpcTest, CancelMidStreamFreesTheSession) {
  ASSERT_NO_FATAL_FAILURE(LoadTiny());
  v1::Session session;
  ASSERT_TRUE(CreateSession(&session).ok());
  const std::vector<int32_t> prompt = Encode("Long ago", true);
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader =
        stub_->Generate(&context, IdsRequest(prompt, kEndlessTokens, session.session_id()));
    v1::GenerateResponse response;
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(reader->Read(&response));
    context.TryCancel();
    while (reader->Read(&response)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  // The generation stops within a step of the cancellation and releases the session.
  v1::Session held;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    ASSERT_TRUE(GetSession(session.session_id(), &held).ok());
    if (!held.busy()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < give_up);
  ASSERT_FALSE(held.busy());
  EXPECT_GE(held.tokens(), static_cast<int64_t>(prompt.size() + 3));
  EXPECT_LT(held.tokens(), static_cast<int64_t>(prompt.size() + kEndlessTokens));

  const Streamed next = Generate(IdsRequest(Encode(" there", false), 2, session.session_id()));
  ASSERT_TRUE(next.status.ok()) << next.status.error_message();
  EXPECT_EQ(next.messages.back().usage().context_tokens(), held.tokens());
}

TEST_F(GenerationRpcTest, PassedDeadlineStopsTheGeneration) {
  ASSERT_NO_FATAL_FAILURE(LoadTiny());
  v1::Session session;
  ASSERT_TRUE(CreateSession(&session).ok());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader = stub_->Generate(
      &context, IdsRequest(Encode("Far away", true), kEndlessTokens, session.session_id()));
  v1::GenerateResponse response;
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The session is released within a step and usable again.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  grpc::Status next;
  do {
    next = Generate(IdsRequest(Encode(" and", false), 1, session.session_id())).status;
    if (next.error_code() != grpc::StatusCode::FAILED_PRECONDITION) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < give_up);
  EXPECT_TRUE(next.ok()) << next.error_message();
}

TEST_F(GenerationRpcTest, FullBudgetGivesResourceExhausted) {
  ServerOptions options = LocalRpcServerOptions();
  options.sessions.budget_bytes = 1;
  ASSERT_NO_FATAL_FAILURE(StartServer(options));
  ASSERT_NO_FATAL_FAILURE(LoadTiny());
  v1::Session session;
  const grpc::Status created = CreateSession(&session);
  if (created.ok()) {
    // An empty state fits; the first turn's cache cannot, and the session is dropped.
    const Streamed turn = Generate(IdsRequest(Encode("Hello", true), 2, session.session_id()));
    EXPECT_EQ(turn.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << turn.status.error_message();
    v1::Session gone;
    EXPECT_EQ(GetSession(session.session_id(), &gone).error_code(), grpc::StatusCode::NOT_FOUND);
  } else {
    EXPECT_EQ(created.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
}

TEST_F(GenerationRpcTest, ConvertStreamsProgressAndLoadsTheResult) {
  const std::filesystem::path out_dir =
      std::filesystem::temp_directory_path() /
      ("liger_convert_rpc_" + std::to_string(::getpid())) / "tiny-gla";
  std::filesystem::remove_all(out_dir.parent_path());
  std::filesystem::create_directories(out_dir.parent_path());

  v1::ConvertRequest request;
  request.set_model_dir(RpcTestModelDir());
  request.set_output_dir(out_dir.string());
  request.set_variant(v1::LIGER_VARIANT_GLA);
  request.set_load_as("tiny-gla");
  std::vector<v1::ConvertResponse> responses;
  grpc::Status status;
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    std::unique_ptr<grpc::ClientReader<v1::ConvertResponse>> reader =
        stub_->Convert(&context, request);
    v1::ConvertResponse response;
    while (reader->Read(&response)) responses.push_back(response);
    status = reader->Finish();
  }
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_GE(responses.size(), 2u);
  for (size_t i = 0; i + 1 < responses.size(); ++i) {
    ASSERT_TRUE(responses[i].has_progress());
    EXPECT_GE(responses[i].progress().file_index(), 1);
    EXPECT_LE(responses[i].progress().file_index(), responses[i].progress().file_count());
  }
  ASSERT_TRUE(responses.back().has_result());
  const v1::ConvertResult& result = responses.back().result();
  EXPECT_EQ(result.output_dir(), out_dir.string());
  EXPECT_GT(result.bytes_written(), 0u);
  EXPECT_EQ(result.model().name(), "tiny-gla");
  EXPECT_EQ(result.model().liger_variant(), v1::LIGER_VARIANT_GLA);

  v1::GenerateRequest generate;
  generate.set_model("tiny-gla");
  generate.set_text("Hello");
  generate.set_max_new_tokens(3);
  const Streamed streamed = Generate(generate);
  EXPECT_TRUE(streamed.status.ok()) << streamed.status.error_message();
  EXPECT_FALSE(streamed.ids.empty());

  // The output exists now: a second conversion to it is refused.
  request.clear_load_as();
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    std::unique_ptr<grpc::ClientReader<v1::ConvertResponse>> reader =
        stub_->Convert(&context, request);
    v1::ConvertResponse response;
    while (reader->Read(&response)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::ALREADY_EXISTS);
  }
  request.set_variant(v1::LIGER_VARIANT_UNSPECIFIED);
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    std::unique_ptr<grpc::ClientReader<v1::ConvertResponse>> reader =
        stub_->Convert(&context, request);
    v1::ConvertResponse response;
    EXPECT_FALSE(reader->Read(&response));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  std::filesystem::remove_all(out_dir.parent_path());
}

}  // namespace
}  // namespace liger::service
