#include "service/metrics/gauge.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace liger::metrics {
namespace {

TEST(GaugeTest, SetIncAndDec) {
  Gauge gauge;
  EXPECT_EQ(gauge.value(), 0);
  gauge.Set(10);
  gauge.Inc();
  gauge.Inc(2.5);
  gauge.Dec();
  gauge.Dec(20);
  EXPECT_EQ(gauge.value(), -7.5);
}

TEST(GaugeTest, ConcurrentIncAndDecBalance) {
  Gauge gauge;
  constexpr int kGaugeThreads = 8;
  constexpr int kGaugeSteps = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kGaugeThreads; ++t) {
    threads.emplace_back([&gauge, t] {
      for (int i = 0; i < kGaugeSteps; ++i) {
        if (t % 2 == 0) {
          gauge.Inc(2);
        } else {
          gauge.Dec();
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(gauge.value(), kGaugeThreads / 2 * kGaugeSteps);
}

TEST(GaugeTest, AppendsOneSample) {
  Gauge gauge;
  gauge.Set(-0.25);
  std::string out;
  gauge.AppendSamples("temperature", "", &out);
  EXPECT_EQ(out, "temperature -0.25\n");
}

}  // namespace
}  // namespace liger::metrics
