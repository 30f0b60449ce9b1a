// RateLimiter's memory: buckets that refilled to their burst are dropped (they carry no
// information), with an injected clock; no timing.
#include "conclave/service/rate_limit/rate_limiter.h"

#include <gtest/gtest.h>

#include "conclave/core/str_cat.h"

namespace conclave::service {
namespace {

constexpr RateLimit kLimit{1, 10};  // 1 per second, burst 10: full again 1 s after one Take

TEST(RateLimiterEviction, FullBucketsAreDroppedAndBusyOnesKept) {
  RateLimiter limiter;
  const absl::Time t = absl::FromUnixSeconds(1000);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(limiter.Take(core::StrCat("ip/", i), kLimit, t).ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(limiter.Take("busy", kLimit, t).ok());  // emptied
  ASSERT_EQ(limiter.size(), 101u);
  EXPECT_EQ(limiter.EvictIdle(t + absl::Milliseconds(500)), 0u);  // none full yet
  // 2 s on: the 100 one-request buckets are full again; "busy" (empty, 10 s to refill) is not.
  EXPECT_EQ(limiter.EvictIdle(t + absl::Seconds(2)), 100u);
  EXPECT_EQ(limiter.size(), 1u);
  // Its state survived: 2 tokens back, the third request is refused.
  EXPECT_TRUE(limiter.Take("busy", kLimit, t + absl::Seconds(2)).ok());
  EXPECT_TRUE(limiter.Take("busy", kLimit, t + absl::Seconds(2)).ok());
  EXPECT_FALSE(limiter.Take("busy", kLimit, t + absl::Seconds(2)).ok());
  // A dropped bucket comes back full, as it was.
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(limiter.Take("ip/1", kLimit, t + absl::Seconds(2)).ok());
  EXPECT_FALSE(limiter.Take("ip/1", kLimit, t + absl::Seconds(2)).ok());
}

TEST(RateLimiterEviction, TakeSweepsAsNewClientsArrive) {
  RateLimiter limiter;
  absl::Time t = absl::FromUnixSeconds(1000);
  // A stream of distinct clients, one request each, 1 ms apart: a bucket is full again 1 s after
  // its request, so about 1000 are live at any time; without eviction there would be 20000.
  size_t peak = 0;
  for (int i = 0; i < 20000; ++i) {
    ASSERT_TRUE(limiter.Take(core::StrCat("ip/", i), kLimit, t).ok());
    peak = std::max(peak, limiter.size());
    t += absl::Milliseconds(1);
  }
  EXPECT_LT(peak, 2 * RateLimiter::kSweepAfter + 1000);
  EXPECT_LT(limiter.size(), 2 * RateLimiter::kSweepAfter + 1000);
}

TEST(RateLimiterEviction, SaveAndRestoreKeepWhenABucketIsFull) {
  RateLimiter limiter;
  const absl::Time t = absl::FromUnixSeconds(1000);
  ASSERT_TRUE(limiter.Take("a", kLimit, t).ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(limiter.Take("b", kLimit, t).ok());
  RateLimiter restored;
  restored.Restore(limiter.Save());
  ASSERT_EQ(restored.size(), 2u);
  EXPECT_EQ(restored.EvictIdle(t + absl::Seconds(2)), 1u);  // "a" only
  EXPECT_FALSE(restored.Take("b", kLimit, t + absl::Milliseconds(100)).ok());
  // The format of earlier builds ([tokens, updated]) still loads.
  RateLimiter old;
  old.Restore(R"({"c": [3.0, 1000000000]})");
  EXPECT_EQ(old.size(), 1u);
}

}  // namespace
}  // namespace conclave::service
