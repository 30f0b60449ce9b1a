// The HTTP engine's request path on a loopback socket: requests held at a closed gate, and
// blocking routes on the pool.
#include "conclave/core/http_server.h"

#include <future>
#include <string>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "conclave/core/config.h"
#include "conclave/core/http.h"
#include "conclave/core/notifier.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http_get.h"

namespace conclave::core {
namespace {

using ::testing::HasSubstr;

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(int threads) {
    config_.port = 0;
    http_ = std::make_unique<HttpServer>(router_, notifier_, config_);
    ASSERT_TRUE(http_->Listen({}).ok());
    http_->Start(threads);
  }
  void TearDown() override {
    if (http_ != nullptr) http_->Stop(absl::Seconds(2));
  }
  Response Text(std::string body) { return Response{200, "text/plain", std::move(body), {}, {}}; }

  Config config_;
  Router router_;
  Notifier notifier_;
  std::unique_ptr<HttpServer> http_;
};

// A request for a module whose gate is closed waits (registered with the router) and is answered
// once the gate opens.
TEST_F(HttpServerTest, HeldRequestIsDispatchedWhenTheGateOpens) {
  auto route = router_.Add("m", "GET", "/held", [this](Request&) { return Text("held-ok"); });
  ASSERT_TRUE(route.ok());
  Start(2);
  ASSERT_TRUE(router_.CloseGates({"m"}, absl::Seconds(1)).ok());
  auto answer = std::async(std::launch::async, [&] { return Get(http_->port(), "/held"); });
  // Waits for the engine's state, asserting nothing meanwhile.
  for (int i = 0; i < 5000 && router_.gate_watchers() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_EQ(router_.gate_watchers(), 1u);
  router_.OpenGates({"m"});
  const std::string text = answer.get();
  EXPECT_THAT(text, HasSubstr("200 OK"));
  EXPECT_THAT(text, HasSubstr("held-ok"));
  EXPECT_EQ(router_.gate_watchers(), 0u);
}

// With one I/O thread, a blocking handler that waits for another request is released by it: the
// blocking one runs on the pool, not on the I/O thread.
TEST_F(HttpServerTest, BlockingRouteRunsOffTheIoThread) {
  absl::Notification entered, released;
  auto slow = router_.Add(
      "m", "GET", "/slow",
      [&](Request&) {
        entered.Notify();
        return Text(released.WaitForNotificationWithTimeout(absl::Seconds(10)) ? "released"
                                                                               : "never released");
      },
      RouteOptions{.blocking = true});
  auto release = router_.Add("m", "GET", "/release", [&](Request&) {
    released.Notify();
    return Text("ok");
  });
  ASSERT_TRUE(slow.ok() && release.ok());
  Start(1);
  auto answer = std::async(std::launch::async, [&] { return Get(http_->port(), "/slow"); });
  entered.WaitForNotification();  // the blocking handler runs: /release must find a free thread
  EXPECT_THAT(Get(http_->port(), "/release"), HasSubstr("200 OK"));
  EXPECT_THAT(answer.get(), HasSubstr("released"));
}

// With blocking_threads = 1 and blocking_queue = 1, and the thread busy: of two more requests one
// waits in the queue and the other is refused at once with a rate-limit answer. Only the refused
// one can be answered before the busy handler is released.
TEST_F(HttpServerTest, AFullBlockingQueueAnswers429WithRetryAfter) {
  config_.blocking_threads = 1;
  config_.blocking_queue = 1;
  absl::Notification entered, released;
  auto slow = router_.Add(
      "m", "GET", "/slow",
      [&](Request&) {
        if (!entered.HasBeenNotified()) entered.Notify();  // one pool thread: never two at once
        return Text(released.WaitForNotificationWithTimeout(absl::Seconds(10)) ? "released"
                                                                               : "never released");
      },
      RouteOptions{.blocking = true});
  ASSERT_TRUE(slow.ok());
  Start(2);
  auto running = std::async(std::launch::async, [&] { return Get(http_->port(), "/slow"); });
  entered.WaitForNotification();
  absl::Mutex mu;
  std::vector<std::string> answers;
  auto send = [&] {
    std::string answer = Get(http_->port(), "/slow");
    absl::MutexLock lock(&mu);
    answers.push_back(std::move(answer));
  };
  auto second = std::async(std::launch::async, send);
  auto third = std::async(std::launch::async, send);
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](std::vector<std::string>* a) { return !a->empty(); }, &answers));
    EXPECT_THAT(answers[0], HasSubstr("429 Too Many Requests"));
    EXPECT_THAT(answers[0], HasSubstr("Retry-After: 1\r\n"));
    EXPECT_THAT(answers[0], HasSubstr("\"errcode\":\"M_LIMIT_EXCEEDED\""));
    EXPECT_THAT(answers[0], HasSubstr("\"retry_after_ms\":1000"));
  }
  released.Notify();
  second.get();
  third.get();
  EXPECT_THAT(running.get(), HasSubstr("released"));
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_THAT(answers[1], HasSubstr("200 OK"));  // the queued one ran once the thread was free
  EXPECT_THAT(answers[1], HasSubstr("released"));
}

}  // namespace
}  // namespace conclave::core
