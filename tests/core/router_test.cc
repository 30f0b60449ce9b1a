#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "absl/synchronization/notification.h"
#include "conclave/core/http.h"

namespace conclave::core {
namespace {

using ::testing::HasSubstr;

Request Get(std::string path) {
  Request r;
  r.method = "GET";
  r.path = std::move(path);
  return r;
}

TEST(Router, MatchesTemplateAndDecodesParams) {
  Router router;
  auto handle = router.Add("api", "GET", "/rooms/{roomId}/state/{type}", [](Request& r) {
    return Response{
        200, "text/plain", r.path_params["roomId"] + "|" + r.path_params["type"], {}, {}};
  });
  ASSERT_TRUE(handle.ok());
  Request request = Get("/rooms/%21abc%3Aexample.org/state/m.room.name");
  Response response;
  ASSERT_EQ(router.Dispatch(request, response), Router::Outcome::kHandled);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "!abc:example.org|m.room.name");
}

TEST(Router, UnknownPathIs404AndWrongMethodIs405) {
  Router router;
  auto handle = router.Add("api", "PUT", "/x", [](Request&) { return Response{}; });
  ASSERT_TRUE(handle.ok());
  Request missing = Get("/nope");
  Response response;
  router.Dispatch(missing, response);
  EXPECT_EQ(response.status, 404);
  EXPECT_THAT(response.body, HasSubstr("\"errcode\":\"M_UNRECOGNIZED\""));
  Request wrong = Get("/x");
  router.Dispatch(wrong, response);
  EXPECT_EQ(response.status, 405);
  ASSERT_EQ(response.headers.size(), 1u);
  EXPECT_EQ(response.headers[0].second, "PUT");
}

TEST(Router, HandleUnregistersAndDuplicatesAreRefused) {
  Router router;
  auto first = router.Add("api", "GET", "/x", [](Request&) { return Response{}; });
  ASSERT_TRUE(first.ok());
  auto second = router.Add("admin", "GET", "/x", [](Request&) { return Response{}; });
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(router.RouteCount("api"), 1u);
  first->Reset();
  EXPECT_EQ(router.RouteCount(), 0u);
  EXPECT_EQ(router.Add("api", "GET", "/bad{x}", nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Router, ClosedGateMakesRequestsRetryAndMissesWaitDuringReload) {
  Router router;
  auto handle = router.Add("api", "GET", "/x", [](Request&) { return Response{}; });
  ASSERT_TRUE(handle.ok());
  ASSERT_TRUE(router.CloseGates({"api"}, absl::Seconds(1)).ok());
  Request request = Get("/x");
  Response response;
  EXPECT_EQ(router.Dispatch(request, response), Router::Outcome::kRetry);
  // While a reload runs, an unknown path may be a route on its way back: retry, not 404.
  Request other = Get("/y");
  EXPECT_EQ(router.Dispatch(other, response), Router::Outcome::kRetry);
  router.OpenGates({"api"});
  EXPECT_FALSE(router.ReloadInProgress());
  EXPECT_EQ(router.Dispatch(request, response), Router::Outcome::kHandled);
  EXPECT_EQ(router.Dispatch(other, response), Router::Outcome::kHandled);
  EXPECT_EQ(response.status, 404);
}

TEST(Router, CloseGatesWaitsForInFlightAndTimesOut) {
  Router router;
  absl::Notification entered, release;
  auto handle = router.Add("api", "GET", "/slow", [&](Request&) {
    entered.Notify();
    release.WaitForNotification();
    return Response{};
  });
  ASSERT_TRUE(handle.ok());
  std::thread client([&] {
    Request r = Get("/slow");
    Response response;
    router.Dispatch(r, response);
  });
  entered.WaitForNotification();
  absl::Status timed_out = router.CloseGates({"api"}, absl::Milliseconds(30));
  EXPECT_EQ(timed_out.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(timed_out.message()), HasSubstr("api (1 in flight)"));
  release.Notify();
  client.join();
  EXPECT_TRUE(router.CloseGates({"api"}, absl::Seconds(1)).ok());
  router.OpenGates({"api"});
}

TEST(Router, HandlerExceptionBecomes500AndCountsAsFailed) {
  Router router;
  auto handle = router.Add("api", "GET", "/boom",
                           [](Request&) -> Response { throw std::runtime_error("boom"); });
  ASSERT_TRUE(handle.ok());
  Request request = Get("/boom");
  Response response;
  router.Dispatch(request, response);
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(router.failed_requests(), 1u);
}

// A throw of something that is no std::exception is answered too, and leaves the gate: the next
// CloseGates drains at once instead of timing out (which would cancel every later reload).
TEST(Router, NonStandardExceptionBecomes500AndLeavesTheGate) {
  Router router;
  auto handle = router.Add("api", "GET", "/boom", [](Request&) -> Response { throw 42; });
  ASSERT_TRUE(handle.ok());
  Request request = Get("/boom");
  Response response;
  ASSERT_EQ(router.Dispatch(request, response), Router::Outcome::kHandled);
  EXPECT_EQ(response.status, 500);
  EXPECT_THAT(response.body, HasSubstr("M_UNKNOWN"));
  EXPECT_EQ(router.failed_requests(), 1u);
  EXPECT_TRUE(router.CloseGates({"api"}, absl::ZeroDuration()).ok());
  router.OpenGates({"api"});
}

TEST(Router, BlockingRouteIsHandedBackUnlessTheCallerMayBlock) {
  Router router;
  int calls = 0;
  auto handle = router.Add(
      "api", "POST", "/hash",
      [&](Request&) {
        ++calls;
        return Response{};
      },
      RouteOptions{.blocking = true});
  ASSERT_TRUE(handle.ok());
  Request request = Get("/hash");
  request.method = "POST";
  Response response;
  EXPECT_EQ(router.Dispatch(request, response, nullptr, /*may_block=*/false),
            Router::Outcome::kBlocking);
  EXPECT_EQ(calls, 0);
  // Nothing was entered: the gate closes at once.
  EXPECT_TRUE(router.CloseGates({"api"}, absl::ZeroDuration()).ok());
  router.OpenGates({"api"});
  EXPECT_EQ(router.Dispatch(request, response, nullptr, /*may_block=*/true),
            Router::Outcome::kHandled);
  EXPECT_EQ(calls, 1);
}

class CountingWaiter : public Notifier::Waiter {
 public:
  void Wake(WakeReason reason) override {
    EXPECT_EQ(reason, WakeReason::kNotified);
    ++wakes;
  }
  int wakes = 0;
};

TEST(Router, OpeningGatesWakesWatchersUntilTheyUnwatch) {
  Router router;
  CountingWaiter waiter;
  router.WatchGates(&waiter);
  ASSERT_TRUE(router.CloseGates({"api"}, absl::Seconds(1)).ok());
  EXPECT_EQ(waiter.wakes, 0);
  router.OpenGates({"api"});
  EXPECT_EQ(waiter.wakes, 1);
  router.UnwatchGates(&waiter);
  ASSERT_TRUE(router.CloseGates({"api"}, absl::Seconds(1)).ok());
  router.OpenGates({"api"});
  EXPECT_EQ(waiter.wakes, 1);
}

TEST(Request, QueryParamsAndHeaders) {
  Request r;
  r.query = "since=s12&filter=%7B%7D&name=a+b";
  r.headers = {{"Content-Type", "application/json"}};
  EXPECT_EQ(r.QueryParam("since"), "s12");
  EXPECT_EQ(r.QueryParam("filter"), "{}");
  EXPECT_EQ(r.QueryParam("name"), "a b");
  EXPECT_EQ(r.QueryParam("missing"), std::nullopt);
  EXPECT_EQ(r.Header("content-type"), "application/json");
}

}  // namespace
}  // namespace conclave::core
