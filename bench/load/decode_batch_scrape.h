#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace liger::bench {

// The server's liger_decode_batch_size histogram (all models together): how many batched decode
// steps ran and how many streams they advanced.
struct DecodeBatchTotals {
  double steps = 0;    // the histogram's _count
  double streams = 0;  // its _sum
};

// GETs http://<address>/metrics. UNAVAILABLE if the endpoint cannot be read, NOT_FOUND if the
// histogram is missing.
absl::StatusOr<DecodeBatchTotals> ScrapeDecodeBatches(const std::string& address);

}  // namespace liger::bench
