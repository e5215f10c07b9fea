#include "service/metrics/counter.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace liger::metrics {
namespace {

TEST(CounterTest, StartsAtZeroAndIncrements) {
  Counter counter;
  EXPECT_EQ(counter.value(), 0);
  counter.Inc();
  ASSERT_TRUE(counter.IncBy(2.5).ok());
  ASSERT_TRUE(counter.IncBy(0).ok());
  EXPECT_EQ(counter.value(), 3.5);
}

TEST(CounterTest, RejectsNegativeAndNaNIncrements) {
  Counter counter;
  counter.Inc();
  EXPECT_EQ(counter.IncBy(-1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(counter.IncBy(std::numeric_limits<double>::quiet_NaN()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(counter.value(), 1);
}

TEST(CounterTest, ConcurrentIncrementsSumExactly) {
  Counter counter;
  constexpr int kCounterThreads = 8;
  constexpr int kCounterIncrements = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kCounterThreads; ++t) {
    threads.emplace_back([&counter] {
      for (int i = 0; i < kCounterIncrements; ++i) {
        counter.Inc();
        // 0.5 is exact in binary, so the total must be exact too.
        ASSERT_TRUE(counter.IncBy(0.5).ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(counter.value(), kCounterThreads * kCounterIncrements * 1.5);
}

TEST(CounterTest, AppendsOneSample) {
  Counter counter;
  ASSERT_TRUE(counter.IncBy(4).ok());
  std::string out;
  counter.AppendSamples("jobs_total", "queue=\"a\"", &out);
  EXPECT_EQ(out, "jobs_total{queue=\"a\"} 4\n");
}

}  // namespace
}  // namespace liger::metrics
