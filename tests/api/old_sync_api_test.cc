// The deprecated sync API (old_sync.yaml), room previews (room_initial_sync.yaml) and peeking
// (peeking_events.yaml), through the Router (api_harness.h).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "api_harness.h"
#include "conclave/core/percent.h"

namespace conclave::api::test_util {
namespace {

std::string RoomPath(const std::string& room_id, const std::string& rest) {
  return "/_matrix/client/v3/rooms/" + room_id + rest;
}

class OldSyncTest : public ApiTest {
 protected:
  std::string CreateRoom(const std::string& token, boost::json::object body = {}) {
    ApiResponse r = Post("/_matrix/client/v3/createRoom", body, token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json.contains("room_id") ? std::string(r.json.at("room_id").as_string()) : "";
  }
  std::string Send(const std::string& token, const std::string& room, const std::string& body) {
    ApiResponse r = Put(RoomPath(room, "/send/m.room.message/" + body),
                        {{"msgtype", "m.text"}, {"body", body}}, token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json.contains("event_id") ? std::string(r.json.at("event_id").as_string()) : "";
  }
  // The `body`s of the m.room.message events in a JSON array, in order.
  static std::vector<std::string> Bodies(const boost::json::value& events) {
    std::vector<std::string> out;
    for (const auto& e : events.as_array()) {
      if (e.at("type") == "m.room.message") {
        out.emplace_back(e.at("content").at("body").as_string());
      }
    }
    return out;
  }
  static const boost::json::object* FindRoom(const ApiResponse& r, const std::string& room_id) {
    for (const auto& room : r.json.at("rooms").as_array()) {
      if (room.at("room_id").as_string() == room_id) return &room.as_object();
    }
    return nullptr;
  }
};

// old_sync.yaml, GET /initialSync: every room with its membership, latest messages (at most
// `limit`, oldest first), state and visibility; `end` streams on with GET /events.
TEST_F(OldSyncTest, InitialSyncListsRoomsWithMessagesAndState) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string room = CreateRoom(alice, {{"name", "Lobby"}});
  for (const std::string body : {"one", "two", "three"}) Send(alice, room, body);
  const std::string invited = CreateRoom(bob);
  ASSERT_EQ(Post(RoomPath(invited, "/invite"), {{"user_id", "@alice:example.org"}}, bob).status,
            200);

  ApiResponse r = Get("/_matrix/client/v3/initialSync?limit=2", alice);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json.at("end").is_string());
  EXPECT_TRUE(r.json.at("presence").is_array());
  const boost::json::object* joined = FindRoom(r, room);
  ASSERT_NE(joined, nullptr) << r.body;
  EXPECT_EQ(joined->at("membership"), "join");
  EXPECT_EQ(joined->at("visibility"), "private");
  EXPECT_EQ(Bodies(joined->at("messages").at("chunk")), (std::vector<std::string>{"two", "three"}));
  bool named = false;
  for (const auto& e : joined->at("state").as_array()) {
    named = named || (e.at("type") == "m.room.name" && e.at("content").at("name") == "Lobby");
  }
  EXPECT_TRUE(named) << joined->at("state");
  const boost::json::object* invite = FindRoom(r, invited);
  ASSERT_NE(invite, nullptr) << r.body;
  EXPECT_EQ(invite->at("membership"), "invite");
  EXPECT_EQ(invite->at("invite").at("content").at("membership"), "invite");

  ApiResponse bad = Get("/_matrix/client/v3/initialSync?limit=-1", alice);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json.at("errcode"), "M_INVALID_PARAM");
}

// old_sync.yaml, GET /events: the events after `from` across the caller's rooms, in order, and
// an `end` that resumes after them; a bad `from` is a 400.
TEST_F(OldSyncTest, EventsStreamsFromTheInitialSyncEnd) {
  const std::string alice = Register("alice");
  const std::string room_a = CreateRoom(alice);
  const std::string room_b = CreateRoom(alice);
  ApiResponse initial = Get("/_matrix/client/v3/initialSync", alice);
  ASSERT_EQ(initial.status, 200) << initial.body;
  const std::string end(initial.json.at("end").as_string());
  Send(alice, room_a, "a1");
  Send(alice, room_b, "b1");
  Send(alice, room_a, "a2");

  ApiResponse events =
      Get("/_matrix/client/v3/events?timeout=0&from=" + core::PercentEncode(end), alice);
  ASSERT_EQ(events.status, 200) << events.body;
  EXPECT_EQ(events.json.at("start").as_string(), end);
  EXPECT_EQ(Bodies(events.json.at("chunk")), (std::vector<std::string>{"a1", "b1", "a2"}));
  for (const auto& e : events.json.at("chunk").as_array()) {
    if (e.at("type") == "m.room.message") EXPECT_TRUE(e.as_object().contains("room_id"));
  }
  const std::string next(events.json.at("end").as_string());
  ApiResponse none =
      Get("/_matrix/client/v3/events?timeout=0&from=" + core::PercentEncode(next), alice);
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_TRUE(Bodies(none.json.at("chunk")).empty()) << none.body;

  // room_id narrows the stream to one of the caller's rooms.
  ApiResponse only_b =
      Get("/_matrix/client/v3/events?timeout=0&room_id=" + core::PercentEncode(room_b) +
              "&from=" + core::PercentEncode(end),
          alice);
  EXPECT_EQ(Bodies(only_b.json.at("chunk")), (std::vector<std::string>{"b1"})) << only_b.body;

  ApiResponse bad = Get("/_matrix/client/v3/events?timeout=0&from=garbage", alice);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json.at("errcode"), "M_INVALID_PARAM");
}

// old_sync.yaml, GET /events/{eventId}: the event for those who may see it, 404 otherwise.
TEST_F(OldSyncTest, EventByIdHonoursVisibility) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string room = CreateRoom(alice);
  const std::string event_id = Send(alice, room, "secret");
  ApiResponse mine = Get("/_matrix/client/v3/events/" + core::PercentEncode(event_id), alice);
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(mine.json.at("content").at("body"), "secret");
  EXPECT_EQ(mine.json.at("room_id").as_string(), room);
  ApiResponse stranger = Get("/_matrix/client/v3/events/" + core::PercentEncode(event_id), bob);
  EXPECT_EQ(stranger.status, 404) << stranger.body;
  EXPECT_EQ(stranger.json.at("errcode"), "M_NOT_FOUND");
  ApiResponse unknown = Get("/_matrix/client/v3/events/%24nope", alice);
  EXPECT_EQ(unknown.status, 404);
}

// room_initial_sync.yaml and "Room Previews": a world-readable room can be previewed by a
// non-member; other rooms cannot.
TEST_F(OldSyncTest, RoomInitialSyncPreviewsWorldReadableRooms) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string room = CreateRoom(alice, {{"preset", "public_chat"}});
  ASSERT_EQ(Put(RoomPath(room, "/state/m.room.history_visibility/"),
                {{"history_visibility", "world_readable"}}, alice)
                .status,
            200);
  Send(alice, room, "hello");
  Send(alice, room, "world");

  ApiResponse preview = Get(RoomPath(room, "/initialSync"), bob);
  ASSERT_EQ(preview.status, 200) << preview.body;
  EXPECT_EQ(preview.json.at("room_id").as_string(), room);
  EXPECT_FALSE(preview.json.contains("membership")) << preview.body;
  EXPECT_EQ(Bodies(preview.json.at("messages").at("chunk")),
            (std::vector<std::string>{"hello", "world"}));
  EXPECT_TRUE(preview.json.at("messages").at("end").is_string());
  EXPECT_FALSE(preview.json.at("state").as_array().empty());
  ApiResponse member = Get(RoomPath(room, "/initialSync"), alice);
  EXPECT_EQ(member.json.at("membership"), "join");

  // Peeking: GET /events?room_id= for a room bob is not in, from the preview's end.
  const std::string end(preview.json.at("messages").at("end").as_string());
  Send(alice, room, "later");
  ApiResponse peek = Get("/_matrix/client/v3/events?room_id=" + core::PercentEncode(room) +
                             "&from=" + core::PercentEncode(end),
                         bob);
  ASSERT_EQ(peek.status, 200) << peek.body;
  EXPECT_EQ(Bodies(peek.json.at("chunk")), (std::vector<std::string>{"later"}));

  const std::string secret = CreateRoom(alice);
  ApiResponse refused = Get(RoomPath(secret, "/initialSync"), bob);
  EXPECT_EQ(refused.status, 403) << refused.body;
  ApiResponse refused_peek =
      Get("/_matrix/client/v3/events?room_id=" + core::PercentEncode(secret), bob);
  EXPECT_EQ(refused_peek.status, 403) << refused_peek.body;
}

}  // namespace
}  // namespace conclave::api::test_util
