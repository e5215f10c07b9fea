#include "service/drain_gate.h"

#include <gtest/gtest.h>

#include <thread>

namespace liger::service {
namespace {

TEST(DrainGateTest, DrainsAtOnceWithNothingInFlight) {
  DrainGate gate;
  EXPECT_TRUE(gate.Drain(absl::Now()));
  EXPECT_FALSE(gate.TryEnter());
}

TEST(DrainGateTest, DrainWaitsForCallsInFlightAndRefusesNewOnes) {
  DrainGate gate;
  ASSERT_TRUE(gate.TryEnter());
  ASSERT_TRUE(gate.TryEnter());
  gate.Leave();
  std::thread finisher([&gate] {
    absl::SleepFor(absl::Milliseconds(50));
    gate.Leave();
  });
  const absl::Time start = absl::Now();
  EXPECT_TRUE(gate.Drain(start + absl::Seconds(30)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(40));
  finisher.join();
  EXPECT_FALSE(gate.TryEnter());
}

TEST(DrainGateTest, DrainGivesUpAtTheDeadline) {
  DrainGate gate;
  ASSERT_TRUE(gate.TryEnter());
  const absl::Time start = absl::Now();
  EXPECT_FALSE(gate.Drain(start + absl::Milliseconds(50)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(40));
  EXPECT_FALSE(gate.TryEnter());
  gate.Leave();
}

}  // namespace
}  // namespace liger::service
