// Load benchmark of `liger serve`: many concurrent streaming Generate calls against one live
// server, then a single stream, and how their aggregate tokens/s compare. Continuous batching
// should make 64 streams yield several times the tokens/s of one, without errors.
//
// Usage: load_benchmark [--server HOST:PORT [--metrics HOST:PORT] | --liger PATH --model DIR]
//                       [--model-name NAME] [--streams 64] [--duration-seconds 30]
//                       [--baseline-seconds 10] [--max-new-tokens 64] [--prompt TEXT ...]
//                       [--channels 4] [--request-timeout-seconds 300]
// Without --server it starts `liger serve` on port 0 itself and stops it with SIGTERM at the end.
// Every request is greedy with ignore_eos, so each one decodes exactly --max-new-tokens tokens.
// Exits 1 if any request failed, 2 if the benchmark could not run.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "bench/load/decode_batch_scrape.h"
#include "bench/load/generate_load.h"
#include "bench/load/serve_child.h"
#include "cli/command_line.h"
#include "core/util/status_macros.h"

namespace liger::bench {
namespace {

constexpr absl::Duration kLoadServeStartTimeout = absl::Seconds(120);
constexpr absl::Duration kLoadServeStopTimeout = absl::Seconds(60);
constexpr absl::Duration kLoadConnectTimeout = absl::Seconds(30);

// Short prompts of a few dozen tokens, so that decoding, not prefill, dominates.
const std::vector<std::string>& LoadBuiltInPrompts() {
  static const std::vector<std::string> prompts = {
      "Call me Ishmael. Some years ago, never mind how long precisely,",
      "It was the best of times, it was the worst of times,",
      "The quick brown fox jumps over the lazy dog, and then",
      "Once upon a time, in a small village by the sea, there lived",
      "In the beginning the Universe was created. This has made a lot of people",
      "The cat sat on the mat and looked out of the window at",
      "All happy families are alike; each unhappy family is unhappy in",
      "Far out in the uncharted backwaters of the unfashionable end of the galaxy",
  };
  return prompts;
}

struct LoadFlags {
  std::string server;   // empty: start liger serve
  std::string metrics;  // the server's metrics address; empty: not scraped
  std::string liger;
  std::string model_dir;
  GenerateLoadOptions load;
  absl::Duration baseline = absl::Seconds(10);
  int channels = 4;
};

absl::StatusOr<int> PositiveIntFlag(const CommandLine& cl, const std::string& name,
                                    int64_t fallback) {
  LIGER_ASSIGN_OR_RETURN(int64_t value, cl.Int(name, fallback));
  if (value < 1 || value > 100000) {
    return absl::InvalidArgumentError(
        absl::StrCat("flag --", name, " must be in [1, 100000], got ", value));
  }
  return static_cast<int>(value);
}

absl::StatusOr<absl::Duration> SecondsFlag(const CommandLine& cl, const std::string& name,
                                           double fallback) {
  LIGER_ASSIGN_OR_RETURN(double seconds, cl.Double(name, fallback));
  if (!(seconds > 0 && seconds <= 86400)) {
    return absl::InvalidArgumentError(
        absl::StrCat("flag --", name, " must be in (0, 86400], got ", seconds));
  }
  return absl::Seconds(seconds);
}

absl::StatusOr<LoadFlags> ParseLoadFlags(const std::vector<std::string>& args) {
  LIGER_ASSIGN_OR_RETURN(
      CommandLine cl,
      CommandLine::Parse(args, {"server", "metrics", "liger", "model", "model-name", "streams",
                                "duration-seconds", "baseline-seconds", "max-new-tokens", "prompt",
                                "channels", "request-timeout-seconds"}));
  LoadFlags flags;
  flags.server = cl.String("server", "");
  flags.metrics = cl.String("metrics", "");
  if (flags.server.empty() && !flags.metrics.empty()) {
    return absl::InvalidArgumentError(
        "flag --metrics needs --server (a server started here is scraped anyway)");
  }
  if (!flags.server.empty() && (cl.Has("liger") || cl.Has("model"))) {
    return absl::InvalidArgumentError(
        "flags --liger and --model start a server: not with --server");
  }
  flags.liger = cl.String("liger", absl::StrCat(LIGER_BINARY_DIR, "/liger"));
  flags.model_dir = cl.String("model", absl::StrCat(LIGER_SOURCE_DIR, "/models/llama3-tiny"));
  flags.load.model = cl.String("model-name", "");
  LIGER_ASSIGN_OR_RETURN(flags.load.streams, PositiveIntFlag(cl, "streams", 64));
  LIGER_ASSIGN_OR_RETURN(flags.load.max_new_tokens, PositiveIntFlag(cl, "max-new-tokens", 64));
  LIGER_ASSIGN_OR_RETURN(flags.channels, PositiveIntFlag(cl, "channels", 4));
  LIGER_ASSIGN_OR_RETURN(flags.load.duration, SecondsFlag(cl, "duration-seconds", 30));
  LIGER_ASSIGN_OR_RETURN(flags.baseline, SecondsFlag(cl, "baseline-seconds", 10));
  LIGER_ASSIGN_OR_RETURN(flags.load.request_timeout,
                         SecondsFlag(cl, "request-timeout-seconds", 300));
  flags.load.prompts = cl.All("prompt");
  for (const std::string& prompt : flags.load.prompts) {
    if (prompt.empty()) return absl::InvalidArgumentError("flag --prompt must not be empty");
  }
  if (flags.load.prompts.empty()) flags.load.prompts = LoadBuiltInPrompts();
  return flags;
}

// Separate connections: channels with equal arguments would share one subchannel.
absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> ConnectLoadChannels(
    const std::string& address, int count) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(absl::ToChronoTime(absl::Now() + kLoadConnectTimeout))) {
      return absl::UnavailableError(absl::StrCat("cannot connect to ", address, " within ",
                                                 absl::FormatDuration(kLoadConnectTimeout)));
    }
    channels.push_back(std::move(channel));
  }
  return channels;
}

// One phase: the load itself, and what the server's decode-batch histogram did meanwhile.
struct LoadPhase {
  GenerateLoadResult result;
  std::optional<DecodeBatchTotals> batches;  // deltas over the phase, when scraped
};

absl::StatusOr<LoadPhase> RunLoadPhase(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                                       const GenerateLoadOptions& options,
                                       const std::string& metrics) {
  std::optional<DecodeBatchTotals> before;
  if (!metrics.empty()) {
    LIGER_ASSIGN_OR_RETURN(before, ScrapeDecodeBatches(metrics));
  }
  LoadPhase phase;
  phase.result = RunGenerateLoad(channels, options);
  if (before.has_value()) {
    LIGER_ASSIGN_OR_RETURN(DecodeBatchTotals after, ScrapeDecodeBatches(metrics));
    phase.batches = DecodeBatchTotals{after.steps - before->steps,
                                      after.streams - before->streams};
  }
  return phase;
}

std::string LoadErrorsCell(const GenerateLoadResult& result) {
  std::vector<std::string> parts;
  for (const auto& [code, count] : result.errors) {
    parts.push_back(absl::StrCat(absl::StatusCodeToString(static_cast<absl::StatusCode>(code)),
                                 " ", count));
  }
  if (result.requests_short > 0) parts.push_back(absl::StrCat("short ", result.requests_short));
  return parts.empty() ? "0" : absl::StrJoin(parts, ", ");
}

void PrintLoadRow(const LoadPhase& phase) {
  const GenerateLoadResult& r = phase.result;
  std::string batches = "-";
  if (phase.batches.has_value() && phase.batches->steps > 0) {
    batches = absl::StrFormat("%.0f steps, mean %.1f", phase.batches->steps,
                              phase.batches->streams / phase.batches->steps);
  }
  std::printf("| %d | %lld | %s | %lld (%lld in window) | %.1f | %.0f / %.0f | %.1f / %.1f "
              "| %s |\n",
              r.streams, static_cast<long long>(r.requests_ok), LoadErrorsCell(r).c_str(),
              static_cast<long long>(r.tokens_total), static_cast<long long>(r.tokens_window),
              r.tokens_per_second(), Quantile(r.first_token_ms, 0.5),
              Quantile(r.first_token_ms, 0.99), Quantile(r.inter_token_ms, 0.5),
              Quantile(r.inter_token_ms, 0.99), batches.c_str());
}

absl::StatusOr<int> RunLoadBenchmark(const std::vector<std::string>& args) {
  LIGER_ASSIGN_OR_RETURN(LoadFlags flags, ParseLoadFlags(args));
  std::unique_ptr<ServeChild> server;
  std::string address = flags.server;
  std::string metrics = flags.metrics;
  if (address.empty()) {
    std::fprintf(stderr, "load_benchmark: starting %s serve --model %s\n", flags.liger.c_str(),
                 flags.model_dir.c_str());
    LIGER_ASSIGN_OR_RETURN(server,
                           ServeChild::Start(flags.liger, flags.model_dir, kLoadServeStartTimeout));
    address = server->address();
    metrics = server->metrics_address();
  }
  LIGER_ASSIGN_OR_RETURN(std::vector<std::shared_ptr<grpc::Channel>> channels,
                         ConnectLoadChannels(address, flags.channels));

  // One request first, so that lazy initialization on either side is not timed.
  GenerateLoadOptions warm_up = flags.load;
  warm_up.streams = 1;
  warm_up.duration = absl::Nanoseconds(1);
  RunGenerateLoad(channels, warm_up);

  std::fprintf(stderr, "load_benchmark: %d streams for %s\n", flags.load.streams,
               absl::FormatDuration(flags.load.duration).c_str());
  LIGER_ASSIGN_OR_RETURN(LoadPhase loaded, RunLoadPhase(channels, flags.load, metrics));
  GenerateLoadOptions single = flags.load;
  single.streams = 1;
  single.duration = flags.baseline;
  std::fprintf(stderr, "load_benchmark: 1 stream for %s\n",
               absl::FormatDuration(flags.baseline).c_str());
  LIGER_ASSIGN_OR_RETURN(LoadPhase baseline, RunLoadPhase(channels, single, metrics));

  std::printf("server %s, %d new tokens per request (greedy, ignore_eos), %d channels\n\n",
              address.c_str(), flags.load.max_new_tokens, flags.channels);
  std::printf("| streams | requests | errors | generated tokens | tokens/s | TTFT p50 / p99 (ms) "
              "| inter-token p50 / p99 (ms) | server decode steps |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  PrintLoadRow(loaded);
  PrintLoadRow(baseline);
  const double single_rate = baseline.result.tokens_per_second();
  std::printf("\naggregate tokens/s, %d streams vs 1: %.2fx\n", flags.load.streams,
              single_rate > 0 ? loaded.result.tokens_per_second() / single_rate : 0.0);
  const int64_t failed = loaded.result.failed() + baseline.result.failed();
  for (const GenerateLoadResult* r : {&loaded.result, &baseline.result}) {
    if (!r->first_error.empty()) {
      std::printf("first error (%d streams): %s\n", r->streams, r->first_error.c_str());
    }
  }
  if (server != nullptr) {
    LIGER_ASSIGN_OR_RETURN(int exit_code, server->Stop(kLoadServeStopTimeout));
    if (exit_code != 0) {
      return absl::InternalError(absl::StrCat("liger serve exited with ", exit_code));
    }
  }
  return failed > 0 ? 1 : 0;
}

}  // namespace
}  // namespace liger::bench

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<int> exit_code = liger::bench::RunLoadBenchmark(args);
  if (!exit_code.ok()) {
    std::fprintf(stderr, "load_benchmark: %s\n", exit_code.status().ToString().c_str());
    return 2;
  }
  return *exit_code;
}
