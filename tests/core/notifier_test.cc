// Notifier alone, and long-polls through the real HTTP engine on a loopback socket.
#include "conclave/core/notifier.h"

#include <future>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "conclave/core/config.h"
#include "conclave/core/http.h"
#include "conclave/core/http_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http_get.h"

namespace conclave::core {
namespace {

using ::testing::HasSubstr;

class RecordingWaiter : public Notifier::Waiter {
 public:
  void Wake(WakeReason reason) override { reasons.push_back(reason); }
  std::vector<WakeReason> reasons;
};

TEST(Notifier, SubscribeSeesAMissedNotifyAndNotifyWakesWaiters) {
  Notifier notifier;
  EXPECT_EQ(notifier.Version("@a:x"), 0u);
  RecordingWaiter waiter;
  notifier.Notify("@a:x");
  EXPECT_EQ(notifier.Subscribe("@a:x", 0, &waiter), WakeReason::kNotified);
  EXPECT_EQ(notifier.Subscribe("@a:x", 1, &waiter), WakeReason::kNone);
  EXPECT_EQ(notifier.waiting(), 1u);
  notifier.Notify("@b:x");
  EXPECT_TRUE(waiter.reasons.empty());
  notifier.Notify(std::vector<std::string>{"@a:x", "@b:x"});
  EXPECT_THAT(waiter.reasons, ::testing::ElementsAre(WakeReason::kNotified));
  notifier.Unsubscribe("@a:x", &waiter);
  EXPECT_EQ(notifier.waiting(), 0u);
  notifier.Notify("@a:x");
  EXPECT_EQ(waiter.reasons.size(), 1u);
}

TEST(Notifier, InterruptWakesEveryoneAndRefusesNewWaitsUntilResumed) {
  Notifier notifier;
  RecordingWaiter a, b;
  ASSERT_EQ(notifier.Subscribe("a", 0, &a), WakeReason::kNone);
  ASSERT_EQ(notifier.Subscribe("b", 0, &b), WakeReason::kNone);
  notifier.Interrupt();
  EXPECT_THAT(a.reasons, ::testing::ElementsAre(WakeReason::kInterrupted));
  EXPECT_THAT(b.reasons, ::testing::ElementsAre(WakeReason::kInterrupted));
  RecordingWaiter c;
  EXPECT_EQ(notifier.Subscribe("c", 0, &c), WakeReason::kInterrupted);
  notifier.Resume();
  EXPECT_EQ(notifier.Subscribe("c", 0, &c), WakeReason::kNone);
}

// A long-poll route: waits on key "k" unless woken, then says why.
class LongPollTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.port = 0;
    auto handle = router_.Add("m", "GET", "/poll", [this](Request& r) {
      Response response;
      if (r.wake_reason == WakeReason::kNone) {
        response.wait = Wait{"k", notifier_.Version("k"), absl::Now() + absl::Seconds(5)};
        return response;
      }
      response.body = r.wake_reason == WakeReason::kNotified  ? "notified"
                      : r.wake_reason == WakeReason::kTimeout ? "timeout"
                                                              : "interrupted";
      return response;
    });
    ASSERT_TRUE(handle.ok());
    handle_ = *std::move(handle);
    http_ = std::make_unique<HttpServer>(router_, notifier_, config_);
    ASSERT_TRUE(http_->Listen({}).ok());
    http_->Start(2);
  }
  void TearDown() override { http_->Stop(absl::Seconds(2)); }

  // Waits until `n` requests are parked.
  void AwaitParked(size_t n) {
    for (int i = 0; i < 2000 && notifier_.waiting() < n; ++i) absl::SleepFor(absl::Milliseconds(1));
    ASSERT_EQ(notifier_.waiting(), n);
  }

  Config config_;
  Router router_;
  Notifier notifier_;
  RouteHandle handle_;
  std::unique_ptr<HttpServer> http_;
};

TEST_F(LongPollTest, NotifyAnswersEveryParkedRequest) {
  auto a = std::async(std::launch::async, [&] { return Get(http_->port(), "/poll"); });
  auto b = std::async(std::launch::async, [&] { return Get(http_->port(), "/poll"); });
  AwaitParked(2);
  notifier_.Notify("k");
  EXPECT_THAT(a.get(), HasSubstr("notified"));
  EXPECT_THAT(b.get(), HasSubstr("notified"));
  EXPECT_EQ(notifier_.waiting(), 0u);
}

TEST_F(LongPollTest, ReloadInterruptAnswersAtOnce) {
  auto a = std::async(std::launch::async, [&] { return Get(http_->port(), "/poll"); });
  AwaitParked(1);
  notifier_.Interrupt();
  EXPECT_THAT(a.get(), HasSubstr("interrupted"));
  notifier_.Resume();
}

TEST_F(LongPollTest, StopAnswersParkedRequestsInsteadOfWaitingForTheirDeadline) {
  auto a = std::async(std::launch::async, [&] { return Get(http_->port(), "/poll"); });
  AwaitParked(1);
  const absl::Time start = absl::Now();
  http_->Stop(absl::Seconds(4));
  EXPECT_THAT(a.get(), HasSubstr("interrupted"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  http_->Start(1);  // TearDown stops again
}

}  // namespace
}  // namespace conclave::core
