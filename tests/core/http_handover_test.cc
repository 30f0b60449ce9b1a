// The hand-over of keep-alive connections between two HTTP engines in one process, as an exec
// restart does between two images (StopForHandOver() in the old one, Adopt() in the new one):
// the client's next request on the same socket is answered by the second engine.
#include <future>
#include <memory>
#include <string>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "conclave/core/config.h"
#include "conclave/core/handover.h"
#include "conclave/core/http.h"
#include "conclave/core/http_server.h"
#include "conclave/core/notifier.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http_get.h"

namespace conclave::core {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

// One engine with its own router: GET /who answers `name`; GET /poll long-polls until woken.
struct Image {
  explicit Image(std::string name) : name(std::move(name)) {
    config.port = 0;
    who = *router.Add("m", "GET", "/who", [this](Request&) {
      return Response{200, "text/plain", "served by " + this->name, {}, {}};
    });
    poll = *router.Add("m", "GET", "/poll", [this](Request& r) {
      Response response{200, "text/plain", "poll woken", {}, {}};
      if (r.wake_reason == WakeReason::kNone) {
        response.wait = Wait{"k", notifier.Version("k"), absl::Now() + absl::Seconds(30)};
      }
      return response;
    });
    http = std::make_unique<HttpServer>(router, notifier, config);
  }
  void Start() {
    ASSERT_TRUE(http->Listen({}).ok());
    http->Start(2);
  }

  std::string name;
  Config config;
  Router router;
  Notifier notifier;
  RouteHandle who, poll;
  std::unique_ptr<HttpServer> http;
};

TEST(HttpServerHandOver, IdleConnectionIsServedByTheNextEngine) {
  Image old_image("old"), new_image("new");
  old_image.Start();
  KeepAliveClient client(old_image.http->port());
  ASSERT_TRUE(client.connected());
  client.Send(KeepAliveClient::Get("/who"));
  const std::string first = client.ReadResponse();
  EXPECT_THAT(first, EndsWith("served by old"));
  EXPECT_THAT(first, Not(HasSubstr("Connection: close")));

  HandOver handover = old_image.http->StopForHandOver(absl::Seconds(5));
  ASSERT_EQ(handover.connections.size(), 1u);
  EXPECT_EQ(handover.connections[0].listener, "http");
  EXPECT_EQ(handover.closed_busy, 0u);
  EXPECT_EQ(old_image.http->connection_count(), 0u);

  new_image.Start();
  new_image.http->Adopt(std::move(handover));
  EXPECT_EQ(new_image.http->connection_count(), 1u);
  client.Send(KeepAliveClient::Get("/who"));
  EXPECT_THAT(client.ReadResponse(), EndsWith("served by new"));
  new_image.http->Stop(absl::Seconds(2));
}

// A long-poll in flight at the stop is answered at once (kept alive); the request pipelined
// behind it, already in the old engine's buffer, is answered by the old engine too; only then
// does the connection move, and the next request goes to the new engine. Nothing lost, nothing
// answered twice.
TEST(HttpServerHandOver, RequestsInFlightAreAnsweredBeforeTheConnectionMoves) {
  Image old_image("old"), new_image("new");
  old_image.Start();
  KeepAliveClient client(old_image.http->port());
  ASSERT_TRUE(client.connected());
  // One write: both requests arrive in one segment, and the engine reads them together.
  client.Send(KeepAliveClient::Get("/poll") + KeepAliveClient::Get("/who"));
  for (int i = 0; i < 5000 && old_image.notifier.waiting() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_EQ(old_image.notifier.waiting(), 1u);

  const absl::Time start = absl::Now();
  HandOver handover = old_image.http->StopForHandOver(absl::Seconds(5));
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));  // the long-poll did not wait its 30 s
  ASSERT_EQ(handover.connections.size(), 1u);
  EXPECT_THAT(client.ReadResponse(), EndsWith("poll woken"));
  EXPECT_THAT(client.ReadResponse(), EndsWith("served by old"));

  new_image.Start();
  new_image.http->Adopt(std::move(handover));
  client.Send(KeepAliveClient::Get("/who"));
  EXPECT_THAT(client.ReadResponse(), EndsWith("served by new"));
  new_image.http->Stop(absl::Seconds(2));
}

// A connection whose request is still running when the bound runs out is not handed over: its
// response says Connection: close, and it is counted as closed busy.
TEST(HttpServerHandOver, ConnectionBusyPastTheBoundIsClosedAndCounted) {
  Image old_image("old");
  absl::Notification entered, never;
  auto slow = old_image.router.Add("m", "GET", "/slow", [&](Request&) {
    entered.Notify();
    never.WaitForNotificationWithTimeout(absl::Milliseconds(600));
    return Response{200, "text/plain", "slow done", {}, {}};
  });
  ASSERT_TRUE(slow.ok());
  old_image.Start();
  KeepAliveClient client(old_image.http->port());
  ASSERT_TRUE(client.connected());
  client.Send(KeepAliveClient::Get("/slow"));
  entered.WaitForNotification();
  HandOver handover = old_image.http->StopForHandOver(absl::Milliseconds(100));
  EXPECT_TRUE(handover.connections.empty());
  EXPECT_EQ(handover.closed_busy, 1u);
  const std::string response = client.ReadResponse();
  EXPECT_THAT(response, HasSubstr("Connection: close"));
  EXPECT_THAT(response, EndsWith("slow done"));
  EXPECT_EQ(client.ReadResponse(), "");  // closed
}

}  // namespace
}  // namespace conclave::core
