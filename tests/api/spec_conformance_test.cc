// Answers the spec prescribes where conclave answered otherwise (issue list of the Client-Server
// API round): each test names the section or YAML it follows. Through the Router (api_harness.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api_harness.h"
#include "conclave/core/notifier.h"
#include "conclave/core/percent.h"

namespace conclave::api::test_util {
namespace {

using service::Errcode;

std::string RoomPath(const std::string& room_id, const std::string& rest) {
  return "/_matrix/client/v3/rooms/" + room_id + rest;
}

// `text` percent-encoded for a query string (RFC 3986 unreserved characters kept).
std::string Encode(std::string_view text) { return core::PercentEncode(text); }

class SpecConformanceTest : public ApiTest {
 protected:
  std::string Send(const std::string& token, const std::string& room, const std::string& txn,
                   boost::json::object content = {{"msgtype", "m.text"}, {"body", "hi"}}) {
    ApiResponse r = Put(RoomPath(room, "/send/m.room.message/" + txn), content, token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json.contains("event_id") ? std::string(r.json.at("event_id").as_string()) : "";
  }
  void SetTopic(const std::string& token, const std::string& room, const std::string& topic) {
    ApiResponse r = Put(RoomPath(room, "/state/m.room.topic/"), {{"topic", topic}}, token);
    EXPECT_EQ(r.status, 200) << r.body;
  }
  void Join(const std::string& token, const std::string& room) {
    ApiResponse r = Post(RoomPath(room, "/join"), {}, token);
    EXPECT_EQ(r.status, 200) << r.body;
  }
  void Leave(const std::string& token, const std::string& room) {
    ApiResponse r = Post(RoomPath(room, "/leave"), {}, token);
    EXPECT_EQ(r.status, 200) << r.body;
  }
  ApiResponse Sync(const std::string& token, const std::string& query = "") {
    ApiResponse r = Get("/_matrix/client/v3/sync?timeout=0" + query, token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r;
  }
  // The state_keys of `type` events in a JSON array of events.
  static std::set<std::string> StateKeys(const boost::json::value& events, std::string_view type) {
    std::set<std::string> out;
    for (const auto& e : events.as_array()) {
      if (e.at("type").as_string() == type) out.emplace(e.at("state_key").as_string());
    }
    return out;
  }
  static std::string Topic(const boost::json::value& events) {
    for (const auto& e : events.as_array()) {
      if (e.at("type").as_string() == "m.room.topic") {
        return std::string(e.at("content").at("topic").as_string());
      }
    }
    return "";
  }

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
  EXPECT_EQ(messages.json.at("chunk").as_array().at(0).at("type").as_string(),
            std::string(255, 't'));
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

// rooms.yaml, GET /rooms/{roomId}/state, /state/{type}/{key} and /members: "If the user has
// left the room then the state returned is the state of the room when they left."
TEST_F(SpecConformanceTest, AFormerMemberSeesTheStateAtTheirLeave) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string carol = Register("carol");
  const std::string room = CreateRoom(alice, {{"preset", "public_chat"}});
  SetTopic(alice, room, "before");
  Join(bob, room);
  Leave(bob, room);
  SetTopic(alice, room, "after");
  Join(carol, room);

  ApiResponse state = Get(RoomPath(room, "/state"), bob);
  ASSERT_EQ(state.status, 200) << state.body;
  const boost::json::value events = boost::json::parse(state.body);
  EXPECT_EQ(Topic(events), "before") << state.body;
  EXPECT_EQ(StateKeys(events, "m.room.member"),
            (std::set<std::string>{"@alice:example.org", "@bob:example.org"}));
  EXPECT_EQ(Get(RoomPath(room, "/state/m.room.topic/"), bob).json.at("topic"), "before");
  ApiResponse members = Get(RoomPath(room, "/members"), bob);
  ASSERT_EQ(members.status, 200) << members.body;
  EXPECT_EQ(StateKeys(members.json.at("chunk"), "m.room.member"),
            (std::set<std::string>{"@alice:example.org", "@bob:example.org"}));
  // Members see the current state.
  EXPECT_EQ(Get(RoomPath(room, "/state/m.room.topic/"), alice).json.at("topic"), "after");
}

// rooms.yaml, GET /members: `at` ("The point in time (pagination token) to return members for
// in the room") lists the members as they were at a sync's or /messages' token.
TEST_F(SpecConformanceTest, MembersAtATokenAreTheMembersThen) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string carol = Register("carol");
  const std::string room = CreateRoom(alice, {{"preset", "public_chat"}});
  Join(bob, room);
  const std::string then = std::string(Sync(alice).json.at("next_batch").as_string());
  Leave(bob, room);
  Join(carol, room);

  ApiResponse past = Get(RoomPath(room, "/members?at=" + Encode(then)), alice);
  ASSERT_EQ(past.status, 200) << past.body;
  EXPECT_EQ(StateKeys(past.json.at("chunk"), "m.room.member"),
            (std::set<std::string>{"@alice:example.org", "@bob:example.org"}));
  ApiResponse joined_then =
      Get(RoomPath(room, "/members?membership=join&at=" + Encode(then)), alice);
  EXPECT_EQ(StateKeys(joined_then.json.at("chunk"), "m.room.member"),
            (std::set<std::string>{"@alice:example.org", "@bob:example.org"}));
  ApiResponse now = Get(RoomPath(room, "/members?membership=join"), alice);
  EXPECT_EQ(StateKeys(now.json.at("chunk"), "m.room.member"),
            (std::set<std::string>{"@alice:example.org", "@carol:example.org"}));
  // A former member asking for a later token still sees the state at their leave.
  const std::string later = std::string(Sync(alice).json.at("next_batch").as_string());
  ApiResponse bob_view = Get(RoomPath(room, "/members?at=" + Encode(later)), bob);
  ASSERT_EQ(bob_view.status, 200) << bob_view.body;
  EXPECT_EQ(StateKeys(bob_view.json.at("chunk"), "m.room.member").count("@carol:example.org"), 0u);

  ApiResponse bad = Get(RoomPath(room, "/members?at=nonsense"), alice);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json.at("errcode"), "M_INVALID_PARAM") << bad.body;
}

// rooms.yaml, GET /members: "When specified alongside `not_membership`, the two parameters
// create an 'or' condition: either the membership *is* the same as `membership` **or** *is
// not* the same as `not_membership`." Values outside the enum are refused.
TEST_F(SpecConformanceTest, MembershipAndNotMembershipAreAnOr) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string carol = Register("carol");
  const std::string room = CreateRoom(alice, {{"preset", "public_chat"}});
  Join(bob, room);
  Leave(bob, room);
  ApiResponse invite = Post(RoomPath(room, "/invite"), {{"user_id", "@carol:example.org"}}, alice);
  ASSERT_EQ(invite.status, 200) << invite.body;

  // join, or not leave: alice (join) and carol (invite), not bob (leave).
  ApiResponse either = Get(RoomPath(room, "/members?membership=join&not_membership=leave"), alice);
  ASSERT_EQ(either.status, 200) << either.body;
  EXPECT_EQ(StateKeys(either.json.at("chunk"), "m.room.member"),
            (std::set<std::string>{"@alice:example.org", "@carol:example.org"}));
  // leave, or not join: bob and carol.
  ApiResponse other = Get(RoomPath(room, "/members?membership=leave&not_membership=join"), alice);
  EXPECT_EQ(StateKeys(other.json.at("chunk"), "m.room.member"),
            (std::set<std::string>{"@bob:example.org", "@carol:example.org"}));
  ApiResponse not_join = Get(RoomPath(room, "/members?not_membership=join"), alice);
  EXPECT_EQ(StateKeys(not_join.json.at("chunk"), "m.room.member"),
            (std::set<std::string>{"@bob:example.org", "@carol:example.org"}));

  ApiResponse bad = Get(RoomPath(room, "/members?membership=joined"), alice);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json.at("errcode"), "M_INVALID_PARAM") << bad.body;
}

// users.yaml, POST /user_directory/search: the users who share a room with the searcher or are
// joined to a public or world-readable room; not every account on the server.
TEST_F(SpecConformanceTest, UserDirectoryShowsUsersSharingARoomOrInPublicRooms) {
  const std::string alice = Register("dir_alice");
  const std::string bob = Register("dir_bob");
  const std::string carol = Register("dir_carol");
  const std::string dave = Register("dir_dave");
  const std::string erin = Register("dir_erin");
  const std::string secret = CreateRoom(alice, {{"preset", "private_chat"}});
  ApiResponse invite =
      Post(RoomPath(secret, "/invite"), {{"user_id", "@dir_bob:example.org"}}, alice);
  ASSERT_EQ(invite.status, 200) << invite.body;
  Join(bob, secret);
  CreateRoom(carol, {{"preset", "public_chat"}});
  CreateRoom(dave, {{"preset", "private_chat"}});  // dave shares nothing and is in no open room
  const std::string readable = CreateRoom(erin, {{"preset", "private_chat"}});
  ApiResponse hv = Put(RoomPath(readable, "/state/m.room.history_visibility/"),
                       {{"history_visibility", "world_readable"}}, erin);
  ASSERT_EQ(hv.status, 200) << hv.body;

  auto ids = [](const ApiResponse& r) {
    std::set<std::string> out;
    for (const auto& u : r.json.at("results").as_array()) out.emplace(u.at("user_id").as_string());
    return out;
  };
  ApiResponse all =
      Post("/_matrix/client/v3/user_directory/search", {{"search_term", "dir_"}}, alice);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(ids(all), (std::set<std::string>{"@dir_alice:example.org", "@dir_bob:example.org",
                                             "@dir_carol:example.org", "@dir_erin:example.org"}));
  EXPECT_EQ(all.json.at("limited"), false);
  // dave sees the users of open rooms, and himself (his own room), but not alice's private room.
  ApiResponse daves =
      Post("/_matrix/client/v3/user_directory/search", {{"search_term", "dir_"}}, dave);
  EXPECT_EQ(ids(daves), (std::set<std::string>{"@dir_carol:example.org", "@dir_dave:example.org",
                                               "@dir_erin:example.org"}));
  ApiResponse one = Post("/_matrix/client/v3/user_directory/search",
                         {{"search_term", "dir_"}, {"limit", 1}}, alice);
  EXPECT_EQ(one.json.at("results").as_array().size(), 1u) << one.body;
  EXPECT_EQ(one.json.at("limited"), true);
}

// event_context.yaml, `state`: "The state of the room at the last event returned"; with
// lazy_load_members, only the members of the returned events' senders.
TEST_F(SpecConformanceTest, ContextStateIsTheStateAtItsLastEvent) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string room = CreateRoom(alice, {{"preset", "public_chat"}});
  Join(bob, room);
  SetTopic(alice, room, "one");
  const std::string event_id = Send(alice, room, "m1");
  SetTopic(alice, room, "two");

  ApiResponse at = Get(RoomPath(room, "/context/" + event_id + "?limit=0"), alice);
  ASSERT_EQ(at.status, 200) << at.body;
  EXPECT_EQ(Topic(at.json.at("state")), "one") << at.body;
  ApiResponse after = Get(RoomPath(room, "/context/" + event_id + "?limit=4"), alice);
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(Topic(after.json.at("state")), "two") << after.body;

  EXPECT_EQ(StateKeys(at.json.at("state"), "m.room.member"),
            (std::set<std::string>{"@alice:example.org", "@bob:example.org"}));
  const std::string lazy = Encode(R"({"lazy_load_members":true})");
  ApiResponse lazy_at =
      Get(RoomPath(room, "/context/" + event_id + "?limit=0&filter=" + lazy), bob);
  ASSERT_EQ(lazy_at.status, 200) << lazy_at.body;
  // Alice sent the event; bob asks (his own member event is always there).
  EXPECT_EQ(StateKeys(lazy_at.json.at("state"), "m.room.member"),
            (std::set<std::string>{"@alice:example.org", "@bob:example.org"}));
  const std::string carol = Register("carol");
  Join(carol, room);
  ApiResponse lazy_carol =
      Get(RoomPath(room, "/context/" + event_id + "?limit=0&filter=" + lazy), carol);
  ASSERT_EQ(lazy_carol.status, 200) << lazy_carol.body;
  EXPECT_EQ(StateKeys(lazy_carol.json.at("state"), "m.room.member"),
            (std::set<std::string>{"@alice:example.org"}));
}

// sync.yaml, LeftRoom `state`: a room joined and left between two syncs comes with its state.
TEST_F(SpecConformanceTest, ALeaveInTheSameBatchAsTheJoinCarriesTheRoomState) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string room = CreateRoom(alice, {{"preset", "public_chat"}});
  SetTopic(alice, room, "topic");
  const std::string since(Sync(bob).json.at("next_batch").as_string());
  Join(bob, room);
  Send(alice, room, "m1");
  Leave(bob, room);

  ApiResponse sync = Sync(bob, "&since=" + since);
  const auto& left = sync.json.at("rooms").at("leave").at(room);
  const auto& state = left.at("state").at("events");
  EXPECT_EQ(Topic(state), "topic") << left;
  EXPECT_EQ(StateKeys(state, "m.room.create"), (std::set<std::string>{""})) << left;
  // Bob's own join and leave are in the timeline, not repeated in the state.
  EXPECT_FALSE(StateKeys(state, "m.room.member").contains("@bob:example.org")) << left;
}

// "Lazy-loading room members": a gapped (limited) incremental sync carries the member events of
// the timeline's senders, even those that changed before `since`.
TEST_F(SpecConformanceTest, ALimitedLazySyncCarriesTheSendersMembers) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string room = CreateRoom(alice, {{"preset", "public_chat"}});
  Join(bob, room);
  const std::string filter =
      Encode(R"({"room":{"timeline":{"limit":3},"state":{"lazy_load_members":true}}})");
  const std::string since(Sync(alice, "&filter=" + filter).json.at("next_batch").as_string());
  for (int i = 0; i < 6; ++i) Send(bob, room, "b" + std::to_string(i));

  ApiResponse sync = Sync(alice, "&filter=" + filter + "&since=" + since);
  const auto& joined = sync.json.at("rooms").at("join").at(room);
  EXPECT_TRUE(joined.at("timeline").at("limited").as_bool()) << joined;
  EXPECT_TRUE(
      StateKeys(joined.at("state").at("events"), "m.room.member").contains("@bob:example.org"))
      << joined;
}

// "Presence": users who share a room get each other's presence; a user one starts sharing a room
// with comes with their presence even if it did not change, and changes show whether the room
// has news or not.
TEST_F(SpecConformanceTest, PresenceOfNewlySharedAndQuietRoomMembers) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  ASSERT_EQ(Put("/_matrix/client/v3/presence/@alice:example.org/status",
                {{"presence", "online"}, {"status_msg", "hi"}}, alice)
                .status,
            200);
  auto presence_of = [](const ApiResponse& sync, const std::string& user) -> std::string {
    const auto* presence = sync.json.if_contains("presence");
    if (presence == nullptr) return "";
    for (const auto& e : presence->at("events").as_array()) {
      if (e.at("sender").as_string() == user) {
        return std::string(e.at("content").at("presence").as_string());
      }
    }
    return "";
  };
  const std::string since(Sync(bob, "&set_presence=offline").json.at("next_batch").as_string());
  const std::string room = CreateRoom(alice, {{"preset", "public_chat"}});
  Join(bob, room);
  ApiResponse joined = Sync(bob, "&set_presence=offline&since=" + since);
  EXPECT_EQ(presence_of(joined, "@alice:example.org"), "online") << joined.body;

  const std::string quiet(joined.json.at("next_batch").as_string());
  ASSERT_EQ(Put("/_matrix/client/v3/presence/@alice:example.org/status",
                {{"presence", "unavailable"}}, alice)
                .status,
            200);
  ApiResponse changed = Sync(bob, "&set_presence=offline&since=" + quiet);
  EXPECT_EQ(presence_of(changed, "@alice:example.org"), "unavailable") << changed.body;
}

// "Presence": a change is news for those who share a room with the user, so it wakes their
// long-polling syncs (the notifier key a waiting /sync parks on moves), not only the user's own;
// a user who shares no room is not woken.
TEST_F(SpecConformanceTest, PresenceChangesWakeRoomMembersSyncs) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string carol = Register("carol");
  const std::string room = CreateRoom(alice, {{"preset", "public_chat"}});
  Join(bob, room);
  core::Notifier& notifier = server_->notifier();
  const uint64_t bob_before = notifier.Version("@bob:example.org");
  const uint64_t carol_before = notifier.Version("@carol:example.org");
  ASSERT_EQ(Put("/_matrix/client/v3/presence/@alice:example.org/status",
                {{"presence", "unavailable"}, {"status_msg", "away"}}, alice)
                .status,
            200);
  EXPECT_GT(notifier.Version("@bob:example.org"), bob_before);
  EXPECT_EQ(notifier.Version("@carol:example.org"), carol_before);
  // The same presence again is no change and wakes no one.
  const uint64_t bob_after = notifier.Version("@bob:example.org");
  ASSERT_EQ(Put("/_matrix/client/v3/presence/@alice:example.org/status",
                {{"presence", "unavailable"}, {"status_msg", "away"}}, alice)
                .status,
            200);
  EXPECT_EQ(notifier.Version("@bob:example.org"), bob_after);
}

// "Room History Visibility": which events a member sees depends on the visibility and their
// membership when each was sent.
class HistoryVisibilityTest : public SpecConformanceTest {
 protected:
  // The bodies of the m.room.message events `token` gets from /messages (oldest first), from
  // /sync's initial timeline, and whether /event finds each of `event_ids`.
  std::vector<std::string> MessageBodies(const std::string& token, const std::string& room) {
    ApiResponse r = Get(RoomPath(room, "/messages?dir=f&limit=100"), token);
    EXPECT_EQ(r.status, 200) << r.body;
    return Bodies(r.json.contains("chunk") ? r.json.at("chunk") : boost::json::array());
  }
  std::vector<std::string> SyncBodies(const std::string& token, const std::string& room) {
    ApiResponse r = Sync(token);
    const auto* join = r.json.at("rooms").as_object().if_contains("join");
    if (join == nullptr || !join->as_object().contains(room)) return {};
    return Bodies(join->at(room).at("timeline").at("events"));
  }
  static std::vector<std::string> Bodies(const boost::json::value& events) {
    std::vector<std::string> out;
    for (const auto& e : events.as_array()) {
      if (e.at("type").as_string() == "m.room.message") {
        out.emplace_back(e.at("content").at("body").as_string());
      }
    }
    return out;
  }
  void SetVisibility(const std::string& token, const std::string& room, const char* value) {
    ApiResponse r = Put(RoomPath(room, "/state/m.room.history_visibility/"),
                        {{"history_visibility", value}}, token);
    EXPECT_EQ(r.status, 200) << r.body;
  }
  std::string Say(const std::string& token, const std::string& room, const std::string& body) {
    return Send(token, room, body, {{"msgtype", "m.text"}, {"body", body}});
  }
};

TEST_F(HistoryVisibilityTest, JoinedHidesWhatCameBeforeTheJoin) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string room = CreateRoom(
      alice, {{"preset", "public_chat"},
              {"initial_state",
               boost::json::array{boost::json::object{
                   {"type", "m.room.history_visibility"},
                   {"content", boost::json::object{{"history_visibility", "joined"}}}}}}});
  const std::string before = Say(alice, room, "before");
  Join(bob, room);
  const std::string after = Say(alice, room, "after");

  EXPECT_EQ(MessageBodies(bob, room), std::vector<std::string>{"after"});
  EXPECT_EQ(SyncBodies(bob, room), std::vector<std::string>{"after"});
  EXPECT_EQ(Get(RoomPath(room, "/event/" + before), bob).status, 404);
  EXPECT_EQ(Get(RoomPath(room, "/event/" + after), bob).status, 200);
  ApiResponse context = Get(RoomPath(room, "/context/" + after + "?limit=10"), bob);
  ASSERT_EQ(context.status, 200) << context.body;
  EXPECT_TRUE(Bodies(context.json.at("events_before")).empty()) << context.body;
  // The sender sees it all.
  EXPECT_EQ(MessageBodies(alice, room), (std::vector<std::string>{"before", "after"}));
}

TEST_F(HistoryVisibilityTest, InvitedShowsWhatCameSinceTheInvite) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string room = CreateRoom(alice);
  SetVisibility(alice, room, "invited");
  Say(alice, room, "m1");
  ASSERT_EQ(Post(RoomPath(room, "/invite"), {{"user_id", "@bob:example.org"}}, alice).status, 200);
  Say(alice, room, "m2");
  Join(bob, room);
  Say(alice, room, "m3");
  EXPECT_EQ(MessageBodies(bob, room), (std::vector<std::string>{"m2", "m3"}));
}

TEST_F(HistoryVisibilityTest, SharedShowsEverythingAndAChangeAppliesFromThenOn) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string carol = Register("carol");
  const std::string room = CreateRoom(alice, {{"preset", "public_chat"}});
  Say(alice, room, "shared1");
  Join(bob, room);  // default shared: bob sees what came before he joined
  EXPECT_EQ(MessageBodies(bob, room), std::vector<std::string>{"shared1"});
  SetVisibility(alice, room, "joined");
  Say(alice, room, "joined1");
  Join(carol, room);
  Say(alice, room, "joined2");
  // Carol joined after both: shared1 was sent under `shared`, joined1 under `joined` before her.
  EXPECT_EQ(MessageBodies(carol, room), (std::vector<std::string>{"shared1", "joined2"}));
  EXPECT_EQ(MessageBodies(bob, room), (std::vector<std::string>{"shared1", "joined1", "joined2"}));
}

TEST_F(HistoryVisibilityTest, AFormerMemberSeesUpToTheirLeaveAndWorldReadableIsOpen) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string carol = Register("carol");
  const std::string room = CreateRoom(alice, {{"preset", "public_chat"}});
  Say(alice, room, "early");
  Join(bob, room);
  Say(alice, room, "while");
  Leave(bob, room);
  Say(alice, room, "late");
  EXPECT_EQ(MessageBodies(bob, room), (std::vector<std::string>{"early", "while"}));
  // A non-member reads nothing, until the room is world_readable; then what is sent from then on
  // ("All events while this is the m.room.history_visibility value"), not what came before.
  EXPECT_EQ(Get(RoomPath(room, "/messages?dir=f"), carol).status, 403);
  SetVisibility(alice, room, "world_readable");
  Say(alice, room, "open");
  EXPECT_EQ(MessageBodies(carol, room), std::vector<std::string>{"open"});
}

}  // namespace
}  // namespace conclave::api::test_util
