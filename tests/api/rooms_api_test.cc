// The room routes' request parsing and response shapes (api/rooms.cc, api/events.cc), through the
// Router (api_harness.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "api_harness.h"

namespace conclave::api::test_util {
namespace {

using service::Errcode;

constexpr char kCreate[] = "/_matrix/client/v3/createRoom";

TEST_F(ApiTest, CreateRoomRefusesBadFieldsWithTheirErrcodes) {
  const std::string alice = Register("alice");
  struct Case {
    boost::json::object body;
    int status;
    Errcode errcode;
  };
  const Case cases[] = {
      {{{"name", 5}}, 400, Errcode::kBadJson},
      {{{"visibility", "secret"}}, 400, Errcode::kInvalidParam},
      {{{"preset", "party"}}, 400, Errcode::kInvalidParam},
      {{{"is_direct", "yes"}}, 400, Errcode::kBadJson},
      {{{"invite", "@bob:example.org"}}, 400, Errcode::kBadJson},
      {{{"invite", boost::json::array{"bob"}}}, 400, Errcode::kInvalidParam},
      {{{"invite", boost::json::array{"@nobody:example.org"}}}, 404, Errcode::kNotFound},
      {{{"creation_content", 1}}, 400, Errcode::kBadJson},
      {{{"initial_state", boost::json::array{boost::json::object{{"type", "m.x"}}}}},
       400,
       Errcode::kBadJson},
      {{{"room_version", "13"}}, 400, Errcode::kUnsupportedRoomVersion},
      {{{"room_alias_name", "a:b"}}, 400, Errcode::kInvalidParam},
  };
  for (const Case& c : cases) {
    ApiResponse r = Post(kCreate, c.body, alice);
    EXPECT_EQ(r.status, c.status) << boost::json::serialize(c.body) << " " << r.body;
    EXPECT_EQ(r.errcode(), c.errcode) << boost::json::serialize(c.body) << " " << r.body;
  }
  ApiResponse first = Post(kCreate, {{"room_alias_name", "lobby"}}, alice);
  ASSERT_EQ(first.status, 200) << first.body;
  ApiResponse taken = Post(kCreate, {{"room_alias_name", "lobby"}}, alice);
  EXPECT_EQ(taken.status, 400);
  EXPECT_EQ(taken.errcode(), Errcode::kRoomInUse);
}

TEST_F(ApiTest, CreateRoomAppliesInitialStateAndPublishes) {
  const std::string alice = Register("alice");
  ApiResponse created =
      Post(kCreate,
           {{"visibility", "public"},
            {"name", "Lobby"},
            {"initial_state",
             boost::json::array{boost::json::object{
                 {"type", "m.room.topic"}, {"content", boost::json::object{{"topic", "t"}}}}}}},
           alice);
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string room_id(created.json.at("room_id").as_string());
  ApiResponse topic = Get("/_matrix/client/v3/rooms/" + room_id + "/state/m.room.topic", alice);
  EXPECT_EQ(topic.body, R"({"topic":"t"})");
  ApiResponse rules =
      Get("/_matrix/client/v3/rooms/" + room_id + "/state/m.room.join_rules", alice);
  EXPECT_EQ(rules.body, R"({"join_rule":"public"})");  // the public_chat preset
  ApiResponse directory = Get("/_matrix/client/v3/publicRooms", alice);
  EXPECT_EQ(
      directory.body,
      R"({"chunk":[{"room_id":")" + room_id +
          R"(","num_joined_members":1,"name":"Lobby","topic":"t","join_rule":"public",)"
          R"("world_readable":false,"guest_can_join":false}],"total_room_count_estimate":1})");
}

TEST_F(ApiTest, JoinedMembersHaveBothKeysNullWhenUnset) {
  const std::string alice = Register("alice");
  ApiResponse created = Post(kCreate, {}, alice);
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string room_id(created.json.at("room_id").as_string());
  ApiResponse members = Get("/_matrix/client/v3/rooms/" + room_id + "/joined_members", alice);
  EXPECT_EQ(members.body,
            R"({"joined":{"@alice:example.org":{"display_name":null,"avatar_url":null}}})");
  ApiResponse named = Put("/_matrix/client/v3/profile/@alice:example.org/displayname",
                          {{"displayname", "Alice"}}, alice);
  ASSERT_EQ(named.status, 200) << named.body;
  members = Get("/_matrix/client/v3/rooms/" + room_id + "/joined_members", alice);
  EXPECT_EQ(members.body,
            R"({"joined":{"@alice:example.org":{"display_name":"Alice","avatar_url":null}}})");
}

TEST_F(ApiTest, ContextHasTheEventItsNeighboursAndState) {
  const std::string alice = Register("alice");
  ApiResponse created = Post(kCreate, {}, alice);
  const std::string room =
      "/_matrix/client/v3/rooms/" + std::string(created.json.at("room_id").as_string());
  std::string ids[3];
  for (int i = 0; i < 3; ++i) {
    ApiResponse sent = Put(room + "/send/m.room.message/c" + std::to_string(i),
                           {{"msgtype", "m.text"}, {"body", std::to_string(i)}}, alice);
    ids[i] = std::string(sent.json.at("event_id").as_string());
  }
  ApiResponse context = Get(room + "/context/" + ids[1] + "?limit=2", alice);
  ASSERT_EQ(context.status, 200) << context.body;
  EXPECT_EQ(context.json.at("event").at("event_id").as_string(), ids[1]);
  ASSERT_EQ(context.json.at("events_before").as_array().size(), 1u) << context.body;
  EXPECT_EQ(context.json.at("events_before").at(0).at("event_id").as_string(), ids[0]);
  ASSERT_EQ(context.json.at("events_after").as_array().size(), 1u) << context.body;
  EXPECT_EQ(context.json.at("events_after").at(0).at("event_id").as_string(), ids[2]);
  EXPECT_TRUE(context.json.at("start").is_string());
  EXPECT_TRUE(context.json.at("end").is_string());
  EXPECT_FALSE(context.json.at("state").as_array().empty());
}

TEST_F(ApiTest, RedactedEventShowsItsRedactionAsAClientEvent) {
  const std::string alice = Register("alice");
  ApiResponse created = Post(kCreate, {}, alice);
  const std::string room =
      "/_matrix/client/v3/rooms/" + std::string(created.json.at("room_id").as_string());
  ApiResponse sent = Put(room + "/send/m.room.message/r0", {{"body", "oops"}}, alice);
  const std::string event_id(sent.json.at("event_id").as_string());
  ApiResponse redacted = Put(room + "/redact/" + event_id + "/r1", {{"reason", "typo"}}, alice);
  ASSERT_EQ(redacted.status, 200) << redacted.body;
  ApiResponse event = Get(room + "/event/" + event_id, alice);
  ASSERT_EQ(event.status, 200) << event.body;
  EXPECT_TRUE(event.json.at("content").as_object().empty());
  const auto& because = event.json.at("unsigned").at("redacted_because").as_object();
  EXPECT_EQ(because.at("event_id").as_string(), redacted.json.at("event_id").as_string());
  EXPECT_EQ(because.at("redacts").as_string(), event_id);
  EXPECT_EQ(because.at("content").at("reason").as_string(), "typo");
  EXPECT_TRUE(because.at("unsigned").at("age").is_int64());
  // The client format: no PDU-only fields, no private transaction record.
  for (const char* pdu_only : {"hashes", "signatures", "auth_events", "prev_events", "depth"}) {
    EXPECT_FALSE(because.contains(pdu_only)) << pdu_only;
  }
  EXPECT_FALSE(because.at("unsigned").as_object().contains("io.conclave.txn"));
}

TEST_F(ApiTest, CapabilitiesListEveryRoomVersionAndTheDefault) {
  const std::string alice = Register("alice");
  ApiResponse r = Get("/_matrix/client/v3/capabilities", alice);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto& versions = r.json.at("capabilities").at("m.room_versions").as_object();
  EXPECT_EQ(versions.at("default"), "10");
  const auto& available = versions.at("available").as_object();
  EXPECT_EQ(available.size(), 12u);
  for (int v = 1; v <= 12; ++v) EXPECT_EQ(available.at(std::to_string(v)), "stable") << v;
}

TEST_F(ApiTest, UpgradeAndKnockAnswerTheirShapesAndErrors) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  ApiResponse created = Post(kCreate, {{"room_version", "10"}, {"room_alias_name", "x"}}, alice);
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string room(created.json.at("room_id").as_string());
  const std::string upgrade = "/_matrix/client/v3/rooms/" + room + "/upgrade";
  EXPECT_EQ(Post(upgrade, {}, alice).errcode(), Errcode::kMissingParam);
  EXPECT_EQ(
      Post(upgrade, {{"new_version", "12"}, {"additional_creators", "@a:b"}}, alice).errcode(),
      Errcode::kBadJson);
  ApiResponse unsupported = Post(upgrade, {{"new_version", "1.5"}}, alice);
  EXPECT_EQ(unsupported.status, 400);
  EXPECT_EQ(unsupported.errcode(), Errcode::kUnsupportedRoomVersion);
  ApiResponse forbidden = Post(upgrade, {{"new_version", "11"}}, bob);
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(forbidden.errcode(), Errcode::kForbidden);
  ApiResponse upgraded = Post(upgrade, {{"new_version", "11"}}, alice);
  ASSERT_EQ(upgraded.status, 200) << upgraded.body;
  const std::string replacement(upgraded.json.at("replacement_room").as_string());
  EXPECT_NE(replacement, room);

  // The replacement is invite-only: a knock is refused until the join rule allows it.
  const std::string knock = "/_matrix/client/v3/knock/%23x:example.org";
  ApiResponse refused = Post(knock, {{"reason", "hi"}}, bob);
  EXPECT_EQ(refused.status, 403) << refused.body;
  ASSERT_EQ(Put("/_matrix/client/v3/rooms/" + replacement + "/state/m.room.join_rules",
                {{"join_rule", "knock"}}, alice)
                .status,
            200);
  ApiResponse knocked = Post(knock, {{"reason", "hi"}, {"server_name", boost::json::array{}}}, bob);
  ASSERT_EQ(knocked.status, 200) << knocked.body;
  EXPECT_EQ(knocked.json.at("room_id"), replacement.c_str());
  EXPECT_EQ(Post(knock, {{"reason", 5}}, bob).errcode(), Errcode::kBadJson);
}

}  // namespace
}  // namespace conclave::api::test_util
