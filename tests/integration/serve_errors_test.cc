// Every error code of the API through the real `liger serve` binary on port 0, with real gRPC
// calls: the code, a message that names the offending field or value, and a server that stays
// healthy afterwards. tests/service covers the same paths in-process; this suite checks what a
// client of the shipped binary sees, including a shutdown while a generation streams.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "liger/v1/liger.grpc.pb.h"
#include "tests/core/io/temp_dir.h"
#include "tests/integration/serve_process.h"
#include "tests/test_paths.h"

namespace liger::testing {
namespace {

constexpr absl::Duration kErrorsServeStartTimeout = absl::Seconds(60);
constexpr absl::Duration kErrorsServeExitTimeout = absl::Seconds(30);
constexpr auto kErrorsRpcDeadline = std::chrono::seconds(60);
// Far more tokens than a test waits for: the stream is still running when the test acts on it.
constexpr int kErrorsLongGeneration = 3000;

std::string ErrorsTestModelDir() { return SourceDir() + "/models/llama3-tiny"; }

// The code, and every piece the message must contain.
void ExpectStatus(const grpc::Status& status, grpc::StatusCode code,
                  const std::vector<std::string>& mentions, const std::string& what) {
  EXPECT_EQ(status.error_code(), code) << what << ": " << status.error_message();
  for (const std::string& mention : mentions) {
    EXPECT_TRUE(absl::StrContains(status.error_message(), mention))
        << what << ": \"" << status.error_message() << "\" does not mention \"" << mention << "\"";
  }
}

std::vector<std::string> ErrorsDirListing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

struct StreamOutcome {
  grpc::Status status;
  int tokens = 0;
  v1::GenerateResponse last;
};

v1::GenerateRequest TextRequest(const std::string& text, int max_new_tokens) {
  v1::GenerateRequest request;
  request.set_text(text);
  request.set_max_new_tokens(max_new_tokens);
  request.set_ignore_eos(true);
  return request;
}

class ServeErrorsTest : public ::testing::Test {
 protected:
  void StartServer(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--model", ErrorsTestModelDir(), "--port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    absl::StatusOr<std::unique_ptr<ServeProcess>> server = ServeProcess::Start(args, dir_.path());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    const absl::Status listening = server_->WaitUntilListening(kErrorsServeStartTimeout, false);
    ASSERT_TRUE(listening.ok()) << listening;
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    stub_ = v1::LigerService::NewStub(channel_);
  }

  static void SetDeadline(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() + kErrorsRpcDeadline);
  }

  // Runs a unary RPC of the stub with a deadline.
  template <typename Request, typename Response, typename Method>
  grpc::Status Call(Method method, const Request& request, Response* response) {
    grpc::ClientContext context;
    SetDeadline(&context);
    return (stub_.get()->*method)(&context, request, response);
  }

  StreamOutcome Generate(const v1::GenerateRequest& request) {
    grpc::ClientContext context;
    SetDeadline(&context);
    std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader =
        stub_->Generate(&context, request);
    StreamOutcome outcome;
    v1::GenerateResponse response;
    while (reader->Read(&response)) {
      if (response.has_token()) ++outcome.tokens;
      outcome.last = response;
    }
    outcome.status = reader->Finish();
    return outcome;
  }

  grpc::Status Convert(const v1::ConvertRequest& request) {
    grpc::ClientContext context;
    SetDeadline(&context);
    std::unique_ptr<grpc::ClientReader<v1::ConvertResponse>> reader =
        stub_->Convert(&context, request);
    v1::ConvertResponse response;
    while (reader->Read(&response)) {
    }
    return reader->Finish();
  }

  grpc::Status CreateSession(std::string* id, const std::string& model = "") {
    v1::CreateSessionRequest request;
    request.set_model(model);
    v1::CreateSessionResponse response;
    const grpc::Status status =
        Call(&v1::LigerService::Stub::CreateSession, request, &response);
    *id = response.session().session_id();
    return status;
  }

  grpc::Status GetSession(const std::string& id, v1::Session* session = nullptr) {
    v1::GetSessionRequest request;
    request.set_session_id(id);
    v1::GetSessionResponse response;
    const grpc::Status status = Call(&v1::LigerService::Stub::GetSession, request, &response);
    if (session != nullptr) *session = response.session();
    return status;
  }

  grpc::Status LoadModel(const std::string& name, const std::string& model_dir) {
    v1::LoadModelRequest request;
    request.set_name(name);
    request.set_model_dir(model_dir);
    v1::LoadModelResponse response;
    return Call(&v1::LigerService::Stub::LoadModel, request, &response);
  }

  // After an error the server must still serve: health SERVING and a short greedy generation.
  void ExpectHealthy(const std::string& after) {
    std::unique_ptr<grpc::health::v1::Health::Stub> health =
        grpc::health::v1::Health::NewStub(channel_);
    grpc::health::v1::HealthCheckResponse checked;
    grpc::ClientContext context;
    SetDeadline(&context);
    const grpc::Status status =
        health->Check(&context, grpc::health::v1::HealthCheckRequest(), &checked);
    ASSERT_TRUE(status.ok()) << "after " << after << ": " << status.error_message();
    EXPECT_EQ(checked.status(), grpc::health::v1::HealthCheckResponse::SERVING) << after;
    const StreamOutcome generated = Generate(TextRequest("Hello there", 2));
    ASSERT_TRUE(generated.status.ok()) << "after " << after << ": "
                                       << generated.status.error_message();
    EXPECT_EQ(generated.tokens, 2) << after;
    EXPECT_EQ(generated.last.finish_reason(), v1::FINISH_REASON_LENGTH) << after;
  }

  // A copy of the embedded model whose config.json is edited by `edit` (weights linked).
  std::string ModelCopyWithConfig(const std::string& name,
                                  const std::function<std::string(std::string)>& edit) {
    const std::filesystem::path copy = std::filesystem::path(dir_.path()) / name;
    std::filesystem::create_directories(copy);
    for (const auto& entry : std::filesystem::directory_iterator(ErrorsTestModelDir())) {
      const std::filesystem::path target = copy / entry.path().filename();
      if (entry.path().filename() == "config.json") {
        std::ifstream in(entry.path());
        const std::string config((std::istreambuf_iterator<char>(in)),
                                 std::istreambuf_iterator<char>());
        std::ofstream(target) << edit(config);
      } else {
        std::filesystem::create_symlink(entry.path(), target);
      }
    }
    return copy.string();
  }

  TempDir dir_;
  std::unique_ptr<ServeProcess> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LigerService::Stub> stub_;
};

TEST_F(ServeErrorsTest, InvalidArgumentNamesTheFieldAndValue) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  struct GenerateCase {
    std::string what;
    std::function<void(v1::GenerateRequest*)> edit;
    std::vector<std::string> mentions;
  };
  const std::vector<GenerateCase> cases = {
      {"no prompt", [](v1::GenerateRequest* r) { r->clear_prompt(); }, {"prompt"}},
      {"empty token ids",
       [](v1::GenerateRequest* r) { r->mutable_token_ids(); },
       {"prompt is empty"}},
      {"negative temperature",
       [](v1::GenerateRequest* r) { r->mutable_sampling()->set_temperature(-0.5f); },
       {"temperature", "-0.5"}},
      {"top_p above 1",
       [](v1::GenerateRequest* r) { r->mutable_sampling()->set_top_p(1.5f); },
       {"top_p", "1.5"}},
      {"token id past the vocabulary",
       [](v1::GenerateRequest* r) {
         r->mutable_token_ids()->add_ids(0);
         r->mutable_token_ids()->add_ids(99999);
       },
       {"prompt[1]", "99999", "8192"}},
      {"negative token id",
       [](v1::GenerateRequest* r) { r->mutable_token_ids()->add_ids(-3); },
       {"prompt[0]", "-3"}},
      {"min_new_tokens above max_new_tokens",
       [](v1::GenerateRequest* r) {
         r->set_max_new_tokens(4);
         r->set_min_new_tokens(9);
       },
       {"min_new_tokens", "9"}},
      {"empty stop string", [](v1::GenerateRequest* r) { r->add_stop(""); }, {"stop[0]"}},
      {"too many top_logprobs",
       [](v1::GenerateRequest* r) {
         r->set_logprobs(true);
         r->set_top_logprobs(21);
       },
       {"top_logprobs", "21"}},
  };
  for (const GenerateCase& c : cases) {
    v1::GenerateRequest request = TextRequest("Hello", 2);
    c.edit(&request);
    const StreamOutcome outcome = Generate(request);
    ExpectStatus(outcome.status, grpc::StatusCode::INVALID_ARGUMENT, c.mentions, c.what);
    EXPECT_EQ(outcome.tokens, 0) << c.what;
    ASSERT_NO_FATAL_FAILURE(ExpectHealthy(c.what));
  }

  v1::DetokenizeRequest detokenize;
  detokenize.add_token_ids(8192);
  v1::DetokenizeResponse text;
  ExpectStatus(Call(&v1::LigerService::Stub::Detokenize, detokenize, &text),
               grpc::StatusCode::INVALID_ARGUMENT, {"8192"}, "Detokenize past the vocabulary");

  ExpectStatus(LoadModel("two words", ErrorsTestModelDir()), grpc::StatusCode::INVALID_ARGUMENT,
               {"two words"}, "LoadModel with a bad name");
  // Weights that do not fit the config's shapes: the message names a tensor and both shapes.
  const std::string mismatched = ModelCopyWithConfig("mismatched", [](std::string config) {
    config.replace(config.find("\"intermediate_size\": 640"), 24, "\"intermediate_size\": 512");
    return config;
  });
  ExpectStatus(LoadModel("mismatched", mismatched), grpc::StatusCode::INVALID_ARGUMENT,
               {"shape", "512"}, "LoadModel with a mismatched config");

  v1::ConvertRequest convert;
  convert.set_model_dir(ErrorsTestModelDir());
  convert.set_output_dir(dir_.File("no-variant"));
  ExpectStatus(Convert(convert), grpc::StatusCode::INVALID_ARGUMENT, {"variant"},
               "Convert without a variant");
  EXPECT_FALSE(std::filesystem::exists(dir_.File("no-variant")));

  // A session answers to its own model only (a second model is loaded under another name).
  ASSERT_TRUE(LoadModel("second", ErrorsTestModelDir()).ok());
  std::string session;
  ASSERT_TRUE(CreateSession(&session, "llama3-tiny").ok());
  v1::GenerateRequest other = TextRequest("Hello", 2);
  other.set_model("second");
  other.set_session_id(session);
  ExpectStatus(Generate(other).status, grpc::StatusCode::INVALID_ARGUMENT,
               {session, "llama3-tiny", "second"}, "a session of another model");
  // With two models loaded an unnamed request is ambiguous.
  ExpectStatus(Generate(TextRequest("Hello", 2)).status, grpc::StatusCode::INVALID_ARGUMENT,
               {"llama3-tiny", "second"}, "no model named among two");
  v1::UnloadModelRequest unload;
  unload.set_name("second");
  v1::UnloadModelResponse unloaded;
  ASSERT_TRUE(Call(&v1::LigerService::Stub::UnloadModel, unload, &unloaded).ok());
  ASSERT_NO_FATAL_FAILURE(ExpectHealthy("the other RPCs' invalid arguments"));
}

TEST_F(ServeErrorsTest, NotFoundNamesWhatIsMissing) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  v1::GenerateRequest ghost_model = TextRequest("Hello", 2);
  ghost_model.set_model("ghost");
  ExpectStatus(Generate(ghost_model).status, grpc::StatusCode::NOT_FOUND, {"ghost"},
               "Generate on an unknown model");
  v1::GenerateRequest ghost_session = TextRequest("Hello", 2);
  ghost_session.set_session_id("no-such-session");
  ExpectStatus(Generate(ghost_session).status, grpc::StatusCode::NOT_FOUND, {"no-such-session"},
               "Generate on an unknown session");
  ExpectStatus(GetSession("no-such-session"), grpc::StatusCode::NOT_FOUND, {"no-such-session"},
               "GetSession");
  v1::DeleteSessionRequest remove;
  remove.set_session_id("no-such-session");
  v1::DeleteSessionResponse removed;
  ExpectStatus(Call(&v1::LigerService::Stub::DeleteSession, remove, &removed),
               grpc::StatusCode::NOT_FOUND, {"no-such-session"}, "DeleteSession");
  std::string unused;
  ExpectStatus(CreateSession(&unused, "ghost"), grpc::StatusCode::NOT_FOUND, {"ghost"},
               "CreateSession on an unknown model");
  v1::UnloadModelRequest unload;
  unload.set_name("ghost");
  v1::UnloadModelResponse unloaded;
  ExpectStatus(Call(&v1::LigerService::Stub::UnloadModel, unload, &unloaded),
               grpc::StatusCode::NOT_FOUND, {"ghost"}, "UnloadModel");
  const std::string missing = dir_.File("no-such-model");
  ExpectStatus(LoadModel("missing", missing), grpc::StatusCode::NOT_FOUND, {missing},
               "LoadModel of a missing directory");
  ASSERT_NO_FATAL_FAILURE(ExpectHealthy("the not-found errors"));
}

TEST_F(ServeErrorsTest, FailedPreconditionForABusySessionAndNoModel) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  std::string session;
  ASSERT_TRUE(CreateSession(&session).ok());
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::GenerateRequest long_turn = TextRequest("Once upon a time", kErrorsLongGeneration);
    long_turn.set_session_id(session);
    std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader =
        stub_->Generate(&context, long_turn);
    v1::GenerateResponse response;
    ASSERT_TRUE(reader->Read(&response));  // the session is now in use
    v1::GenerateRequest second_turn = TextRequest(" again", 2);
    second_turn.set_session_id(session);
    ExpectStatus(Generate(second_turn).status, grpc::StatusCode::FAILED_PRECONDITION,
                 {"busy", session}, "Generate on a busy session");
    v1::DeleteSessionRequest remove;
    remove.set_session_id(session);
    v1::DeleteSessionResponse removed;
    ExpectStatus(Call(&v1::LigerService::Stub::DeleteSession, remove, &removed),
                 grpc::StatusCode::FAILED_PRECONDITION, {"busy", session}, "DeleteSession");
    v1::ForkSessionRequest fork;
    fork.set_session_id(session);
    v1::ForkSessionResponse forked;
    ExpectStatus(Call(&v1::LigerService::Stub::ForkSession, fork, &forked),
                 grpc::StatusCode::FAILED_PRECONDITION, {"busy", session}, "ForkSession");
    context.TryCancel();
    while (reader->Read(&response)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  // The cancelled generation releases the session within a step.
  v1::Session held;
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  do {
    ASSERT_TRUE(GetSession(session, &held).ok());
  } while (held.busy() && absl::Now() < give_up);
  EXPECT_FALSE(held.busy());

  // With the only model unloaded, requests that name none have nothing to run on.
  v1::UnloadModelRequest unload;
  unload.set_name("llama3-tiny");
  v1::UnloadModelResponse unloaded;
  ASSERT_TRUE(Call(&v1::LigerService::Stub::UnloadModel, unload, &unloaded).ok());
  ExpectStatus(Generate(TextRequest("Hello", 2)).status, grpc::StatusCode::FAILED_PRECONDITION,
               {"no model is loaded"}, "Generate without a model");
  v1::TokenizeRequest tokenize;
  tokenize.set_text("Hello");
  v1::TokenizeResponse ids;
  ExpectStatus(Call(&v1::LigerService::Stub::Tokenize, tokenize, &ids),
               grpc::StatusCode::FAILED_PRECONDITION, {"no model is loaded"},
               "Tokenize without a model");
  std::string unused;
  ExpectStatus(CreateSession(&unused), grpc::StatusCode::FAILED_PRECONDITION,
               {"no model is loaded"}, "CreateSession without a model");
  ASSERT_TRUE(LoadModel("llama3-tiny", ErrorsTestModelDir()).ok());
  ASSERT_NO_FATAL_FAILURE(ExpectHealthy("the failed preconditions"));
}

// The message must blame the field that is wrong: min_new_tokens (0) is fine here.
TEST_F(ServeErrorsTest, NegativeMaxNewTokensIsTheFieldBlamed) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  v1::GenerateRequest request = TextRequest("Hello", 2);
  request.set_max_new_tokens(-1);
  ExpectStatus(Generate(request).status, grpc::StatusCode::INVALID_ARGUMENT,
               {"max_new_tokens = -1"}, "negative max_new_tokens");
  ASSERT_NO_FATAL_FAILURE(ExpectHealthy("a negative max_new_tokens"));
}

// A file where a checkpoint directory belongs exists: the error must say what is wrong with it.
TEST_F(ServeErrorsTest, LoadModelOfAFileSaysItIsNotADirectory) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::string file = dir_.File("not-a-directory");
  std::ofstream(file) << "{}";
  ExpectStatus(LoadModel("file", file), grpc::StatusCode::FAILED_PRECONDITION,
               {file, "not a directory"}, "LoadModel of a file");
  ASSERT_NO_FATAL_FAILURE(ExpectHealthy("LoadModel of a file"));
}

TEST_F(ServeErrorsTest, AlreadyExistsLeavesTheExistingAlone) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::string taken = dir_.File("taken");
  std::filesystem::create_directories(taken);
  std::ofstream(taken + "/keep.txt") << "mine";
  v1::ConvertRequest convert;
  convert.set_model_dir(ErrorsTestModelDir());
  convert.set_output_dir(taken);
  convert.set_variant(v1::LIGER_VARIANT_GLA);
  ExpectStatus(Convert(convert), grpc::StatusCode::ALREADY_EXISTS, {taken},
               "Convert to an existing directory");
  EXPECT_EQ(ErrorsDirListing(taken), std::vector<std::string>{"keep.txt"});
  ExpectStatus(LoadModel("llama3-tiny", ErrorsTestModelDir()), grpc::StatusCode::ALREADY_EXISTS,
               {"llama3-tiny"}, "LoadModel under a taken name");
  ASSERT_NO_FATAL_FAILURE(ExpectHealthy("the already-exists errors"));
}

TEST_F(ServeErrorsTest, ResourceExhaustedWhenASessionOutgrowsTheBudget) {
  // The teacher's KV cache grows with each token (4 KiB a token here): 64 KiB hold 16 tokens.
  ASSERT_NO_FATAL_FAILURE(StartServer({"--session-budget-bytes", "65536"}));
  std::string small;
  ASSERT_TRUE(CreateSession(&small).ok());
  v1::GenerateRequest fits = TextRequest("Hi", 2);
  fits.set_session_id(small);
  const StreamOutcome fitted = Generate(fits);
  ASSERT_TRUE(fitted.status.ok()) << fitted.status.error_message();

  std::string large;
  ASSERT_TRUE(CreateSession(&large).ok());
  v1::GenerateRequest outgrows = TextRequest("Once upon a time", 40);
  outgrows.set_session_id(large);
  const StreamOutcome outgrown = Generate(outgrows);
  ExpectStatus(outgrown.status, grpc::StatusCode::RESOURCE_EXHAUSTED,
               {large, "65536-byte session budget"}, "a turn past the budget");
  // The tokens were streamed before the state was found too large; the session is then gone.
  EXPECT_EQ(outgrown.tokens, 40);
  ExpectStatus(GetSession(large), grpc::StatusCode::NOT_FOUND, {large}, "the dropped session");
  v1::Session kept;
  ASSERT_TRUE(GetSession(small, &kept).ok()) << "the session within the budget is kept";
  ASSERT_NO_FATAL_FAILURE(ExpectHealthy("the exhausted budget"));
}

TEST_F(ServeErrorsTest, DrainingRefusesNewCallsAndEndsTheStreamWithAStatus) {
  ASSERT_NO_FATAL_FAILURE(StartServer({"--shutdown-grace-seconds", "2"}));
  grpc::ClientContext context;
  SetDeadline(&context);
  std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader =
      stub_->Generate(&context, TextRequest("Once upon a time", kErrorsLongGeneration));
  v1::GenerateResponse response;
  ASSERT_TRUE(reader->Read(&response));
  const int tokens_before_signal = response.has_token() ? 1 : 0;
  const absl::Time signalled = absl::Now();
  server_->Signal(SIGTERM);

  // New calls are refused once the server has seen the signal (UNAVAILABLE either way: refused
  // by the draining server, or the port already closed).
  grpc::Status refused;
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  do {
    v1::ListModelsResponse models;
    grpc::ClientContext list_context;
    list_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    refused = stub_->ListModels(&list_context, v1::ListModelsRequest(), &models);
  } while (refused.ok() && absl::Now() < give_up);
  ExpectStatus(refused, grpc::StatusCode::UNAVAILABLE, {}, "a call while draining");
  EXPECT_FALSE(refused.error_message().empty());

  // The stream in flight goes on through the grace period, then ends with a status, not a hang.
  int tokens_after_signal = 0;
  v1::GenerateResponse last;
  while (reader->Read(&response)) {
    if (response.has_token()) ++tokens_after_signal;
    last = response;
  }
  const grpc::Status ended = reader->Finish();
  const absl::Duration took = absl::Now() - signalled;
  EXPECT_GT(tokens_after_signal, 0);
  // Past the grace the server's scheduler ends the stream the documented way: an OK status
  // whose last message says FINISH_REASON_CANCELLED, with the usage; never a bare cancellation
  // or a deadline, which would mean it hung.
  EXPECT_TRUE(ended.ok()) << ended.error_code() << ": " << ended.error_message();
  EXPECT_EQ(last.finish_reason(), v1::FINISH_REASON_CANCELLED);
  EXPECT_EQ(last.usage().generated_tokens(), tokens_before_signal + tokens_after_signal);
  EXPECT_LT(took, absl::Seconds(20)) << "grace is 2 s";
  absl::StatusOr<int> exit_code = server_->WaitForExit(kErrorsServeExitTimeout);
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0) << server_->Stderr();
}

}  // namespace
}  // namespace liger::testing
