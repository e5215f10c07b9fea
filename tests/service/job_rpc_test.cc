// The fine-tuning job RPCs over a real port-0 server and real clients:
// FineTune, WatchJob, GetJob, ListJobs and CancelJob with a fake runner for the
// codes and streams, the job metrics, and one short real run of RunFineTune on
// the tiny Llama fixture converted to GLA.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "liger/v1/liger.grpc.pb.h"
#include "service/liger_server.h"
#include "tests/test_paths.h"

namespace liger::service {
namespace {

namespace fs = std::filesystem;

constexpr auto kJobRpcDeadline = std::chrono::seconds(300);

// What one WatchJob call streamed.
struct Watched {
  grpc::Status status;
  std::vector<v1::Job> jobs;
};

// A fake runner: waits for `go` (unless it is null), reports `steps` steps, and
// succeeds; or, with `until_stopped`, runs until asked to stop.
struct FakeJobRunner {
  std::atomic<bool> until_stopped{false};
  absl::Notification go;
  int64_t steps = 3;

  FineTuneRunner AsRunner() {
    return [this](const FineTuneOptions& options, const FineTuneProgressCallback& on_progress,
                  const std::function<bool()>& stop) -> absl::StatusOr<FineTuneResult> {
      if (until_stopped) {
        while (!stop()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        return absl::CancelledError("stopped");
      }
      go.WaitForNotificationWithTimeout(absl::Seconds(60));
      FineTuneResult result;
      for (int64_t step = 1; step <= steps; ++step) {
        result.final_progress.step = step;
        result.final_progress.total_steps = steps;
        result.final_progress.loss = 1.0 / static_cast<double>(step);
        if (absl::Status status = on_progress(result.final_progress); !status.ok()) return status;
      }
      result.output_dir = options.output_dir;
      return result;
    };
  }
};

class JobRpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("liger_job_rpc_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    std::ofstream(root_ / "train.jsonl") << "{\"text\": \"hello there\"}\n";
  }

  void TearDown() override {
    stub_.reset();
    server_.reset();
    fs::remove_all(root_);
  }

  // `runner` empty: RunFineTune.
  void StartServer(FineTuneRunner runner) {
    absl::StatusOr<std::unique_ptr<ServiceMetrics>> metrics =
        ServiceMetrics::Create(metrics_registry_, models_);
    ASSERT_TRUE(metrics.ok()) << metrics.status();
    metrics_ = std::move(*metrics);
    ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.fine_tune_runner = std::move(runner);
    absl::StatusOr<std::unique_ptr<LigerServer>> server =
        LigerServer::Start(options, &models_, metrics_.get(), &logger_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    stub_ = v1::LigerService::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  }

  static void SetDeadline(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() + kJobRpcDeadline);
  }

  v1::FineTuneRequest Request(const std::string& output_name) const {
    v1::FineTuneRequest request;
    request.set_model_dir(liger::testing::SourceDir() + "/models/llama3-tiny");
    request.set_train_data((root_ / "train.jsonl").string());
    request.set_output_dir((root_ / output_name).string());
    return request;
  }

  grpc::Status FineTune(const v1::FineTuneRequest& request, v1::Job* job) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::FineTuneResponse response;
    const grpc::Status status = stub_->FineTune(&context, request, &response);
    *job = response.job();
    return status;
  }

  grpc::Status GetJob(const std::string& id, v1::Job* job) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::GetJobRequest request;
    request.set_job_id(id);
    v1::GetJobResponse response;
    const grpc::Status status = stub_->GetJob(&context, request, &response);
    *job = response.job();
    return status;
  }

  grpc::Status CancelJob(const std::string& id, v1::Job* job) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::CancelJobRequest request;
    request.set_job_id(id);
    v1::CancelJobResponse response;
    const grpc::Status status = stub_->CancelJob(&context, request, &response);
    *job = response.job();
    return status;
  }

  grpc::Status ListJobs(v1::JobState state, std::vector<v1::Job>* jobs) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::ListJobsRequest request;
    request.set_state(state);
    v1::ListJobsResponse response;
    const grpc::Status status = stub_->ListJobs(&context, request, &response);
    jobs->assign(response.jobs().begin(), response.jobs().end());
    return status;
  }

  // Reads the stream to its end, or only `max_messages` messages before leaving
  // it.
  Watched WatchJob(const std::string& id, size_t max_messages = SIZE_MAX) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::WatchJobRequest request;
    request.set_job_id(id);
    std::unique_ptr<grpc::ClientReader<v1::WatchJobResponse>> reader =
        stub_->WatchJob(&context, request);
    Watched out;
    v1::WatchJobResponse response;
    while (out.jobs.size() < max_messages && reader->Read(&response)) {
      out.jobs.push_back(response.job());
    }
    if (out.jobs.size() == max_messages) context.TryCancel();
    out.status = reader->Finish();
    return out;
  }

  v1::Job AwaitJobState(const std::string& id, v1::JobState state) {
    v1::Job job;
    const auto deadline = std::chrono::steady_clock::now() + kJobRpcDeadline;
    while (std::chrono::steady_clock::now() < deadline) {
      EXPECT_TRUE(GetJob(id, &job).ok());
      if (job.state() == state) return job;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ADD_FAILURE() << "job " << id << " never reached state " << state;
    return job;
  }

  fs::path root_;
  std::ostringstream log_;
  StructuredLogger logger_{LogFormat::kJson,
                           {std::make_shared<spdlog::sinks::ostream_sink_mt>(log_)}};
  metrics::Registry metrics_registry_;
  ModelRegistry models_{"float32", "cpu"};
  std::unique_ptr<ServiceMetrics> metrics_;
  std::unique_ptr<LigerServer> server_;
  std::unique_ptr<v1::LigerService::Stub> stub_;
};

TEST_F(JobRpcTest, FineTuneChecksTheRequestAndFillsTheDefaults) {
  FakeJobRunner runner;
  StartServer(runner.AsRunner());
  v1::Job job;
  EXPECT_EQ(FineTune(v1::FineTuneRequest(), &job).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::FineTuneRequest missing = Request("out");
  missing.set_model_dir((root_ / "nowhere").string());
  EXPECT_EQ(FineTune(missing, &job).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::FineTuneRequest bad_rank = Request("out");
  bad_rank.mutable_lora()->set_rank(0);
  EXPECT_EQ(FineTune(bad_rank, &job).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::FineTuneRequest bad_dtype = Request("out");
  bad_dtype.set_dtype(static_cast<v1::ComputeDType>(77));
  EXPECT_EQ(FineTune(bad_dtype, &job).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::FineTuneRequest too_long = Request("out");
  too_long.set_sequence_length(5000);  // llama3-tiny: max_position_embeddings 4096
  EXPECT_EQ(FineTune(too_long, &job).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::FineTuneRequest distill_unconverted = Request("out");
  distill_unconverted.set_distill_weight(0.5);  // its softmax teacher would be itself
  EXPECT_EQ(FineTune(distill_unconverted, &job).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  fs::create_directories(root_ / "taken");
  EXPECT_EQ(FineTune(Request("taken"), &job).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  std::vector<v1::Job> jobs;
  ASSERT_TRUE(ListJobs(v1::JOB_STATE_UNSPECIFIED, &jobs).ok());
  EXPECT_TRUE(jobs.empty());

  const grpc::Status status = FineTune(Request("out"), &job);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(job.job_id().size(), 32u);
  EXPECT_EQ(job.state(), v1::JOB_STATE_QUEUED);
  EXPECT_TRUE(job.has_created_at());
  const v1::FineTuneRequest& echoed = job.request();
  EXPECT_EQ(echoed.lora().rank(), 8);
  EXPECT_FLOAT_EQ(echoed.lora().alpha(), 8.0f);
  EXPECT_EQ(std::vector<std::string>(echoed.lora().target_modules().begin(),
                                     echoed.lora().target_modules().end()),
            (std::vector<std::string>{"q_proj", "k_proj", "v_proj"}));
  EXPECT_DOUBLE_EQ(echoed.learning_rate(), 1e-3);
  EXPECT_EQ(echoed.epochs(), 2);
  EXPECT_EQ(echoed.micro_batch_size(), 1);
  EXPECT_EQ(echoed.gradient_accumulation_steps(), 8);
  EXPECT_EQ(echoed.sequence_length(), 1024);
  EXPECT_EQ(echoed.dtype(), v1::COMPUTE_DTYPE_FLOAT32);
  EXPECT_EQ(echoed.device(), "cpu");
  EXPECT_NE(echoed.seed(),
            0u);  // 0 asks for a random seed, recorded for a resume
  runner.go.Notify();
  AwaitJobState(job.job_id(), v1::JOB_STATE_SUCCEEDED);
}

TEST_F(JobRpcTest, GetListAndCancelAnswerWithTheRightCodes) {
  FakeJobRunner runner;
  runner.until_stopped = true;
  StartServer(runner.AsRunner());
  v1::Job job;
  EXPECT_EQ(GetJob("no-such-job", &job).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(CancelJob("no-such-job", &job).error_code(), grpc::StatusCode::NOT_FOUND);

  v1::Job first;
  v1::Job second;
  ASSERT_TRUE(FineTune(Request("first"), &first).ok());
  ASSERT_TRUE(FineTune(Request("second"), &second).ok());
  AwaitJobState(first.job_id(), v1::JOB_STATE_RUNNING);

  std::vector<v1::Job> jobs;
  ASSERT_TRUE(ListJobs(v1::JOB_STATE_UNSPECIFIED, &jobs).ok());
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].job_id(), second.job_id());  // newest first
  ASSERT_TRUE(ListJobs(v1::JOB_STATE_RUNNING, &jobs).ok());
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].job_id(), first.job_id());
  EXPECT_EQ(ListJobs(static_cast<v1::JobState>(42), &jobs).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  ASSERT_TRUE(CancelJob(second.job_id(), &job).ok());
  EXPECT_EQ(job.state(), v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(CancelJob(second.job_id(), &job).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(CancelJob(first.job_id(), &job).ok());
  EXPECT_EQ(job.state(), v1::JOB_STATE_RUNNING);  // still stopping
  const v1::Job cancelled = AwaitJobState(first.job_id(), v1::JOB_STATE_CANCELLED);
  EXPECT_TRUE(cancelled.has_finished_at());

  const std::string metrics = metrics_registry_.ExpositionText();
  EXPECT_TRUE(absl::StrContains(metrics, "liger_finetune_jobs{state=\"cancelled\"} 2")) << metrics;
  EXPECT_TRUE(absl::StrContains(metrics, "liger_finetune_step 0")) << metrics;
  EXPECT_TRUE(absl::StrContains(metrics, "liger_device_memory_bytes{device=\"cpu\"}")) << metrics;
}

TEST_F(JobRpcTest, WatchJobStreamsEveryChangeAndClientsMayLeaveAndReattach) {
  FakeJobRunner runner;
  StartServer(runner.AsRunner());
  EXPECT_EQ(WatchJob("no-such-job").status.error_code(), grpc::StatusCode::NOT_FOUND);
  v1::Job job;
  ASSERT_TRUE(FineTune(Request("out"), &job).ok());

  // A client that leaves after the first snapshot does not affect the job.
  const Watched left = WatchJob(job.job_id(), 1);
  ASSERT_EQ(left.jobs.size(), 1u);
  EXPECT_EQ(left.status.error_code(), grpc::StatusCode::CANCELLED);

  Watched watched;
  std::thread watcher([&] { watched = WatchJob(job.job_id()); });
  // Let the watcher attach before the run starts, so it sees every step.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  runner.go.Notify();
  watcher.join();
  ASSERT_TRUE(watched.status.ok()) << watched.status.error_message();
  ASSERT_FALSE(watched.jobs.empty());
  std::vector<int64_t> steps;
  for (const v1::Job& snapshot : watched.jobs) {
    EXPECT_EQ(snapshot.job_id(), job.job_id());
    if (snapshot.state() == v1::JOB_STATE_RUNNING && snapshot.progress().step() > 0) {
      steps.push_back(snapshot.progress().step());
    }
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(watched.jobs.back().state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(watched.jobs.back().progress().step(), 3);

  // Re-attaching to the finished job gets its final snapshot and the end of the
  // stream.
  const Watched again = WatchJob(job.job_id());
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  ASSERT_EQ(again.jobs.size(), 1u);
  EXPECT_EQ(again.jobs[0].state(), v1::JOB_STATE_SUCCEEDED);
}

TEST_F(JobRpcTest, ShutdownStopsTheRunningJobAndEndsWatchStreams) {
  FakeJobRunner runner;
  runner.until_stopped = true;
  StartServer(runner.AsRunner());
  v1::Job job;
  ASSERT_TRUE(FineTune(Request("out"), &job).ok());
  AwaitJobState(job.job_id(), v1::JOB_STATE_RUNNING);
  Watched watched;
  std::thread watcher([&] { watched = WatchJob(job.job_id()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  server_->Shutdown(absl::Seconds(20));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  watcher.join();
  // Without a jobs directory the stopped job cannot resume: it ends CANCELLED, and so does the
  // stream, normally.
  EXPECT_TRUE(watched.status.ok()) << watched.status.error_message();
  ASSERT_FALSE(watched.jobs.empty());
  EXPECT_EQ(watched.jobs.back().state(), v1::JOB_STATE_CANCELLED);
}

// One short real run: the tiny Llama converted to GLA, three optimizer steps of
// one 32-token sequence, and the output loaded like any checkpoint.
TEST_F(JobRpcTest, RealFineTuneRunsToCompletionAndItsOutputLoads) {
  StartServer(nullptr);
  const fs::path gla_dir = root_ / "tiny-gla";
  {
    v1::ConvertRequest convert;
    convert.set_model_dir(liger::testing::SourceDir() + "/models/llama3-tiny");
    convert.set_output_dir(gla_dir.string());
    convert.set_variant(v1::LIGER_VARIANT_GLA);
    grpc::ClientContext context;
    SetDeadline(&context);
    std::unique_ptr<grpc::ClientReader<v1::ConvertResponse>> reader =
        stub_->Convert(&context, convert);
    v1::ConvertResponse response;
    while (reader->Read(&response)) {
    }
    const grpc::Status status = reader->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  {
    std::ifstream corpus(liger::testing::SharedDir() + "/data/corpus-train.jsonl");
    ASSERT_TRUE(corpus.good());
    std::ofstream train(root_ / "corpus.jsonl");
    std::string line;
    for (int i = 0; i < 3 && std::getline(corpus, line); ++i) train << line << "\n";
  }
  v1::FineTuneRequest request;
  request.set_model_dir(gla_dir.string());
  request.set_train_data((root_ / "corpus.jsonl").string());
  request.set_output_dir((root_ / "tuned").string());
  request.set_sequence_length(32);
  request.set_max_steps(3);
  request.set_micro_batch_size(1);
  request.set_gradient_accumulation_steps(1);
  request.set_seed(7);
  v1::Job job;
  const grpc::Status submitted = FineTune(request, &job);
  ASSERT_TRUE(submitted.ok()) << submitted.error_message();

  const Watched watched = WatchJob(job.job_id());
  ASSERT_TRUE(watched.status.ok()) << watched.status.error_message();
  ASSERT_FALSE(watched.jobs.empty());
  const v1::Job& last = watched.jobs.back();
  ASSERT_EQ(last.state(), v1::JOB_STATE_SUCCEEDED) << last.error_message();
  std::vector<int64_t> steps;
  for (const v1::Job& snapshot : watched.jobs) {
    if (snapshot.state() != v1::JOB_STATE_RUNNING || snapshot.progress().step() == 0) continue;
    if (!steps.empty() && steps.back() == snapshot.progress().step()) continue;  // an evaluation
    steps.push_back(snapshot.progress().step());
    EXPECT_TRUE(std::isfinite(snapshot.progress().loss())) << snapshot.progress().loss();
    EXPECT_GT(snapshot.progress().loss(), 0);
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(last.progress().step(), 3);

  v1::LoadModelRequest load;
  load.set_name("tuned");
  load.set_model_dir((root_ / "tuned").string());
  v1::LoadModelResponse loaded;
  grpc::ClientContext context;
  SetDeadline(&context);
  const grpc::Status status = stub_->LoadModel(&context, load, &loaded);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(loaded.model().liger_variant(), v1::LIGER_VARIANT_GLA);
}

}  // namespace
}  // namespace liger::service
