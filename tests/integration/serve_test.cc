// Runs the real `liger serve` on port 0 with the embedded model and drives it with real gRPC
// clients: health, reflection, the model RPCs against the CLI, errors, metrics scraped by a real
// Prometheus, structured logs, and shutdown on SIGTERM and SIGINT.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "liger/v1/liger.grpc.pb.h"
#include "tests/core/io/temp_dir.h"
#include "tests/integration/command_runner.h"
#include "tests/integration/prometheus_instance.h"
#include "tests/integration/reflection_client.h"
#include "tests/integration/serve_process.h"
#include "tests/test_paths.h"

namespace liger::testing {
namespace {

constexpr absl::Duration kServeStartTimeout = absl::Seconds(60);
// SIGTERM with nothing in flight must end the server well within this.
constexpr absl::Duration kServeExitTimeout = absl::Seconds(5);
constexpr auto kServeRpcDeadline = std::chrono::seconds(30);
constexpr auto kServeScrapeDeadline = std::chrono::seconds(60);

std::string ServeTestModelDir() { return SourceDir() + "/models/llama3-tiny"; }

// The ids `liger tokenize` prints ("[1, 2, 3]").
std::vector<int32_t> CliTokenize(const std::string& text, bool special) {
  std::vector<std::string> argv = {LigerBinary(),       "tokenize", "--model",
                                   ServeTestModelDir(), "--text",   text};
  if (!special) argv.push_back("--no-special");
  const CommandResult result = RunCommand(argv);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return ParsePrintedIds(result.out);
}

class ServeTest : public ::testing::Test {
 protected:
  // Starts `liger serve --model <embedded> --port 0 --metrics-port 0 extra...` and connects.
  void StartServer(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--model", ServeTestModelDir(), "--port",
                                     "0",       "--metrics-port",    "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    absl::StatusOr<std::unique_ptr<ServeProcess>> server = ServeProcess::Start(args, dir_.path());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    const absl::Status listening = server_->WaitUntilListening(kServeStartTimeout, true);
    ASSERT_TRUE(listening.ok()) << listening;
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    stub_ = liger::v1::LigerService::NewStub(channel_);
  }

  static void SetDeadline(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() + kServeRpcDeadline);
  }

  grpc::Status Tokenize(const std::string& model, const std::string& text, bool special,
                        std::vector<int32_t>* ids) {
    liger::v1::TokenizeRequest request;
    request.set_model(model);
    request.set_text(text);
    request.set_add_special_tokens(special);
    liger::v1::TokenizeResponse response;
    grpc::ClientContext context;
    SetDeadline(&context);
    const grpc::Status status = stub_->Tokenize(&context, request, &response);
    ids->assign(response.token_ids().begin(), response.token_ids().end());
    return status;
  }

  TempDir dir_;
  std::unique_ptr<ServeProcess> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<liger::v1::LigerService::Stub> stub_;
};

TEST_F(ServeTest, HealthIsServingWithTheModelLoaded) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  std::unique_ptr<grpc::health::v1::Health::Stub> health =
      grpc::health::v1::Health::NewStub(channel_);
  for (const std::string& service : {std::string(""), std::string("liger.v1.LigerService")}) {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    grpc::ClientContext context;
    SetDeadline(&context);
    const grpc::Status status = health->Check(&context, request, &response);
    ASSERT_TRUE(status.ok()) << "service \"" << service << "\": " << status.error_message();
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
}

TEST_F(ServeTest, ReflectionDescribesTheService) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  absl::StatusOr<std::vector<std::string>> services = ReflectionListServices(*channel_);
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_NE(std::find(services->begin(), services->end(), "liger.v1.LigerService"),
            services->end());
  EXPECT_NE(std::find(services->begin(), services->end(), "grpc.health.v1.Health"),
            services->end());

  absl::StatusOr<google::protobuf::FileDescriptorProto> file =
      ReflectionFileContainingSymbol(*channel_, "liger.v1.LigerService");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->name(), "liger/v1/liger.proto");
  EXPECT_EQ(file->package(), "liger.v1");
  ASSERT_EQ(file->service_size(), 1);
  std::vector<std::string> methods;
  for (const auto& method : file->service(0).method()) methods.push_back(method.name());
  for (const char* expected : {"Generate", "Tokenize", "LoadModel", "ForkSession", "WatchJob"}) {
    EXPECT_NE(std::find(methods.begin(), methods.end(), expected), methods.end()) << expected;
  }
  // The health service is described too, so tools like grpcurl can call it.
  absl::StatusOr<google::protobuf::FileDescriptorProto> health_file =
      ReflectionFileContainingSymbol(*channel_, "grpc.health.v1.Health");
  ASSERT_TRUE(health_file.ok()) << health_file.status();
  EXPECT_EQ(health_file->package(), "grpc.health.v1");
}

TEST_F(ServeTest, TokenizeEqualsTheCli) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  for (const std::string& text :
       {std::string("Call me Ishmael."), std::string("  leading spaces and\ttabs\n\nnewlines"),
        std::string("naïve café — 東京 🚀 1234567"), std::string("")}) {
    for (bool special : {true, false}) {
      std::vector<int32_t> served;
      const grpc::Status status = Tokenize("llama3-tiny", text, special, &served);
      ASSERT_TRUE(status.ok()) << status.error_message();
      EXPECT_EQ(served, CliTokenize(text, special)) << "\"" << text << "\" special=" << special;
    }
  }
}

TEST_F(ServeTest, GreedyGenerateEqualsTheCli) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::vector<int32_t> prompt = CliTokenize("Call me Ishmael.", true);
  liger::v1::GenerateRequest request;
  request.mutable_token_ids()->mutable_ids()->Add(prompt.begin(), prompt.end());
  request.set_max_new_tokens(24);
  std::vector<int32_t> served_ids;
  std::string served_text;
  grpc::Status status;
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    std::unique_ptr<grpc::ClientReader<liger::v1::GenerateResponse>> reader =
        stub_->Generate(&context, request);
    liger::v1::GenerateResponse response;
    while (reader->Read(&response)) {
      if (!response.has_token()) continue;
      served_ids.push_back(response.token().token_id());
      served_text += response.token().text_delta();
    }
    status = reader->Finish();
  }
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_FALSE(served_ids.empty());

  // `liger generate` prints the prompt's text, the generated text, then "ids: ...".
  liger::v1::DetokenizeRequest detokenize;
  detokenize.mutable_token_ids()->Add(prompt.begin(), prompt.end());
  detokenize.set_skip_special_tokens(true);
  liger::v1::DetokenizeResponse prompt_text;
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ASSERT_TRUE(stub_->Detokenize(&context, detokenize, &prompt_text).ok());
  }
  std::vector<std::string> id_texts;
  for (int32_t id : prompt) id_texts.push_back(std::to_string(id));
  std::vector<std::string> served_id_texts;
  for (int32_t id : served_ids) served_id_texts.push_back(std::to_string(id));
  const CommandResult cli = RunCommand(
      {LigerBinary(), "generate", "--model", ServeTestModelDir(), "--prompt-ids",
       absl::StrJoin(id_texts, ","), "--max-tokens", "24", "--temperature", "0", "--ids"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_EQ(cli.out, prompt_text.text() + served_text + "\nids: " +
                         absl::StrJoin(served_id_texts, " ") + "\n");
}

TEST_F(ServeTest, ModelNameFlagAndUnknownModels) {
  ASSERT_NO_FATAL_FAILURE(StartServer({"--model-name", "tiny"}));
  liger::v1::ListModelsResponse models;
  grpc::ClientContext context;
  SetDeadline(&context);
  ASSERT_TRUE(stub_->ListModels(&context, liger::v1::ListModelsRequest(), &models).ok());
  ASSERT_EQ(models.models_size(), 1);
  EXPECT_EQ(models.models(0).name(), "tiny");
  EXPECT_EQ(models.models(0).vocab_size(), 8192);

  std::vector<int32_t> ids;
  const grpc::Status unknown = Tokenize("llama3-tiny", "hello", true, &ids);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(absl::StrContains(unknown.error_message(), "llama3-tiny")) << unknown.error_message();
}

TEST_F(ServeTest, SigtermStopsTheServerPromptlyWithExitZero) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  std::vector<int32_t> ids;
  ASSERT_TRUE(Tokenize("", "warm up", true, &ids).ok());
  const absl::Time signalled = absl::Now();
  server_->Signal(SIGTERM);
  absl::StatusOr<int> exit_code = server_->WaitForExit(kServeExitTimeout);
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0) << server_->Stderr();
  EXPECT_LT(absl::Now() - signalled, kServeExitTimeout);
  EXPECT_TRUE(absl::StrContains(server_->Stderr(), "shutting down")) << server_->Stderr();
  // The port is closed: a new call cannot connect.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  liger::v1::ListModelsResponse models;
  EXPECT_EQ(stub_->ListModels(&context, liger::v1::ListModelsRequest(), &models).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ServeTest, SigintStopsTheServerWithExitZero) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  server_->Signal(SIGINT);
  absl::StatusOr<int> exit_code = server_->WaitForExit(kServeExitTimeout);
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0) << server_->Stderr();
}

TEST_F(ServeTest, JsonLogsNameEveryRequest) {
  ASSERT_NO_FATAL_FAILURE(StartServer({"--log-format", "json"}));
  liger::v1::TokenizeRequest request;
  request.set_model("ghost");
  liger::v1::TokenizeResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  context.AddMetadata("x-request-id", "serve-test-42");
  ASSERT_EQ(stub_->Tokenize(&context, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  server_->Signal(SIGTERM);
  ASSERT_TRUE(server_->WaitForExit(kServeExitTimeout).ok());

  bool found = false;
  for (absl::string_view line : absl::StrSplit(server_->Stderr(), '\n', absl::SkipEmpty())) {
    const nlohmann::json entry = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(entry.is_discarded()) << "not JSON: " << line;
    EXPECT_TRUE(entry.contains("time") && entry.contains("level") && entry.contains("msg"));
    if (entry.value("request_id", "") == "serve-test-42") {
      found = true;
      EXPECT_EQ(entry.value("method", ""), "Tokenize");
      EXPECT_EQ(entry.value("code", ""), "NOT_FOUND");
      EXPECT_TRUE(absl::StrContains(entry.value("error", ""), "ghost"));
    }
  }
  EXPECT_TRUE(found) << server_->Stderr();
}

TEST_F(ServeTest, PrometheusScrapesRequestCounts) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  constexpr int kTokenizeCalls = 3;
  std::vector<int32_t> ids;
  for (int i = 0; i < kTokenizeCalls; ++i) ASSERT_TRUE(Tokenize("", "hello", true, &ids).ok());
  ASSERT_EQ(Tokenize("ghost", "hello", true, &ids).error_code(), grpc::StatusCode::NOT_FOUND);

  absl::StatusOr<std::unique_ptr<PrometheusInstance>> prometheus =
      PrometheusInstance::Start(server_->metrics_address(), "liger_serve", dir_.path());
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();
  const std::string ok_query =
      "liger_requests_total{job=\"liger_serve\",method=\"Tokenize\",code=\"OK\"}";
  const std::string not_found_query =
      "liger_requests_total{job=\"liger_serve\",method=\"Tokenize\",code=\"NOT_FOUND\"}";
  std::string ok_value;
  std::string not_found_value;
  std::string models_value;
  const auto deadline = std::chrono::steady_clock::now() + kServeScrapeDeadline;
  while (std::chrono::steady_clock::now() < deadline) {
    ASSERT_FALSE((*prometheus)->HasExited()) << (*prometheus)->Log();
    ok_value = (*prometheus)->QuerySingleValue(ok_query);
    not_found_value = (*prometheus)->QuerySingleValue(not_found_query);
    models_value = (*prometheus)->QuerySingleValue("liger_models_loaded{job=\"liger_serve\"}");
    if (!ok_value.empty() && !not_found_value.empty() && !models_value.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_EQ(ok_value, std::to_string(kTokenizeCalls)) << (*prometheus)->Log();
  EXPECT_EQ(not_found_value, "1");
  EXPECT_EQ(models_value, "1");
  EXPECT_EQ(
      (*prometheus)
          ->QuerySingleValue(
              "liger_request_duration_seconds_count{job=\"liger_serve\",method=\"Tokenize\"}"),
      std::to_string(kTokenizeCalls + 1));
  EXPECT_EQ((*prometheus)->QuerySingleValue("up{job=\"liger_serve\"}"), "1");
}

TEST_F(ServeTest, ATakenPortIsAClearError) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::string port = server_->address().substr(server_->address().rfind(':') + 1);
  const CommandResult second =
      RunCommand({LigerBinary(), "serve", "--model", ServeTestModelDir(), "--port", port});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(second.err, "liger serve: cannot listen on 127.0.0.1:" + port))
      << second.err;
}

TEST(ServeFlagsTest, BadFlagsAndModelsFailWithOneClearLine) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"--model", SourceDir() + "/models/no-such-model"},
      {"--model", ServeTestModelDir(), "--port", "65536"},
      {"--model", ServeTestModelDir(), "--port", "many"},
      {"--model", ServeTestModelDir(), "--metrics-port", "-1"},
      {"--model", ServeTestModelDir(), "--log-format", "xml"},
      {"--model", ServeTestModelDir(), "--model-name", "two words"},
      {"--model", ServeTestModelDir(), "--session-budget-bytes", "0"},
      {"--model", ServeTestModelDir(), "--session-idle-ttl-seconds", "0"},
      {"--model", ServeTestModelDir(), "--shutdown-grace-seconds", "-1"},
      {"--model", ServeTestModelDir(), "--max-batch-size", "0"},
      {"--model", ServeTestModelDir(), "--max-batch-size", "4097"},
      {"--model", ServeTestModelDir(), "--jobs-dir", ""},
      {"--model", ServeTestModelDir(), "--max-stepped-prompt-tokens", "-1"},
      {"--model", ServeTestModelDir(), "--max-prompt-tokens", "0"},
      {"--model", ServeTestModelDir(), "--max-new-tokens", "0"},
      {"--model", ServeTestModelDir(), "--max-request-bytes", "0"},
      {"--model", ServeTestModelDir(), "--max-pending-jobs", "0"},
      {"--model", ServeTestModelDir(), "--path-root", SourceDir() + "/no-such-root"},
      {"--model", ServeTestModelDir(), "--dtype", "int4"},
      {"--model", ServeTestModelDir(), "--frobnicate"},
  };
  for (const std::vector<std::string>& flags : cases) {
    std::vector<std::string> argv = {LigerBinary(), "serve"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const CommandResult result = RunCommand(argv);
    const std::string shown = absl::StrJoin(flags, " ");
    EXPECT_EQ(result.exit_code, 1) << shown;
    EXPECT_TRUE(absl::StartsWith(result.err, "liger serve: ")) << shown << ": " << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1)
        << shown << ": " << result.err;
    EXPECT_EQ(result.out, "") << shown;
  }
}

}  // namespace
}  // namespace liger::testing
