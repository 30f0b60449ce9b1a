// Answers the spec prescribes where conclave answered otherwise (issue list of the Client-Server
// API round): each test names the section or YAML it follows. Through the Router (api_harness.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "api_harness.h"

namespace conclave::api::test_util {
namespace {

using service::Errcode;

std::string RoomPath(const std::string& room_id, const std::string& rest) {
  return "/_matrix/client/v3/rooms/" + room_id + rest;
}

class SpecConformanceTest : public ApiTest {
 protected:
  std::string CreateRoom(const std::string& token, boost::json::object body = {}) {
    ApiResponse r = Post("/_matrix/client/v3/createRoom", body, token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json.contains("room_id") ? std::string(r.json.at("room_id").as_string()) : "";
  }
};

// rooms.yaml, GET /rooms/{roomId}/event/{eventId}: 404 "The event was not found or you do not
// have permission to read this event".
TEST_F(SpecConformanceTest, AnEventOfARoomYouAreNotInIsNotFound) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string room = CreateRoom(alice);
  ApiResponse sent = Put(RoomPath(room, "/send/m.room.message/t1"),
                         {{"msgtype", "m.text"}, {"body", "secret"}}, alice);
  ASSERT_EQ(sent.status, 200) << sent.body;
  const std::string event_id(sent.json.at("event_id").as_string());

  ApiResponse member = Get(RoomPath(room, "/event/" + event_id), alice);
  EXPECT_EQ(member.status, 200) << member.body;
  ApiResponse stranger = Get(RoomPath(room, "/event/" + event_id), bob);
  EXPECT_EQ(stranger.status, 404) << stranger.body;
  EXPECT_EQ(stranger.errcode(), Errcode::kNotFound);
  // The same answer as for an event that does not exist: nothing to tell the two apart.
  ApiResponse missing = Get(RoomPath(room, "/event/$nosuchevent"), bob);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.errcode(), Errcode::kNotFound);
}

// room_state.yaml, PUT m.room.canonical_alias: M_INVALID_PARAM for aliases of invalid syntax,
// M_BAD_ALIAS for valid ones that do not point at the room.
TEST_F(SpecConformanceTest, CanonicalAliasErrorsTellSyntaxFromTarget) {
  const std::string alice = Register("alice");
  const std::string room = CreateRoom(alice, {{"room_alias_name", "lobby"}});
  const std::string other = CreateRoom(alice, {{"room_alias_name", "elsewhere"}});
  const std::string path = RoomPath(room, "/state/m.room.canonical_alias/");
  struct Case {
    boost::json::object content;
    Errcode errcode;
  };
  const Case cases[] = {
      {{{"alias", "#lobby:example.org"}, {"alt_aliases", boost::json::array{"no-hash"}}},
       Errcode::kInvalidParam},
      {{{"alt_aliases", boost::json::array{"#:"}}}, Errcode::kInvalidParam},
      {{{"alt_aliases", boost::json::array{5}}}, Errcode::kInvalidParam},
      {{{"alt_aliases", "#lobby:example.org"}}, Errcode::kInvalidParam},
      {{{"alias", "lobby"}}, Errcode::kInvalidParam},
      {{{"alias", "#elsewhere:example.org"}}, Errcode::kBadAlias},
      {{{"alt_aliases", boost::json::array{"#unknown:example.org"}}}, Errcode::kBadAlias},
  };
  for (const Case& c : cases) {
    ApiResponse r = Put(path, c.content, alice);
    EXPECT_EQ(r.status, 400) << boost::json::serialize(c.content) << " " << r.body;
    EXPECT_EQ(r.errcode(), c.errcode) << boost::json::serialize(c.content) << " " << r.body;
  }
  ApiResponse valid =
      Put(path, {{"alias", "#lobby:example.org"}, {"alt_aliases", boost::json::array{}}}, alice);
  EXPECT_EQ(valid.status, 200) << valid.body;
  ASSERT_FALSE(other.empty());
}

// profile.yaml: avatar_url is `format: uri`, not only mxc://.
TEST_F(SpecConformanceTest, AvatarUrlTakesAnyUriButNotArbitraryText) {
  const std::string alice = Register("alice");
  const std::string path = "/_matrix/client/v3/profile/@alice:example.org/avatar_url";
  EXPECT_EQ(Put(path, {{"avatar_url", "mxc://example.org/abc"}}, alice).status, 200);
  ApiResponse https = Put(path, {{"avatar_url", "https://example.org/a.png"}}, alice);
  EXPECT_EQ(https.status, 200) << https.body;
  EXPECT_EQ(Get(path, alice).json.at("avatar_url"), "https://example.org/a.png");
  for (const char* bad : {"not a uri", "://x", "1abc:x", "mxc://a b"}) {
    ApiResponse r = Put(path, {{"avatar_url", bad}}, alice);
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
    EXPECT_EQ(r.errcode(), Errcode::kInvalidParam) << bad;
  }
}

// Client-Server API, "Size limits": type and state_key at most 255 bytes; nothing stored.
TEST_F(SpecConformanceTest, EventTypesAndStateKeysOver255BytesAreRefused) {
  const std::string alice = Register("alice");
  const std::string room = CreateRoom(alice);
  const std::string long_type(256, 't');
  ApiResponse type = Put(RoomPath(room, "/send/" + long_type + "/t1"), {{"a", 1}}, alice);
  EXPECT_EQ(type.status, 413) << type.body;
  EXPECT_EQ(type.errcode(), Errcode::kTooLarge);
  ApiResponse state_key =
      Put(RoomPath(room, "/state/m.x/" + std::string(256, 'k')), {{"a", 1}}, alice);
  EXPECT_EQ(state_key.status, 413) << state_key.body;
  ApiResponse state_type = Put(RoomPath(room, "/state/" + long_type + "/"), {{"a", 1}}, alice);
  EXPECT_EQ(state_type.status, 413) << state_type.body;

  ApiResponse fits =
      Put(RoomPath(room, "/send/" + std::string(255, 't') + "/t2"), {{"a", 1}}, alice);
  EXPECT_EQ(fits.status, 200) << fits.body;
  // The refused ones are not in the timeline: the last event is the one that fit.
  ApiResponse messages = Get(RoomPath(room, "/messages?dir=b&limit=1"), alice);
  ASSERT_EQ(messages.status, 200) << messages.body;
  EXPECT_EQ(messages.json.at("chunk").as_array().at(0).at("type").as_string(), std::string(255, 't'));
}

// sync.yaml, set_presence: omitted marks the user online; `offline` means "not marked as being
// online" (presence and status_msg stay); `unavailable` keeps the status_msg.
TEST_F(SpecConformanceTest, SyncSetPresenceOfflineLeavesPresenceAlone) {
  const std::string alice = Register("alice");
  const std::string path = "/_matrix/client/v3/presence/@alice:example.org/status";
  ASSERT_EQ(Get("/_matrix/client/v3/sync?timeout=0", alice).status, 200);
  EXPECT_EQ(Get(path, alice).json.at("presence"), "online");

  ASSERT_EQ(Put(path, {{"presence", "online"}, {"status_msg", "here"}}, alice).status, 200);
  ASSERT_EQ(Get("/_matrix/client/v3/sync?timeout=0&set_presence=offline", alice).status, 200);
  ApiResponse after_offline = Get(path, alice);
  EXPECT_EQ(after_offline.json.at("presence"), "online") << after_offline.body;
  EXPECT_EQ(after_offline.json.at("status_msg"), "here") << after_offline.body;

  ASSERT_EQ(Get("/_matrix/client/v3/sync?timeout=0&set_presence=unavailable", alice).status, 200);
  ApiResponse idle = Get(path, alice);
  EXPECT_EQ(idle.json.at("presence"), "unavailable") << idle.body;
  EXPECT_EQ(idle.json.at("status_msg"), "here") << idle.body;
}

// sync.yaml, RoomSummary: m.invited_member_count, and invited members among m.heroes.
TEST_F(SpecConformanceTest, InitialSyncSummaryCountsInvitedMembers) {
  const std::string alice = Register("alice");
  ASSERT_FALSE(Register("bob").empty());
  const std::string room = CreateRoom(alice, {{"invite", boost::json::array{"@bob:example.org"}}});
  ApiResponse sync = Get("/_matrix/client/v3/sync?timeout=0", alice);
  ASSERT_EQ(sync.status, 200) << sync.body;
  const auto& summary = sync.json.at("rooms").at("join").at(room).at("summary");
  EXPECT_EQ(summary.at("m.joined_member_count"), 1) << summary;
  EXPECT_EQ(summary.at("m.invited_member_count"), 1) << summary;
  EXPECT_EQ(summary.at("m.heroes"), boost::json::array{"@bob:example.org"}) << summary;
}

}  // namespace
}  // namespace conclave::api::test_util
