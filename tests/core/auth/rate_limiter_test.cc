// Token buckets per API key: the burst, the refill rate, callers apart, and bad settings.
#include "core/auth/rate_limiter.h"

#include <gtest/gtest.h>

#include <limits>
#include <utility>

namespace liger {
namespace {

struct FakeClock {
  absl::Time now = absl::FromUnixSeconds(1'700'000'000);
};

TEST(RateLimiterTest, ABurstThenTheRate) {
  FakeClock clock;
  absl::StatusOr<std::unique_ptr<RateLimiter>> limiter =
      RateLimiter::Create(/*rate=*/2, /*burst=*/3, [&] { return clock.now; });
  ASSERT_TRUE(limiter.ok()) << limiter.status();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE((*limiter)->Admit("a").ok()) << i;
  const absl::Status over = (*limiter)->Admit("a");
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.message().find("retry in 0.500 s"), absl::string_view::npos) << over;
  // Refused requests cost nothing; half a second brings one more.
  EXPECT_EQ((*limiter)->Admit("a").code(), absl::StatusCode::kResourceExhausted);
  clock.now += absl::Milliseconds(500);
  EXPECT_TRUE((*limiter)->Admit("a").ok());
  EXPECT_EQ((*limiter)->Admit("a").code(), absl::StatusCode::kResourceExhausted);
  // A long pause refills up to the burst, no further.
  clock.now += absl::Hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE((*limiter)->Admit("a").ok()) << i;
  EXPECT_EQ((*limiter)->Admit("a").code(), absl::StatusCode::kResourceExhausted);
}

TEST(RateLimiterTest, EachCallerHasItsOwnBucket) {
  FakeClock clock;
  absl::StatusOr<std::unique_ptr<RateLimiter>> limiter =
      RateLimiter::Create(1, 1, [&] { return clock.now; });
  ASSERT_TRUE(limiter.ok());
  EXPECT_TRUE((*limiter)->Admit("a").ok());
  EXPECT_FALSE((*limiter)->Admit("a").ok());
  EXPECT_TRUE((*limiter)->Admit("b").ok());
}

TEST(RateLimiterTest, BadSettingsAreRefused) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (auto [rate, burst] :
       {std::pair<double, double>{0, 1}, {-1, 1}, {1, 0.5}, {inf, 1}, {1, nan}, {nan, 1}}) {
    EXPECT_EQ(RateLimiter::Create(rate, burst).status().code(), absl::StatusCode::kInvalidArgument)
        << rate << " " << burst;
  }
}

}  // namespace
}  // namespace liger
