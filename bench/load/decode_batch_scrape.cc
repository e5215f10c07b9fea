#include "bench/load/decode_batch_scrape.h"

#include <httplib.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace liger::bench {
namespace {

constexpr char kDecodeBatchMetric[] = "liger_decode_batch_size";

// Adds the sample on `line` to `total` when the line is a sample of metric `name` (any labels).
void AddScrapedSample(absl::string_view line, absl::string_view name, double* total,
                      bool* seen) {
  if (!absl::StartsWith(line, name)) return;
  const absl::string_view rest = line.substr(name.size());
  if (rest.empty() || (rest[0] != '{' && rest[0] != ' ')) return;  // a longer metric name
  const size_t space = line.rfind(' ');
  double value = 0;
  if (space == absl::string_view::npos || !absl::SimpleAtod(line.substr(space + 1), &value)) {
    return;
  }
  *total += value;
  *seen = true;
}

}  // namespace

absl::StatusOr<DecodeBatchTotals> ScrapeDecodeBatches(const std::string& address) {
  httplib::Client client(absl::StrCat("http://", address));
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  const httplib::Result response = client.Get("/metrics");
  if (!response || response->status != 200) {
    return absl::UnavailableError(absl::StrCat("cannot read http://", address, "/metrics"));
  }
  DecodeBatchTotals totals;
  bool seen_count = false;
  bool seen_sum = false;
  const std::string count_name = absl::StrCat(kDecodeBatchMetric, "_count");
  const std::string sum_name = absl::StrCat(kDecodeBatchMetric, "_sum");
  for (absl::string_view line : absl::StrSplit(response->body, '\n')) {
    AddScrapedSample(line, count_name, &totals.steps, &seen_count);
    AddScrapedSample(line, sum_name, &totals.streams, &seen_sum);
  }
  if (!seen_count || !seen_sum) {
    return absl::NotFoundError(
        absl::StrCat("http://", address, "/metrics has no ", kDecodeBatchMetric, " histogram"));
  }
  return totals;
}

}  // namespace liger::bench
