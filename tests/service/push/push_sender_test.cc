// The push queue and its sender over a real Homeserver and RocksDB (push_sender.h): entries
// queued with the notifying event, the Push Gateway body, success, backoff across a restart,
// rejected pushkeys, dropped entries. The gateway is a function standing in for the remote HTTP
// server (the sender's Fetch seam); the clock is injected.
#include "conclave/service/push/push_sender.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <string>
#include <vector>

#include "conclave/service/homeserver.h"
#include "conclave/service/push/pushers.h"
#include "conclave/service/storage/schema.h"
#include "service/testing/homeserver_fixture.h"

namespace conclave::service {
namespace {

using boost::json::object;
using boost::json::value;

constexpr char kUrl[] = "http://gateway.example/_matrix/push/v1/notify";

core::HttpClientResponse Response(int status, std::string body = "{}") {
  core::HttpClientResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

class PushSenderTest : public test_util::HomeserverTest {
 protected:
  void SetUp() override {
    HomeserverTest::SetUp();
    options_.allowed_ranges = {"127.0.0.1/32"};
    alice_ = Register("alice");
    bob_ = Register("bob");
    room_ = CreateRoom(
        alice_, {.preset = CreateRoomRequest::Preset::kPublicChat, .name = std::string("Lunch")});
    ASSERT_TRUE(rooms().Join(bob_, room_, std::nullopt).ok());
  }

  // Sets an http pusher of `who` with `pushkey` and extra `data` fields.
  void SetPusher(const Session& who, const std::string& pushkey, object data = {}) {
    data["url"] = kUrl;
    object body{{"pushkey", pushkey},
                {"kind", "http"},
                {"app_id", "org.example.app"},
                {"app_display_name", "App"},
                {"device_display_name", "Phone"},
                {"lang", "en"},
                {"data", std::move(data)}};
    ASSERT_TRUE(hs_->pushers().Set(who.user_id, who.device_id, body).ok());
  }

  // The push_queue rows, as (key, value).
  std::vector<std::pair<std::string, object>> Queue() {
    std::vector<std::pair<std::string, object>> rows;
    auto map = db_->OpenMap(schema::kPushQueueMap);
    EXPECT_TRUE(map.ok());
    EXPECT_TRUE(db_->ForEachWithPrefix(**map, "",
                                       [&](std::string_view key, std::string_view text) {
                                         rows.emplace_back(std::string(key),
                                                           boost::json::parse(text).as_object());
                                         return true;
                                       })
                    .ok());
    return rows;
  }

  // A sender over hs_ with the test's gateway and clock (hs_ itself is never started).
  std::unique_ptr<PushSender> Sender() {
    auto sender =
        PushSender::Open(PushSender::Deps{.store = hs_->store(),
                                          .pushers = hs_->pushers(),
                                          .notifications = hs_->notifications(),
                                          .options = [this] { return options_; },
                                          .fetch = [this](const core::HttpClientRequest& request,
                                                          const core::HttpClientOptions& options)
                                              -> absl::StatusOr<core::HttpClientResponse> {
                                            requests_.push_back(request);
                                            last_options_ = options;
                                            if (answers_.empty()) return Response(200);
                                            auto answer = answers_.front();
                                            answers_.erase(answers_.begin());
                                            return answer;
                                          },
                                          .clock = [this] { return now_; }});
    EXPECT_TRUE(sender.ok()) << sender.status();
    return sender.ok() ? *std::move(sender) : nullptr;
  }

  PushSender::PassResult Pass(PushSender& sender) {
    auto result = sender.RunPass();
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : PushSender::PassResult{};
  }

  object BodyOf(size_t i) { return boost::json::parse(requests_.at(i).body).as_object(); }

  Session alice_, bob_;
  std::string room_;
  PushGatewayOptions options_;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  std::vector<core::HttpClientRequest> requests_;
  core::HttpClientOptions last_options_;
  std::vector<absl::StatusOr<core::HttpClientResponse>> answers_;
};

TEST_F(PushSenderTest, QueuesOneEntryPerPusherOfEachNotifiedUser) {
  SetPusher(bob_, "key-1");
  SetPusher(bob_, "key-2");
  SendText(alice_, room_, "hello", "t1");
  // Bob's own message notifies nobody with a pusher (alice has none).
  SendText(bob_, room_, "hi", "t2");
  auto queue = Queue();
  ASSERT_EQ(queue.size(), 2u);
  for (const auto& [key, entry] : queue) {
    EXPECT_EQ(entry.at("room_id"), value(room_));
    EXPECT_EQ(entry.at("attempts"), 0);
    // A message in a room of two: .m.rule.room_one_to_one's sound makes it high priority.
    EXPECT_EQ(entry.at("prio"), "high");
    EXPECT_EQ(entry.at("room_name"), "Lunch");
  }
}

TEST_F(PushSenderTest, PostsTheGatewayBodyAndRemovesTheEntryOn200) {
  SetPusher(bob_, "key-1", {{"custom", 7}});
  ASSERT_TRUE(accounts().SetDisplayName(alice_.user_id, "Alice A").ok());
  ASSERT_TRUE(rooms().ReflectProfile(alice_.user_id).ok());
  std::string event_id = SendText(alice_, room_, "hello there", "t1");
  auto sender = Sender();
  PushSender::PassResult result = Pass(*sender);
  EXPECT_EQ(result.sent, 1);
  EXPECT_FALSE(result.next_due.has_value());
  EXPECT_TRUE(Queue().empty());
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(requests_[0].method, "POST");
  EXPECT_EQ(requests_[0].url, kUrl);
  EXPECT_EQ(last_options_.allowed_ranges, options_.allowed_ranges);
  EXPECT_EQ(last_options_.timeout, options_.timeout);
  EXPECT_EQ(last_options_.max_redirects, 0);
  object n = BodyOf(0).at("notification").as_object();
  EXPECT_EQ(n.at("event_id"), value(event_id));
  EXPECT_EQ(n.at("room_id"), value(room_));
  EXPECT_EQ(n.at("type"), "m.room.message");
  EXPECT_EQ(n.at("sender"), value(alice_.user_id));
  EXPECT_EQ(n.at("sender_display_name"), "Alice A");
  EXPECT_EQ(n.at("room_name"), "Lunch");
  EXPECT_EQ(n.at("prio"), "high");  // .m.rule.room_one_to_one: sound
  EXPECT_EQ(n.at("content").at("body"), "hello there");
  EXPECT_EQ(n.at("counts").at("unread"), 1);
  ASSERT_EQ(n.at("devices").as_array().size(), 1u);
  const object& device = n.at("devices").at(0).as_object();
  EXPECT_EQ(device.at("app_id"), "org.example.app");
  EXPECT_EQ(device.at("pushkey"), "key-1");
  EXPECT_TRUE(device.at("pushkey_ts").is_int64());
  EXPECT_EQ(device.at("data"), (object{{"custom", 7}}));  // data without url
  EXPECT_EQ(device.at("tweaks"), (object{{"sound", "default"}}));
  // A second pass has nothing to send.
  EXPECT_EQ(Pass(*sender).sent, 0);
  EXPECT_EQ(requests_.size(), 1u);
}

TEST_F(PushSenderTest, PlainMessagesAreLowAndMentionsHighPriority) {
  // A third member: the room is no longer one-to-one, so a plain message has no sound.
  Session carol = Register("carol");
  ASSERT_TRUE(rooms().Join(carol, room_, std::nullopt).ok());
  SetPusher(bob_, "key-1");
  SendText(alice_, room_, "lunch?", "t0");
  {
    auto sender = Sender();
    Pass(*sender);
  }
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(BodyOf(0).at("notification").at("prio"), "low");
  requests_.clear();
  SendText(alice_, room_, "hey bob, lunch?", "t1");  // .m.rule.contains_user_name
  auto sender = Sender();
  Pass(*sender);
  ASSERT_EQ(requests_.size(), 1u);
  object n = BodyOf(0).at("notification").as_object();
  EXPECT_EQ(n.at("prio"), "high");
  const object& tweaks = n.at("devices").at(0).at("tweaks").as_object();
  EXPECT_EQ(tweaks.at("highlight"), true);
  EXPECT_EQ(tweaks.at("sound"), "default");
}

TEST_F(PushSenderTest, EventIdOnlyFormatSendsOnlyTheIds) {
  SetPusher(bob_, "key-1", {{"format", "event_id_only"}});
  std::string event_id = SendText(alice_, room_, "secret", "t1");
  auto sender = Sender();
  Pass(*sender);
  ASSERT_EQ(requests_.size(), 1u);
  object n = BodyOf(0).at("notification").as_object();
  EXPECT_EQ(n.at("event_id"), value(event_id));
  EXPECT_EQ(n.at("room_id"), value(room_));
  EXPECT_FALSE(n.contains("content"));
  EXPECT_FALSE(n.contains("sender"));
  EXPECT_FALSE(n.contains("type"));
  EXPECT_EQ(n.at("devices").at(0).at("data"), (object{{"format", "event_id_only"}}));
}

TEST_F(PushSenderTest, FailuresBackOffExponentiallyAndSurviveARestart) {
  SetPusher(bob_, "key-1");
  std::string first = SendText(alice_, room_, "one", "t1");
  std::string second = SendText(alice_, room_, "two", "t2");
  answers_.push_back(Response(500));
  answers_.push_back(absl::UnavailableError("connection refused"));
  auto sender = Sender();
  PushSender::PassResult result = Pass(*sender);
  EXPECT_EQ(result.failed, 1);
  ASSERT_TRUE(result.next_due.has_value());
  EXPECT_EQ(*result.next_due, now_ + absl::Seconds(1));
  // The second entry waits behind the first: one request only.
  EXPECT_EQ(requests_.size(), 1u);
  // Not due yet: nothing is sent.
  now_ += absl::Milliseconds(500);
  EXPECT_EQ(Pass(*sender).failed, 0);
  EXPECT_EQ(requests_.size(), 1u);
  now_ += absl::Milliseconds(500);
  result = Pass(*sender);
  EXPECT_EQ(result.failed, 1);
  EXPECT_EQ(*result.next_due, now_ + absl::Seconds(2));  // doubled
  auto queue = Queue();
  ASSERT_EQ(queue.size(), 2u);
  EXPECT_EQ(queue[0].second.at("attempts"), 2);

  // A restart: the queue is on disk.
  sender.reset();
  Reopen();
  sender = Sender();
  now_ += absl::Seconds(2);
  result = Pass(*sender);
  EXPECT_EQ(result.sent, 2);
  EXPECT_TRUE(Queue().empty());
  ASSERT_EQ(requests_.size(), 4u);
  EXPECT_EQ(BodyOf(2).at("notification").at("event_id"), value(first));
  EXPECT_EQ(BodyOf(3).at("notification").at("event_id"), value(second));
}

TEST_F(PushSenderTest, ARejectedPushkeyRemovesThePusherAndItsEntries) {
  SetPusher(bob_, "key-1");
  SendText(alice_, room_, "one", "t1");
  SendText(alice_, room_, "two", "t2");
  answers_.push_back(Response(200, R"({"rejected":["key-1"]})"));
  auto sender = Sender();
  PushSender::PassResult result = Pass(*sender);
  EXPECT_EQ(result.dropped, 2);
  EXPECT_EQ(requests_.size(), 1u);
  EXPECT_TRUE(Queue().empty());
  auto pushers = hs_->pushers().List(bob_.user_id);
  ASSERT_TRUE(pushers.ok());
  EXPECT_TRUE(pushers->empty());
  // Later events queue nothing for it.
  SendText(alice_, room_, "three", "t3");
  EXPECT_TRUE(Queue().empty());
}

TEST_F(PushSenderTest, ARejectedOtherPushkeyIsNotThisOne) {
  SetPusher(bob_, "key-1");
  SendText(alice_, room_, "one", "t1");
  answers_.push_back(Response(200, R"({"rejected":["other"]})"));
  auto sender = Sender();
  EXPECT_EQ(Pass(*sender).sent, 1);
  auto pushers = hs_->pushers().List(bob_.user_id);
  ASSERT_TRUE(pushers.ok());
  EXPECT_EQ(pushers->size(), 1u);
}

TEST_F(PushSenderTest, EntriesOfARemovedPusherAreDroppedUnsent) {
  SetPusher(bob_, "key-1");
  SendText(alice_, room_, "one", "t1");
  ASSERT_TRUE(
      hs_->pushers()
          .Set(bob_.user_id, bob_.device_id,
               object{{"pushkey", "key-1"}, {"app_id", "org.example.app"}, {"kind", nullptr}})
          .ok());
  auto sender = Sender();
  EXPECT_EQ(Pass(*sender).dropped, 1);
  EXPECT_TRUE(requests_.empty());
  EXPECT_TRUE(Queue().empty());
}

TEST_F(PushSenderTest, AnEntryIsDroppedAfterItsLastAttempt) {
  options_.retry_attempts = 2;
  SetPusher(bob_, "key-1");
  SendText(alice_, room_, "one", "t1");
  answers_.assign(2, Response(503));
  auto sender = Sender();
  EXPECT_EQ(Pass(*sender).failed, 1);
  now_ += absl::Seconds(1);
  PushSender::PassResult result = Pass(*sender);
  EXPECT_EQ(result.failed, 1);
  EXPECT_EQ(result.dropped, 1);
  EXPECT_TRUE(Queue().empty());
}

TEST(PushRetryDelay, DoublesUpToTheMaximum) {
  PushGatewayOptions o;
  o.retry_initial = absl::Seconds(1);
  o.retry_max = absl::Seconds(10);
  EXPECT_EQ(PushRetryDelay(1, o), absl::Seconds(1));
  EXPECT_EQ(PushRetryDelay(2, o), absl::Seconds(2));
  EXPECT_EQ(PushRetryDelay(4, o), absl::Seconds(8));
  EXPECT_EQ(PushRetryDelay(5, o), absl::Seconds(10));
  EXPECT_EQ(PushRetryDelay(500, o), absl::Seconds(10));
}

TEST(PushNotifyBody, UserIsTargetForMemberEventsAndZeroCountsOmitted) {
  object entry{{"event_id", "$e"}, {"room_id", "!r:x"}, {"prio", "high"}};
  object event{{"type", "m.room.member"},
               {"sender", "@a:x"},
               {"state_key", "@b:x"},
               {"content", object{{"membership", "invite"}}}};
  object pusher{{"app_id", "a"}, {"pushkey", "k"}, {"data", object{{"url", kUrl}}}};
  object body = PushNotifyBody(entry, &event, pusher, "@b:x", 0);
  const object& n = body.at("notification").as_object();
  EXPECT_EQ(n.at("user_is_target"), true);
  EXPECT_TRUE(n.at("counts").as_object().empty());
  EXPECT_EQ(n.at("devices").at(0).at("data"), object());
  EXPECT_FALSE(n.at("devices").at(0).as_object().contains("pushkey_ts"));
}

}  // namespace
}  // namespace conclave::service
