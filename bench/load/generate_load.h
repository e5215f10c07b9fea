#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "liger/v1/liger.grpc.pb.h"

namespace liger::bench {

struct GenerateLoadOptions {
  int streams = 64;
  absl::Duration duration = absl::Seconds(30);
  int max_new_tokens = 64;
  std::vector<std::string> prompts;  // stream i sends prompts[i % size]
  std::string model;                 // GenerateRequest.model; empty: the only loaded model
  absl::Duration request_timeout = absl::Minutes(5);
};

// What one run of GenerateLoad saw. Latencies in milliseconds, one entry per request (time to
// first token) or per gap between two consecutive tokens of a request (inter-token).
struct GenerateLoadResult {
  int streams = 0;
  int64_t requests_ok = 0;
  // OK requests that brought fewer (or more) tokens than asked: failures too.
  int64_t requests_short = 0;
  // Failed requests by gRPC code, and the first failure's message.
  std::map<grpc::StatusCode, int64_t> errors;
  std::string first_error;
  int64_t tokens_total = 0;   // every token received, including after the window
  int64_t tokens_window = 0;  // tokens received within the window
  double window_seconds = 0;
  std::vector<double> first_token_ms;
  std::vector<double> inter_token_ms;

  int64_t failed() const;  // errors and short requests
  double tokens_per_second() const;
};

// Keeps `streams` streaming Generate calls going for `duration`: each stream issues its next
// request as soon as the previous one ends (greedy, ignore_eos, exactly max_new_tokens tokens).
// Throughput counts the tokens that arrive within the window; requests still running when it
// closes are let finish (their errors count) but no new ones start. Calls use the callback API,
// spread over the given channels.
GenerateLoadResult RunGenerateLoad(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                                   const GenerateLoadOptions& options);

// The q-quantile (0..1) of `values` by the nearest-rank method; 0 when empty.
double Quantile(std::vector<double> values, double q);

}  // namespace liger::bench
