#include "service/metrics/histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace liger::metrics {
namespace {

using Counts = std::vector<uint64_t>;

TEST(HistogramBoundsTest, AcceptsIncreasingFiniteBounds) {
  EXPECT_TRUE(Histogram::ValidateBounds({}).ok());
  EXPECT_TRUE(Histogram::ValidateBounds({-1, 0, 0.5, 10}).ok());
}

TEST(HistogramBoundsTest, RejectsUnorderedRepeatedAndNonFiniteBounds) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const std::vector<double>& bounds : std::vector<std::vector<double>>{
           {2, 1}, {1, 1}, {1, inf}, {-inf, 1}, {nan}, {1, nan, 3}}) {
    EXPECT_EQ(Histogram::ValidateBounds(bounds).code(), absl::StatusCode::kInvalidArgument)
        << testing::PrintToString(bounds);
  }
}

TEST(HistogramTest, ValueEqualToABoundGoesIntoThatBucket) {
  Histogram histogram({1, 2, 5});
  histogram.Observe(1);
  EXPECT_EQ(histogram.CumulativeCounts(), (Counts{1, 1, 1, 1}));
  histogram.Observe(2);
  histogram.Observe(5);
  EXPECT_EQ(histogram.CumulativeCounts(), (Counts{1, 2, 3, 3}));
  histogram.Observe(std::nextafter(5.0, 6.0));
  EXPECT_EQ(histogram.CumulativeCounts(), (Counts{1, 2, 3, 4}));
}

TEST(HistogramTest, SmallValuesGoToTheFirstBucketAndLargeOnesToInf) {
  Histogram histogram({1, 2});
  histogram.Observe(-100);
  histogram.Observe(0);
  histogram.Observe(1.5);
  histogram.Observe(1e300);
  EXPECT_EQ(histogram.CumulativeCounts(), (Counts{2, 3, 4}));
  EXPECT_EQ(histogram.count(), 4u);
  EXPECT_EQ(histogram.sum(), -100 + 0 + 1.5 + 1e300);
}

TEST(HistogramTest, NaNCountsInInfAndPoisonsTheSum) {
  Histogram histogram({1});
  histogram.Observe(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(histogram.CumulativeCounts(), (Counts{0, 1}));
  EXPECT_TRUE(std::isnan(histogram.sum()));
}

TEST(HistogramTest, WithoutBoundsOnlyInfExists) {
  Histogram histogram({});
  histogram.Observe(3);
  std::string out;
  histogram.AppendSamples("h", "", &out);
  EXPECT_EQ(out, "h_bucket{le=\"+Inf\"} 1\nh_sum 3\nh_count 1\n");
}

TEST(HistogramTest, AppendsCumulativeBucketsSumAndCount) {
  Histogram histogram({0.25, 1, 10});
  // Binary fractions, so the expected sum is exact.
  for (double v : {0.125, 0.25, 0.5, 3.0, 3.0, 100.0}) histogram.Observe(v);
  std::string out;
  histogram.AppendSamples("latency_seconds", "method=\"Generate\"", &out);
  EXPECT_EQ(out,
            "latency_seconds_bucket{method=\"Generate\",le=\"0.25\"} 2\n"
            "latency_seconds_bucket{method=\"Generate\",le=\"1\"} 3\n"
            "latency_seconds_bucket{method=\"Generate\",le=\"10\"} 5\n"
            "latency_seconds_bucket{method=\"Generate\",le=\"+Inf\"} 6\n"
            "latency_seconds_sum{method=\"Generate\"} 106.875\n"
            "latency_seconds_count{method=\"Generate\"} 6\n");
}

TEST(HistogramTest, ConcurrentObservationsAreAllCounted) {
  Histogram histogram({1, 2, 3});
  constexpr int kHistogramThreads = 8;
  constexpr int kHistogramObservations = 10000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kHistogramThreads; ++t) {
    threads.emplace_back([&histogram, t] {
      for (int i = 0; i < kHistogramObservations; ++i) histogram.Observe(t % 4);
    });
  }
  for (std::thread& thread : threads) thread.join();
  const uint64_t per_value = kHistogramThreads / 4 * kHistogramObservations;
  EXPECT_EQ(histogram.CumulativeCounts(),
            (Counts{2 * per_value, 3 * per_value, 4 * per_value, 4 * per_value}));
  EXPECT_EQ(histogram.sum(), static_cast<double>((0 + 1 + 2 + 3) * per_value));
}

}  // namespace
}  // namespace liger::metrics
