#include "bench/load/generate_load.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace liger::bench {
namespace {

using LoadClock = std::chrono::steady_clock;

double LoadMillisBetween(LoadClock::time_point from, LoadClock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// What one call saw, handed to the run when it ends.
struct LoadCallStats {
  int64_t tokens = 0;
  int64_t window_tokens = 0;
  double first_token_ms = -1;  // -1: no token came
  std::vector<double> gaps_ms;
};

class LoadRun;

// One Generate call of one stream. Deletes itself once gRPC is done with it.
class LoadCall final : public grpc::ClientReadReactor<v1::GenerateResponse> {
 public:
  LoadCall(LoadRun* run, int stream) : run_(run), stream_(stream) {}

  void Begin(v1::LigerService::Stub* stub, const v1::GenerateRequest& request,
             absl::Duration timeout, LoadClock::time_point window_end) {
    window_end_ = window_end;
    context_.set_deadline(std::chrono::system_clock::now() + absl::ToChronoSeconds(timeout));
    stub->async()->Generate(&context_, &request, this);
    start_ = LoadClock::now();
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended; OnDone follows
    if (response_.has_token()) {
      const LoadClock::time_point now = LoadClock::now();
      if (stats_.tokens == 0) {
        stats_.first_token_ms = LoadMillisBetween(start_, now);
      } else {
        stats_.gaps_ms.push_back(LoadMillisBetween(last_token_, now));
      }
      last_token_ = now;
      ++stats_.tokens;
      if (now <= window_end_) ++stats_.window_tokens;
    }
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override;

 private:
  LoadRun* const run_;
  const int stream_;
  grpc::ClientContext context_;
  v1::GenerateResponse response_;
  LoadClock::time_point window_end_;
  LoadClock::time_point start_;
  LoadClock::time_point last_token_;
  LoadCallStats stats_;
};

// The streams of one load run and what they saw so far.
class LoadRun {
 public:
  LoadRun(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
          const GenerateLoadOptions& options)
      : options_(options) {
    for (const auto& channel : channels) stubs_.push_back(v1::LigerService::NewStub(channel));
    for (int i = 0; i < options.streams; ++i) {
      v1::GenerateRequest request;
      request.set_model(options.model);
      request.set_text(options.prompts[static_cast<size_t>(i) % options.prompts.size()]);
      request.set_max_new_tokens(options.max_new_tokens);
      request.set_min_new_tokens(options.max_new_tokens);
      request.set_ignore_eos(true);
      request.mutable_sampling()->set_temperature(0);
      requests_.push_back(std::move(request));
    }
  }

  GenerateLoadResult Run() {
    const LoadClock::time_point start = LoadClock::now();
    window_end_ = start + absl::ToChronoNanoseconds(options_.duration);
    {
      absl::MutexLock lock(&mu_);
      running_ = options_.streams;
      result_.streams = options_.streams;
      result_.window_seconds = absl::ToDoubleSeconds(options_.duration);
    }
    for (int i = 0; i < options_.streams; ++i) StartCall(i);
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* running) { return *running == 0; }, &running_));
    return std::move(result_);
  }

  // A call of `stream` ended: keep what it saw and start the stream's next request while the
  // window is open.
  void CallDone(int stream, const grpc::Status& status, LoadCallStats stats) {
    bool again = false;
    {
      absl::MutexLock lock(&mu_);
      if (status.ok()) {
        ++result_.requests_ok;
        if (stats.tokens != options_.max_new_tokens) ++result_.requests_short;
      } else {
        ++result_.errors[status.error_code()];
        if (result_.first_error.empty()) {
          result_.first_error = status.error_message();
        }
      }
      result_.tokens_total += stats.tokens;
      result_.tokens_window += stats.window_tokens;
      if (stats.first_token_ms >= 0) result_.first_token_ms.push_back(stats.first_token_ms);
      result_.inter_token_ms.insert(result_.inter_token_ms.end(), stats.gaps_ms.begin(),
                                    stats.gaps_ms.end());
      again = LoadClock::now() < window_end_;
      if (!again) --running_;
    }
    if (again) StartCall(stream);
  }

 private:
  void StartCall(int stream) {
    auto* call = new LoadCall(this, stream);
    call->Begin(stubs_[static_cast<size_t>(stream) % stubs_.size()].get(),
                requests_[static_cast<size_t>(stream)], options_.request_timeout, window_end_);
  }

  const GenerateLoadOptions options_;
  std::vector<std::unique_ptr<v1::LigerService::Stub>> stubs_;
  std::vector<v1::GenerateRequest> requests_;  // one per stream, outliving its calls
  LoadClock::time_point window_end_;
  absl::Mutex mu_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  GenerateLoadResult result_ ABSL_GUARDED_BY(mu_);
};

void LoadCall::OnDone(const grpc::Status& status) {
  run_->CallDone(stream_, status, std::move(stats_));
  delete this;
}

}  // namespace

int64_t GenerateLoadResult::failed() const {
  int64_t failed = requests_short;
  for (const auto& [code, count] : errors) failed += count;
  return failed;
}

double GenerateLoadResult::tokens_per_second() const {
  return window_seconds > 0 ? static_cast<double>(tokens_window) / window_seconds : 0;
}

GenerateLoadResult RunGenerateLoad(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                                   const GenerateLoadOptions& options) {
  LoadRun run(channels, options);
  return run.Run();
}

double Quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(q * static_cast<double>(values.size()));
  const size_t index = static_cast<size_t>(std::max(rank, 1.0)) - 1;
  return values[std::min(index, values.size() - 1)];
}

}  // namespace liger::bench
