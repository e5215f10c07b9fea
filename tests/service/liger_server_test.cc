// The gRPC service over a real port-0 server and real clients: the model RPCs, their error codes,
// health, request ids and request metrics. Generation, sessions and conversion are in
// generation_rpc_test.cc.
#include "service/liger_server.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "core/tokenizer/tokenizer_loader.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "liger/v1/liger.grpc.pb.h"
#include "tests/test_paths.h"

namespace liger::service {
namespace {

using HealthStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

constexpr auto kServerTestDeadline = std::chrono::seconds(60);

std::string ServerTestModelDir() { return liger::testing::SourceDir() + "/models/llama3-tiny"; }

ServerOptions LocalServerOptions(int port) {
  ServerOptions options;
  options.host = "127.0.0.1";
  options.port = port;
  return options;
}

class LigerServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ServiceMetrics>> metrics =
        ServiceMetrics::Create(metrics_registry_, models_);
    ASSERT_TRUE(metrics.ok()) << metrics.status();
    metrics_ = std::move(*metrics);
    absl::StatusOr<std::unique_ptr<LigerServer>> server =
        LigerServer::Start(LocalServerOptions(0), &models_, metrics_.get(), &logger_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_GT(server_->port(), 0);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    stub_ = v1::LigerService::NewStub(channel_);
    health_ = grpc::health::v1::Health::NewStub(channel_);
  }

  static void SetDeadline(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() + kServerTestDeadline);
  }

  grpc::Status LoadTiny(const std::string& name, v1::LoadModelResponse* response = nullptr) {
    v1::LoadModelRequest request;
    request.set_name(name);
    request.set_model_dir(ServerTestModelDir());
    v1::LoadModelResponse ignored;
    grpc::ClientContext context;
    SetDeadline(&context);
    return stub_->LoadModel(&context, request, response != nullptr ? response : &ignored);
  }

  grpc::Status Tokenize(const v1::TokenizeRequest& request, v1::TokenizeResponse* response) {
    grpc::ClientContext context;
    SetDeadline(&context);
    return stub_->Tokenize(&context, request, response);
  }

  HealthStatus Health() {
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    grpc::ClientContext context;
    SetDeadline(&context);
    const grpc::Status status = health_->Check(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.status();
  }

  std::string LogText() const { return log_.str(); }

  // Declared in dependency order: destroyed in reverse, the server first.
  std::ostringstream log_;
  StructuredLogger logger_{LogFormat::kJson,
                           {std::make_shared<spdlog::sinks::ostream_sink_mt>(log_)}};
  metrics::Registry metrics_registry_;
  ModelRegistry models_{"float32", "cpu"};
  std::unique_ptr<ServiceMetrics> metrics_;
  std::unique_ptr<LigerServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LigerService::Stub> stub_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

TEST_F(LigerServerTest, HealthFollowsLoadedModels) {
  EXPECT_EQ(Health(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  ASSERT_TRUE(LoadTiny("tiny").ok());
  EXPECT_EQ(Health(), grpc::health::v1::HealthCheckResponse::SERVING);

  v1::UnloadModelRequest unload;
  unload.set_name("tiny");
  v1::UnloadModelResponse unloaded;
  grpc::ClientContext context;
  SetDeadline(&context);
  ASSERT_TRUE(stub_->UnloadModel(&context, unload, &unloaded).ok());
  EXPECT_EQ(Health(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
}

TEST_F(LigerServerTest, LoadModelDescribesTheModel) {
  v1::LoadModelResponse response;
  const grpc::Status status = LoadTiny("tiny", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const v1::ModelInfo& info = response.model();
  EXPECT_EQ(info.name(), "tiny");
  EXPECT_EQ(info.model_dir(), ServerTestModelDir());
  EXPECT_EQ(info.model_type(), "llama");
  EXPECT_EQ(info.liger_variant(), v1::LIGER_VARIANT_UNSPECIFIED);
  EXPECT_EQ(info.vocab_size(), 8192);
  EXPECT_EQ(info.num_hidden_layers(), 8);
  EXPECT_EQ(info.dtype(), v1::COMPUTE_DTYPE_FLOAT32);
  EXPECT_EQ(info.device(), "cpu");
  EXPECT_GT(info.loaded_at().seconds(), 0);
}

TEST_F(LigerServerTest, LoadModelNamesAModelAfterItsDirectory) {
  v1::LoadModelResponse response;
  ASSERT_TRUE(LoadTiny("", &response).ok());
  EXPECT_EQ(response.model().name(), "llama3-tiny");
}

TEST_F(LigerServerTest, LoadModelErrorsHaveSpecificCodes) {
  ASSERT_TRUE(LoadTiny("tiny").ok());
  EXPECT_EQ(LoadTiny("tiny").error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(LoadTiny("bad name!").error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  const auto load = [this](const v1::LoadModelRequest& request) {
    v1::LoadModelResponse response;
    grpc::ClientContext context;
    SetDeadline(&context);
    return stub_->LoadModel(&context, request, &response);
  };
  v1::LoadModelRequest request;
  EXPECT_EQ(load(request).error_code(), grpc::StatusCode::INVALID_ARGUMENT);  // no model_dir
  request.set_model_dir(ServerTestModelDir() + "/no-such-dir");
  request.set_name("missing");
  const grpc::Status missing = load(request);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND) << missing.error_message();
  request.set_model_dir(ServerTestModelDir());
  request.set_name("odd-dtype");
  request.set_dtype(static_cast<v1::ComputeDType>(42));
  EXPECT_EQ(load(request).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  request.set_dtype(v1::COMPUTE_DTYPE_UNSPECIFIED);
  request.set_device("tpu");
  EXPECT_EQ(load(request).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(LigerServerTest, RequestPathsAreConfinedToTheRoots) {
  ServerOptions options = LocalServerOptions(0);
  absl::StatusOr<PathConfinement> paths =
      PathConfinement::Create({liger::testing::SourceDir() + "/models"});
  ASSERT_TRUE(paths.ok()) << paths.status();
  options.paths = *paths;
  absl::StatusOr<std::unique_ptr<LigerServer>> confined =
      LigerServer::Start(options, &models_, metrics_.get(), &logger_);
  ASSERT_TRUE(confined.ok()) << confined.status();
  auto stub = v1::LigerService::NewStub(
      grpc::CreateChannel((*confined)->address(), grpc::InsecureChannelCredentials()));

  const auto load = [&](const std::string& model_dir) {
    v1::LoadModelRequest request;
    request.set_name("confined");
    request.set_model_dir(model_dir);
    v1::LoadModelResponse response;
    grpc::ClientContext context;
    SetDeadline(&context);
    return stub->LoadModel(&context, request, &response);
  };
  EXPECT_EQ(load("/etc").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(load("../models/llama3-tiny").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const grpc::Status inside = load("llama3-tiny");  // relative: from the root
  EXPECT_TRUE(inside.ok()) << inside.error_message();

  v1::ConvertRequest convert;
  convert.set_model_dir("llama3-tiny");
  convert.set_output_dir(::testing::TempDir() + "liger-escaped-conversion");
  convert.set_variant(v1::LIGER_VARIANT_GLA);
  grpc::ClientContext convert_context;
  SetDeadline(&convert_context);
  std::unique_ptr<grpc::ClientReader<v1::ConvertResponse>> reader =
      stub->Convert(&convert_context, convert);
  v1::ConvertResponse ignored;
  while (reader->Read(&ignored)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);

  v1::FineTuneRequest fine_tune;
  fine_tune.set_model_dir("llama3-tiny");
  fine_tune.set_output_dir("never-written");
  fine_tune.set_train_data("/etc/passwd");
  v1::FineTuneResponse job;
  grpc::ClientContext fine_tune_context;
  SetDeadline(&fine_tune_context);
  EXPECT_EQ(stub->FineTune(&fine_tune_context, fine_tune, &job).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(LigerServerTest, OversizedRequestsAreResourceExhausted) {
  ServerOptions options = LocalServerOptions(0);
  options.max_request_bytes = 1024;
  absl::StatusOr<std::unique_ptr<LigerServer>> small =
      LigerServer::Start(options, &models_, metrics_.get(), &logger_);
  ASSERT_TRUE(small.ok()) << small.status();
  auto stub = v1::LigerService::NewStub(
      grpc::CreateChannel((*small)->address(), grpc::InsecureChannelCredentials()));
  v1::TokenizeRequest request;
  request.set_text(std::string(4096, 'a'));
  v1::TokenizeResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  EXPECT_EQ(stub->Tokenize(&context, request, &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  options.max_request_bytes = 0;
  EXPECT_EQ(LigerServer::Start(options, &models_, metrics_.get(), &logger_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(LigerServerTest, ListModelsIsOrderedByName) {
  ASSERT_TRUE(LoadTiny("zeta").ok());
  ASSERT_TRUE(LoadTiny("alpha").ok());
  v1::ListModelsResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  ASSERT_TRUE(stub_->ListModels(&context, v1::ListModelsRequest(), &response).ok());
  ASSERT_EQ(response.models_size(), 2);
  EXPECT_EQ(response.models(0).name(), "alpha");
  EXPECT_EQ(response.models(1).name(), "zeta");
}

TEST_F(LigerServerTest, UnloadModelErrorsHaveSpecificCodes) {
  const auto unload = [this](const std::string& name) {
    v1::UnloadModelRequest request;
    request.set_name(name);
    v1::UnloadModelResponse response;
    grpc::ClientContext context;
    SetDeadline(&context);
    return stub_->UnloadModel(&context, request, &response);
  };
  EXPECT_EQ(unload("").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(unload("ghost").error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(LoadTiny("tiny").ok());
  EXPECT_TRUE(unload("tiny").ok());
  EXPECT_EQ(unload("tiny").error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(LigerServerTest, TokenizeMatchesTheTokenizer) {
  ASSERT_TRUE(LoadTiny("tiny").ok());
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(ServerTestModelDir());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const std::string text = "Call me Ishmael. Some years ago — never mind how long precisely…";

  v1::TokenizeRequest request;
  request.set_text(text);  // no model name: the only one loaded
  v1::TokenizeResponse response;
  ASSERT_TRUE(Tokenize(request, &response).ok());
  EXPECT_EQ(std::vector<int32_t>(response.token_ids().begin(), response.token_ids().end()),
            *(*tokenizer)->Encode(text, true));
  EXPECT_EQ(response.model(), "tiny");

  request.set_model("tiny");
  request.set_add_special_tokens(false);
  v1::TokenizeResponse plain;
  ASSERT_TRUE(Tokenize(request, &plain).ok());
  EXPECT_EQ(std::vector<int32_t>(plain.token_ids().begin(), plain.token_ids().end()),
            *(*tokenizer)->Encode(text, false));
  EXPECT_LT(plain.token_ids_size(), response.token_ids_size());
}

TEST_F(LigerServerTest, TokenizeModelSelectionErrors) {
  v1::TokenizeRequest request;
  request.set_text("hello");
  v1::TokenizeResponse response;
  EXPECT_EQ(Tokenize(request, &response).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(LoadTiny("one").ok());
  ASSERT_TRUE(LoadTiny("two").ok());
  const grpc::Status ambiguous = Tokenize(request, &response);
  EXPECT_EQ(ambiguous.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(ambiguous.error_message(), "one, two"))
      << ambiguous.error_message();
  request.set_model("three");
  EXPECT_EQ(Tokenize(request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(LigerServerTest, DetokenizeRoundTripsAndRejectsUnknownIds) {
  ASSERT_TRUE(LoadTiny("tiny").ok());
  const std::string text = "The ship sailed at dawn.";
  v1::TokenizeRequest tokenize;
  tokenize.set_text(text);
  v1::TokenizeResponse tokens;
  ASSERT_TRUE(Tokenize(tokenize, &tokens).ok());

  const auto detokenize = [this](const v1::DetokenizeRequest& request,
                                 v1::DetokenizeResponse* response) {
    grpc::ClientContext context;
    SetDeadline(&context);
    return stub_->Detokenize(&context, request, response);
  };
  v1::DetokenizeRequest request;
  *request.mutable_token_ids() = tokens.token_ids();
  request.set_skip_special_tokens(true);
  v1::DetokenizeResponse response;
  ASSERT_TRUE(detokenize(request, &response).ok());
  EXPECT_EQ(response.text(), text);
  EXPECT_EQ(response.model(), "tiny");

  request.add_token_ids(8192);  // the vocabulary has ids 0..8191
  const grpc::Status bad = detokenize(request, &response);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad.error_message();
  request.set_model("ghost");
  EXPECT_EQ(detokenize(request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(LigerServerTest, JobRpcsAreOffered) {
  // Every RPC is offered now; the job RPCs answer for themselves (job_rpc_test.cc has the rest).
  grpc::ClientContext fine_tune;
  SetDeadline(&fine_tune);
  v1::FineTuneResponse response;
  EXPECT_EQ(stub_->FineTune(&fine_tune, v1::FineTuneRequest(), &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext list;
  SetDeadline(&list);
  v1::ListJobsResponse jobs;
  EXPECT_TRUE(stub_->ListJobs(&list, v1::ListJobsRequest(), &jobs).ok());
  EXPECT_EQ(jobs.jobs_size(), 0);
}

TEST_F(LigerServerTest, RequestIdsAreEchoedOrGenerated) {
  ASSERT_TRUE(LoadTiny("tiny").ok());
  v1::ListModelsResponse response;
  grpc::ClientContext chosen;
  SetDeadline(&chosen);
  chosen.AddMetadata("x-request-id", "client-id-123");
  ASSERT_TRUE(stub_->ListModels(&chosen, v1::ListModelsRequest(), &response).ok());
  const auto& chosen_metadata = chosen.GetServerInitialMetadata();
  auto echoed = chosen_metadata.find("x-request-id");
  ASSERT_NE(echoed, chosen_metadata.end());
  EXPECT_EQ(std::string(echoed->second.data(), echoed->second.size()), "client-id-123");

  grpc::ClientContext fresh;
  SetDeadline(&fresh);
  ASSERT_TRUE(stub_->ListModels(&fresh, v1::ListModelsRequest(), &response).ok());
  const auto& fresh_metadata = fresh.GetServerInitialMetadata();
  auto generated = fresh_metadata.find("x-request-id");
  ASSERT_NE(generated, fresh_metadata.end());
  const std::string id(generated->second.data(), generated->second.size());
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;

  // Both show up in the JSON log lines of their calls.
  EXPECT_TRUE(absl::StrContains(LogText(), "\"request_id\":\"client-id-123\""));
  EXPECT_TRUE(absl::StrContains(LogText(), "\"request_id\":\"" + id + "\""));
}

TEST_F(LigerServerTest, RequestsAreCountedByMethodAndCode) {
  ASSERT_TRUE(LoadTiny("tiny").ok());
  v1::TokenizeRequest request;
  request.set_text("hello");
  v1::TokenizeResponse response;
  ASSERT_TRUE(Tokenize(request, &response).ok());
  ASSERT_TRUE(Tokenize(request, &response).ok());
  request.set_model("ghost");
  ASSERT_EQ(Tokenize(request, &response).error_code(), grpc::StatusCode::NOT_FOUND);

  const std::string text = metrics_registry_.ExpositionText();
  EXPECT_TRUE(absl::StrContains(text, "liger_requests_total{method=\"Tokenize\",code=\"OK\"} 2"))
      << text;
  EXPECT_TRUE(
      absl::StrContains(text, "liger_requests_total{method=\"Tokenize\",code=\"NOT_FOUND\"} 1"));
  EXPECT_TRUE(absl::StrContains(text, "liger_requests_total{method=\"LoadModel\",code=\"OK\"} 1"));
  EXPECT_TRUE(
      absl::StrContains(text, "liger_request_duration_seconds_count{method=\"Tokenize\"} 3"));
  EXPECT_TRUE(absl::StrContains(text, "liger_models_loaded 1\n"));
}

TEST_F(LigerServerTest, ShutdownTurnsHealthOffAndRefusesCalls) {
  ASSERT_TRUE(LoadTiny("tiny").ok());
  EXPECT_EQ(Health(), grpc::health::v1::HealthCheckResponse::SERVING);
  server_->Shutdown(absl::Seconds(1));
  v1::ListModelsResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  const grpc::Status status = stub_->ListModels(&context, v1::ListModelsRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(LigerServerTest, StartRejectsBadPortsAndTakenAddresses) {
  EXPECT_EQ(
      LigerServer::Start(LocalServerOptions(70000), &models_, metrics_.get(), &logger_)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LigerServer::Start(LocalServerOptions(server_->port()), &models_,
                               metrics_.get(), &logger_)
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace liger::service
