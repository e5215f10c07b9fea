#include "service/metrics/callback_gauge.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>

namespace liger::metrics {
namespace {

TEST(CallbackGaugeTest, WithoutCallbackExportsNothing) {
  CallbackGauge gauge;
  EXPECT_FALSE(gauge.Read().has_value());
  std::string out;
  gauge.AppendSamples("live_sessions", "", &out);
  EXPECT_EQ(out, "");
}

TEST(CallbackGaugeTest, ReadsTheCallbackAtEveryScrape) {
  std::atomic<int> sessions{3};
  CallbackGauge gauge;
  gauge.SetCallback([&sessions] { return static_cast<double>(sessions.load()); });
  std::string out;
  gauge.AppendSamples("live_sessions", "model=\"m\"", &out);
  sessions = 5;
  gauge.AppendSamples("live_sessions", "model=\"m\"", &out);
  EXPECT_EQ(out, "live_sessions{model=\"m\"} 3\nlive_sessions{model=\"m\"} 5\n");
}

TEST(CallbackGaugeTest, DetachedCallbackIsNoLongerCalled) {
  int calls = 0;
  CallbackGauge gauge;
  gauge.SetCallback([&calls] { return static_cast<double>(++calls); });
  EXPECT_EQ(gauge.Read(), 1.0);
  gauge.SetCallback(nullptr);
  EXPECT_FALSE(gauge.Read().has_value());
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace liger::metrics
