// Simplified sliding sync (MSC4186), through the Router (api_harness.h): lists and ranges,
// ordering by recency, incremental responses, required_state, subscriptions, filters,
// extensions, `pos` expiry and bad input.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "api_harness.h"

namespace conclave::api::test_util {
namespace {

using boost::json::array;
using boost::json::object;

constexpr char kPath[] = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";

std::string RoomPath(const std::string& room_id, const std::string& rest) {
  return "/_matrix/client/v3/rooms/" + room_id + rest;
}

class SlidingSyncTest : public ApiTest {
 protected:
  // The first user registered becomes the server's admin and is put in the admin room; it is
  // registered here so that the users of the tests have only their own rooms.
  void SetUp() override {
    ApiTest::SetUp();
    Register("operator");
  }
  std::string CreateRoom(const std::string& token, object body = {}) {
    ApiResponse r = Post("/_matrix/client/v3/createRoom", body, token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json.contains("room_id") ? std::string(r.json.at("room_id").as_string()) : "";
  }
  std::string Send(const std::string& token, const std::string& room, const std::string& body) {
    ApiResponse r = Put(RoomPath(room, "/send/m.room.message/" + body + std::to_string(++txn_)),
                        {{"msgtype", "m.text"}, {"body", body}}, token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json.contains("event_id") ? std::string(r.json.at("event_id").as_string()) : "";
  }
  // One request; `pos` empty for a new connection.
  ApiResponse Sliding(const std::string& token, object body, const std::string& pos = "") {
    std::string target = kPath;
    if (!pos.empty()) target += "?timeout=0&pos=" + pos;
    return Post(target, body, token);
  }
  static object List(int64_t first, int64_t last, int64_t timeline_limit, array required = {}) {
    return object{{"ranges", array{array{first, last}}},
                  {"timeline_limit", timeline_limit},
                  {"required_state", std::move(required)}};
  }
  static std::set<std::string> RoomIds(const ApiResponse& r) {
    std::set<std::string> out;
    for (const auto& [id, room] : r.json.at("rooms").as_object()) out.emplace(id);
    return out;
  }
  static std::vector<std::string> Bodies(const boost::json::value& events) {
    std::vector<std::string> out;
    for (const auto& e : events.as_array()) {
      if (e.at("type") == "m.room.message")
        out.emplace_back(e.at("content").at("body").as_string());
    }
    return out;
  }
  static std::string Pos(const ApiResponse& r) {
    return r.json.contains("pos") ? std::string(r.json.at("pos").as_string()) : "";
  }
  int txn_ = 0;
};

TEST_F(SlidingSyncTest, VersionsAdvertisesSimplifiedSlidingSync) {
  ApiResponse r = Get("/_matrix/client/versions");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json.at("unstable_features").at("org.matrix.simplified_msc3575"), true);
}

// "Lists": the range indexes the recency-ordered list; `count` is the whole list; growing the
// range sends only the rooms the connection has not seen.
TEST_F(SlidingSyncTest, RangesPageTheRoomListByRecency) {
  const std::string alice = Register("alice");
  std::vector<std::string> rooms;
  for (int i = 0; i < 12; ++i)
    rooms.push_back(CreateRoom(alice, {{"name", "room" + std::to_string(i)}}));
  for (int i = 0; i < 12; ++i) Send(alice, rooms[i], "m" + std::to_string(i));  // newest: 11

  ApiResponse first = Sliding(alice, {{"lists", object{{"all", List(0, 4, 1)}}}});
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.json.at("lists").at("all").at("count"), 12);
  EXPECT_EQ(RoomIds(first), (std::set<std::string>(rooms.begin() + 7, rooms.end())));
  const auto& top = first.json.at("rooms").at(rooms[11]);
  EXPECT_EQ(top.at("initial"), true);
  EXPECT_EQ(top.at("name"), "room11");
  EXPECT_EQ(top.at("membership"), "join");
  EXPECT_EQ(Bodies(top.at("timeline")), (std::vector<std::string>{"m11"}));
  EXPECT_EQ(top.at("lists"), (array{"all"}));
  EXPECT_TRUE(top.at("bump_stamp").is_number());
  EXPECT_EQ(top.at("joined_count"), 1);
  EXPECT_EQ(top.as_object().at("limited"), true);

  ApiResponse grown = Sliding(alice, {{"lists", object{{"all", List(0, 9, 1)}}}}, Pos(first));
  ASSERT_EQ(grown.status, 200) << grown.body;
  EXPECT_EQ(RoomIds(grown), (std::set<std::string>(rooms.begin() + 2, rooms.begin() + 7)));
}

// An event in an old room moves it to the top; the next response carries only that room, its
// new event live.
TEST_F(SlidingSyncTest, ActivityMovesARoomToTheTopIncrementally) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  std::vector<std::string> rooms;
  for (int i = 0; i < 4; ++i) {
    rooms.push_back(CreateRoom(alice, {{"preset", "public_chat"}}));
    ASSERT_EQ(Post(RoomPath(rooms.back(), "/join"), {}, bob).status, 200);
  }
  ApiResponse first = Sliding(alice, {{"lists", object{{"top", List(0, 0, 3)}}}});
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(RoomIds(first), (std::set<std::string>{rooms[3]}));

  Send(bob, rooms[0], "wake up");
  ApiResponse next = Sliding(alice, {{"lists", object{{"top", List(0, 0, 3)}}}}, Pos(first));
  ASSERT_EQ(next.status, 200) << next.body;
  ASSERT_EQ(RoomIds(next), (std::set<std::string>{rooms[0]})) << next.body;
  const auto& room = next.json.at("rooms").at(rooms[0]).as_object();
  EXPECT_EQ(room.at("initial"), true);  // never sent on this connection before
  EXPECT_EQ(Bodies(room.at("timeline")), (std::vector<std::string>{"wake up"}));
  EXPECT_EQ(room.at("num_live"), 1);

  // Nothing new: an empty answer (timeout=0), and the same room again only after news.
  ApiResponse quiet = Sliding(alice, {{"lists", object{{"top", List(0, 0, 3)}}}}, Pos(next));
  ASSERT_EQ(quiet.status, 200) << quiet.body;
  EXPECT_TRUE(quiet.json.at("rooms").as_object().empty()) << quiet.body;
  Send(bob, rooms[0], "again");
  ApiResponse again = Sliding(alice, {{"lists", object{{"top", List(0, 0, 3)}}}}, Pos(quiet));
  const auto& incremental = again.json.at("rooms").at(rooms[0]).as_object();
  EXPECT_FALSE(incremental.contains("initial"));
  EXPECT_EQ(Bodies(incremental.at("timeline")), (std::vector<std::string>{"again"}));
  EXPECT_FALSE(incremental.contains("limited"));
}

// required_state: exact pairs, `*`, $ME and $LAZY (members of the timeline's senders only).
TEST_F(SlidingSyncTest, RequiredStateSelectsStateAndLazyMembers) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string carol = Register("carol");
  const std::string room = CreateRoom(alice, {{"preset", "public_chat"}, {"name", "Lobby"}});
  ASSERT_EQ(Post(RoomPath(room, "/join"), {}, bob).status, 200);
  ASSERT_EQ(Post(RoomPath(room, "/join"), {}, carol).status, 200);
  Send(bob, room, "hi from bob");

  auto types_and_keys = [](const ApiResponse& r, const std::string& room_id) {
    std::set<std::string> out;
    for (const auto& e : r.json.at("rooms").at(room_id).at("required_state").as_array()) {
      out.emplace(std::string(e.at("type").as_string()) + "|" +
                  std::string(e.at("state_key").as_string()));
    }
    return out;
  };
  ApiResponse named =
      Sliding(alice, {{"lists", object{{"l", List(0, 0, 1, array{array{"m.room.name", ""}})}}}});
  ASSERT_EQ(named.status, 200) << named.body;
  EXPECT_EQ(types_and_keys(named, room), (std::set<std::string>{"m.room.name|"}));

  ApiResponse lazy =
      Sliding(alice, {{"lists", object{{"l", List(0, 0, 1,
                                                  array{array{"m.room.member", "$LAZY"},
                                                        array{"m.room.member", "$ME"}})}}}});
  ASSERT_EQ(lazy.status, 200) << lazy.body;
  EXPECT_EQ(types_and_keys(lazy, room), (std::set<std::string>{"m.room.member|@alice:example.org",
                                                               "m.room.member|@bob:example.org"}));

  ApiResponse all =
      Sliding(alice, {{"lists", object{{"l", List(0, 0, 1, array{array{"*", "*"}})}}}});
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_TRUE(types_and_keys(all, room).contains("m.room.member|@carol:example.org"));
  EXPECT_TRUE(types_and_keys(all, room).contains("m.room.create|"));

  // The MSC's later object format: everything but the create event.
  ApiResponse excluded = Sliding(
      alice,
      {{"lists", object{{"l", object{{"range", array{0, 0}},
                                     {"timeline_limit", 1},
                                     {"required_state",
                                      object{{"include", array{object{}}},
                                             {"exclude", array{object{{"type", "m.room.create"},
                                                                      {"state_key", ""}}}}}}}}}}});
  ASSERT_EQ(excluded.status, 200) << excluded.body;
  EXPECT_FALSE(types_and_keys(excluded, room).contains("m.room.create|"));
  EXPECT_TRUE(types_and_keys(excluded, room).contains("m.room.name|"));
}

// "Changing room configs": a larger timeline_limit sends the latest events again, flagged.
TEST_F(SlidingSyncTest, GrowingTheTimelineLimitExpandsTheTimeline) {
  const std::string alice = Register("alice");
  const std::string room = CreateRoom(alice);
  for (const std::string body : {"a", "b", "c", "d"}) Send(alice, room, body);
  ApiResponse first = Sliding(alice, {{"lists", object{{"l", List(0, 0, 1)}}}});
  ASSERT_EQ(Bodies(first.json.at("rooms").at(room).at("timeline")),
            (std::vector<std::string>{"d"}));
  ApiResponse expanded = Sliding(alice, {{"lists", object{{"l", List(0, 0, 3)}}}}, Pos(first));
  ASSERT_EQ(expanded.status, 200) << expanded.body;
  const auto& r = expanded.json.at("rooms").at(room).as_object();
  EXPECT_EQ(Bodies(r.at("timeline")), (std::vector<std::string>{"b", "c", "d"}));
  EXPECT_EQ(r.at("expanded_timeline"), true);
}

// Subscriptions return a room outside every range; rooms the user is not in are ignored.
TEST_F(SlidingSyncTest, SubscriptionsReturnTheirRoomOnly) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string old_room = CreateRoom(alice);
  const std::string new_room = CreateRoom(alice);
  const std::string bobs = CreateRoom(bob);
  ApiResponse r = Sliding(
      alice, {{"lists", object{{"l", List(0, 0, 1)}}},
              {"room_subscriptions",
               object{{old_room, object{{"timeline_limit", 2}, {"required_state", array{}}}},
                      {bobs, object{{"timeline_limit", 2}, {"required_state", array{}}}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(RoomIds(r), (std::set<std::string>{old_room, new_room}));
  EXPECT_FALSE(r.json.at("rooms").at(old_room).as_object().contains("lists"));
}

// Invites carry their stripped state; is_invite filters them in or out.
TEST_F(SlidingSyncTest, InvitesCarryStrippedStateAndFilter) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string mine = CreateRoom(alice);
  const std::string invited = CreateRoom(bob, {{"name", "Secret"}});
  ASSERT_EQ(Post(RoomPath(invited, "/invite"), {{"user_id", "@alice:example.org"}}, bob).status,
            200);
  object invites = List(0, 9, 1);
  invites["filters"] = object{{"is_invite", true}};
  object joined = List(0, 9, 1);
  joined["filters"] = object{{"is_invite", false}};
  ApiResponse r = Sliding(alice, {{"lists", object{{"invites", invites}, {"joined", joined}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json.at("lists").at("invites").at("count"), 1);
  EXPECT_EQ(r.json.at("lists").at("joined").at("count"), 1);
  const auto& invite = r.json.at("rooms").at(invited).as_object();
  EXPECT_EQ(invite.at("membership"), "invite");
  bool has_name = false;
  for (const auto& e : invite.at("invite_state").as_array()) {
    has_name = has_name || e.at("type") == "m.room.name";
  }
  EXPECT_TRUE(has_name) << invite;
  // The MSC's later name for the same events.
  EXPECT_EQ(invite.at("stripped_state"), invite.at("invite_state"));
  EXPECT_FALSE(invite.contains("timeline"));
  EXPECT_EQ(r.json.at("rooms").at(mine).at("membership"), "join");
}

// Filters: is_dm (m.direct), room_types (spaces), is_encrypted.
TEST_F(SlidingSyncTest, FiltersSelectDirectSpacesAndEncrypted) {
  const std::string alice = Register("alice");
  const std::string plain = CreateRoom(alice);
  const std::string space = CreateRoom(alice, {{"creation_content", object{{"type", "m.space"}}}});
  const std::string encrypted = CreateRoom(
      alice, {{"initial_state",
               array{object{{"type", "m.room.encryption"},
                            {"state_key", ""},
                            {"content", object{{"algorithm", "m.megolm.v1.aes-sha2"}}}}}}});
  ASSERT_EQ(Put("/_matrix/client/v3/user/@alice:example.org/account_data/m.direct",
                {{"@bob:example.org", array{plain}}}, alice)
                .status,
            200);
  auto only = [&](object filters) {
    object list = List(0, 9, 0);
    list["filters"] = std::move(filters);
    ApiResponse r = Sliding(alice, {{"lists", object{{"l", list}}}});
    EXPECT_EQ(r.status, 200) << r.body;
    return RoomIds(r);
  };
  EXPECT_EQ(only({{"is_dm", true}}), (std::set<std::string>{plain}));
  EXPECT_EQ(only({{"room_types", array{"m.space"}}}), (std::set<std::string>{space}));
  EXPECT_EQ(only({{"not_room_types", array{"m.space"}}, {"is_encrypted", true}}),
            (std::set<std::string>{encrypted}));
  EXPECT_EQ(only({{"room_types", array{nullptr}}, {"is_encrypted", false}}),
            (std::set<std::string>{plain}));
}

// Extensions: to_device with its own token, e2ee key counts, account_data, typing.
TEST_F(SlidingSyncTest, ExtensionsDeliverToDeviceAccountDataAndTyping) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string room = CreateRoom(alice, {{"preset", "public_chat"}});
  ASSERT_EQ(Post(RoomPath(room, "/join"), {}, bob).status, 200);
  ApiResponse whoami = Get("/_matrix/client/v3/account/whoami", alice);
  const std::string device(whoami.json.at("device_id").as_string());
  ASSERT_EQ(Put("/_matrix/client/v3/sendToDevice/m.test/t1",
                {{"messages",
                  object{{"@alice:example.org", object{{device, object{{"hello", "world"}}}}}}}},
                bob)
                .status,
            200);
  ASSERT_EQ(
      Put(RoomPath(room, "/typing/@bob:example.org"), {{"typing", true}, {"timeout", 30000}}, bob)
          .status,
      200);
  const object extensions{{"to_device", object{{"enabled", true}}},
                          {"e2ee", object{{"enabled", true}}},
                          {"account_data", object{{"enabled", true}}},
                          {"typing", object{{"enabled", true}}},
                          {"receipts", object{{"enabled", true}}}};
  ApiResponse r =
      Sliding(alice, {{"lists", object{{"l", List(0, 0, 1)}}}, {"extensions", extensions}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto& ext = r.json.at("extensions").as_object();
  ASSERT_EQ(ext.at("to_device").at("events").as_array().size(), 1u) << r.body;
  EXPECT_EQ(ext.at("to_device").at("events").at(0).at("content").at("hello"), "world");
  EXPECT_TRUE(ext.at("e2ee").at("device_one_time_keys_count").is_object());
  bool push_rules = false;
  for (const auto& e : ext.at("account_data").at("global").as_array()) {
    push_rules = push_rules || e.at("type") == "m.push_rules";
  }
  EXPECT_TRUE(push_rules) << ext.at("account_data");
  EXPECT_EQ(ext.at("typing").at("rooms").at(room).at("content").at("user_ids"),
            (array{"@bob:example.org"}));

  // The to_device token acknowledges: the message is not delivered twice.
  object again_ext = extensions;
  again_ext["to_device"] =
      object{{"enabled", true}, {"since", ext.at("to_device").at("next_batch")}};
  ApiResponse again =
      Sliding(alice, {{"lists", object{{"l", List(0, 0, 1)}}}, {"extensions", again_ext}}, Pos(r));
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_TRUE(again.json.at("extensions").at("to_device").at("events").as_array().empty());
  // Typing unchanged since the last response: not repeated.
  EXPECT_FALSE(again.json.at("extensions").at("typing").at("rooms").as_object().contains(room));
}

// "Ignoring Users": an ignored user's invites are not sent and their events leave the timeline.
TEST_F(SlidingSyncTest, IgnoredUsersInvitesAndEventsAreHidden) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string carol = Register("carol");
  const std::string shared = CreateRoom(carol, {{"preset", "public_chat"}});
  ASSERT_EQ(Post(RoomPath(shared, "/join"), {}, alice).status, 200);
  ASSERT_EQ(Post(RoomPath(shared, "/join"), {}, bob).status, 200);
  Send(alice, shared, "from alice");
  Send(carol, shared, "from carol");
  const std::string invite = CreateRoom(alice);
  ASSERT_EQ(Post(RoomPath(invite, "/invite"), {{"user_id", "@bob:example.org"}}, alice).status,
            200);
  ASSERT_EQ(Put("/_matrix/client/v3/user/@bob:example.org/account_data/m.ignored_user_list",
                {{"ignored_users", object{{"@alice:example.org", object{}}}}}, bob)
                .status,
            200);
  ApiResponse r = Sliding(bob, {{"lists", object{{"all", List(0, 9, 5)}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(RoomIds(r), (std::set<std::string>{shared}));
  EXPECT_EQ(r.json.at("lists").at("all").at("count"), 1);
  EXPECT_EQ(Bodies(r.json.at("rooms").at(shared).at("timeline")),
            (std::vector<std::string>{"from carol"}));
}

// "Connections": a pos the connection did not issue is M_UNKNOWN_POS; the previous pos may be
// used again (a retried request), the one before it may not.
TEST_F(SlidingSyncTest, UnknownPosAndRetries) {
  const std::string alice = Register("alice");
  const std::string room = CreateRoom(alice);
  const object body{{"lists", object{{"l", List(0, 0, 1)}}}};
  ApiResponse bad = Sliding(alice, body, "12_0_99");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json.at("errcode"), "M_UNKNOWN_POS");

  ApiResponse p1 = Sliding(alice, body);
  ApiResponse p2 = Sliding(alice, body, Pos(p1));
  ASSERT_EQ(p2.status, 200) << p2.body;
  Send(alice, room, "retry me");
  // The client never saw p2's answer and sends p1 again: the room's news comes with it.
  ApiResponse retried = Sliding(alice, body, Pos(p1));
  ASSERT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(Bodies(retried.json.at("rooms").at(room).at("timeline")),
            (std::vector<std::string>{"retry me"}));
  ApiResponse p3 = Sliding(alice, body, Pos(retried));
  ASSERT_EQ(p3.status, 200) << p3.body;
  // Now p1 is two responses back.
  EXPECT_EQ(Sliding(alice, body, Pos(p1)).json.at("errcode"), "M_UNKNOWN_POS");
  // Another conn_id is another connection.
  object other = body;
  other["conn_id"] = "other";
  EXPECT_EQ(Sliding(alice, other, Pos(p3)).json.at("errcode"), "M_UNKNOWN_POS");
}

TEST_F(SlidingSyncTest, BadInputIsAClearError) {
  const std::string alice = Register("alice");
  auto errcode = [&](object body) {
    ApiResponse r = Sliding(alice, std::move(body));
    EXPECT_EQ(r.status, 400) << r.body;
    return r.json.contains("errcode") ? std::string(r.json.at("errcode").as_string()) : "";
  };
  EXPECT_EQ(errcode({{"lists", object{{"l", List(0, 0, -1)}}}}), "M_INVALID_PARAM");
  EXPECT_EQ(errcode({{"lists", object{{"l", List(5, 2, 1)}}}}), "M_INVALID_PARAM");
  EXPECT_EQ(errcode({{"lists", object{{"l", object{{"ranges", "all"}}}}}}), "M_BAD_JSON");
  EXPECT_EQ(errcode({{"lists", object{{"l", List(0, 1, 1, array{"m.room.name"})}}}}), "M_BAD_JSON");
  EXPECT_EQ(errcode({{"room_subscriptions", object{{"#alias:example.org", object{}}}}}),
            "M_INVALID_PARAM");
  EXPECT_EQ(errcode({{"set_presence", "busy"}}), "M_INVALID_PARAM");
  EXPECT_EQ(errcode({{"lists", "nope"}}), "M_BAD_JSON");
  ApiResponse anonymous = Post(kPath, object{});
  EXPECT_EQ(anonymous.status, 401);
}

}  // namespace
}  // namespace conclave::api::test_util
