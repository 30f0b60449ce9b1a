// What a reload of the service module carries over: typing notices, rate-limit buckets and
// user-interactive auth sessions go
// through Homeserver::Save() into the next Homeserver::Open(), as the module's saved bytes.
#include "conclave/service/homeserver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "conclave/core/server.h"
#include "conclave/database/database.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/rate_limit/rate_limiter.h"
#include "conclave/service/rooms/typing.h"
#include "conclave/service/sync/sliding_sync.h"
#include "database/temp_dir.h"

namespace conclave::service {
namespace {

using ::testing::ElementsAre;

TEST(HomeserverTest, SavedBytesCarryTypingRateLimitsAndUiaSessionsIntoTheNextLoad) {
  database::test_util::TempDir dir;
  core::Server server(core::Config{}, "dev");
  auto db = database::Database::Open({.path = dir.Sub("db")});
  ASSERT_TRUE(db.ok()) << db.status();
  auto first = Homeserver::Open(server, **db, "");
  ASSERT_TRUE(first.ok()) << first.status();
  (*first)->typing().Set("!r:x", "@a:x", true, absl::Seconds(30));
  const uint64_t serial = (*first)->typing().serial();
  const RateLimit limit{1, 2};
  EXPECT_TRUE((*first)->limiter().Take("login/1.2.3.4", limit).ok());
  EXPECT_TRUE((*first)->limiter().Take("login/1.2.3.4", limit).ok());
  EXPECT_EQ(ErrcodeOf((*first)->limiter().Take("login/1.2.3.4", limit)), Errcode::kLimitExceeded);
  const std::string uia = (*first)->uia_sessions().Start("@a:x\nDELETE\n/devices/A\n{}");
  std::string saved = (*first)->Save();
  first->reset();

  auto second = Homeserver::Open(server, **db, saved);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT((*second)->typing().Users("!r:x"), ElementsAre("@a:x"));
  EXPECT_GE((*second)->typing().serial(), serial);
  // The bucket is still empty: a reload does not hand out a fresh burst.
  absl::Status again = (*second)->limiter().Take("login/1.2.3.4", limit);
  EXPECT_EQ(ErrcodeOf(again), Errcode::kLimitExceeded);
  EXPECT_GT(RetryAfterMs(again).value_or(0), 0);
  // A client halfway through user-interactive auth finishes it after the reload.
  EXPECT_EQ((*second)->uia_sessions().Verify(uia, "@a:x\nDELETE\n/devices/A\n{}"),
            UiaSessions::Verdict::kValid);

  // Garbage saved bytes (a different build's format) start empty rather than fail the load.
  second->reset();
  auto third = Homeserver::Open(server, **db, "not json");
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_TRUE((*third)->typing().Users("!r:x").empty());
}

// A sliding sync `pos` stays valid across a reload of the service module, and only then.
TEST(HomeserverTest, SavedBytesKeepSlidingSyncPositions) {
  database::test_util::TempDir dir;
  core::Server server(core::Config{}, "dev");
  auto db = database::Database::Open({.path = dir.Sub("db")});
  ASSERT_TRUE(db.ok()) << db.status();
  auto first = Homeserver::Open(server, **db, "");
  ASSERT_TRUE(first.ok()) << first.status();
  const Session session{.user_id = "@a:x", .device_id = "D"};
  SlidingSyncRequest request{.conn_id = "main"};
  auto answer = (*first)->sliding_sync().Run(session, request);
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_TRUE(answer->response.has_value());
  request.pos = answer->response->pos;
  std::string saved = (*first)->Save();
  first->reset();

  auto second = Homeserver::Open(server, **db, saved);
  ASSERT_TRUE(second.ok()) << second.status();
  auto resumed = (*second)->sliding_sync().Run(session, request);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_TRUE(resumed->response.has_value());
  second->reset();

  auto fresh = Homeserver::Open(server, **db, "");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(ErrcodeOf((*fresh)->sliding_sync().Run(session, request).status()),
            Errcode::kUnknownPos);
}

TEST(RateLimiterTest, RefillsAtTheRateAndZeroDisables) {
  RateLimiter limiter;
  absl::Time t = absl::FromUnixSeconds(1000);
  RateLimit limit{2, 1};  // 2 per second, burst 1
  EXPECT_TRUE(limiter.Take("k", limit, t).ok());
  absl::Status refused = limiter.Take("k", limit, t);
  EXPECT_EQ(ErrcodeOf(refused), Errcode::kLimitExceeded);
  EXPECT_EQ(RetryAfterMs(refused), 500);
  EXPECT_TRUE(limiter.Take("k", limit, t + absl::Milliseconds(500)).ok());
  EXPECT_TRUE(limiter.Take("other", limit, t).ok());  // buckets are per key
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(limiter.Take("k", RateLimit{0, 1}, t).ok());
}

TEST(TypingTest, ExpiresAndBumpsTheSerialOnEveryChange) {
  Typing typing;
  absl::Time t = absl::Now();
  uint64_t s0 = typing.serial();
  EXPECT_TRUE(typing.Set("!r:x", "@a:x", true, absl::Seconds(5), t));
  EXPECT_FALSE(typing.Set("!r:x", "@a:x", true, absl::Seconds(5), t));  // already typing
  EXPECT_GT(typing.RoomSerial("!r:x"), s0);
  EXPECT_THAT(typing.Users("!r:x", t), ElementsAre("@a:x"));
  uint64_t s1 = typing.RoomSerial("!r:x");
  EXPECT_TRUE(typing.Users("!r:x", t + absl::Seconds(6)).empty());
  EXPECT_GT(typing.RoomSerial("!r:x"), s1);  // the expiry is a change too
}

}  // namespace
}  // namespace conclave::service
