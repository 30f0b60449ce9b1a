// The membership routes (joins-v1.yaml make_join, joins-v2.yaml send_join, leaving-v1/v2.yaml,
// invites-v2.yaml) through the router: remote.example builds events from this server's
// templates, hashes and signs them with its own key, and sends them; local clients see the
// result in /sync. Errors are the spec's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "conclave/core/percent.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/federation/request_auth.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/event_hash.h"
#include "conclave/service/protocol/room_versions.h"
#include "conclave/service/protocol/signing.h"
#include "federation_fixture.h"

namespace conclave::federation {
namespace {

using api::test_util::ApiResponse;
using boost::json::array;
using boost::json::object;
using ::testing::HasSubstr;

constexpr char kV1[] = "/_matrix/federation/v1";
constexpr char kV2[] = "/_matrix/federation/v2";
constexpr char kBob[] = "@bob:remote.example";

class FederationMembershipTest : public test_util::RemoteServerTest {
 protected:
  void SetUp() override {
    RemoteServerTest::SetUp();
    token_ = Register("alice");
  }

  // Creates a room of `version` with `preset` (and a name unless `name` is empty).
  std::string CreateRoom(std::string_view version, std::string_view preset,
                         std::string_view name = "Hall") {
    object body{{"room_version", version}, {"preset", preset}};
    if (!name.empty()) body["name"] = name;
    ApiResponse room = Post("/_matrix/client/v3/createRoom", body, token_);
    EXPECT_EQ(room.status, 200) << room.body;
    return std::string(room.json.at("room_id").as_string());
  }

  // PUT `target` with `body`, signed by remote.example (or `key`).
  ApiResponse SignedPut(const std::string& target, const object& body,
                        const service::ServerSigningKey* key = nullptr) {
    boost::json::value value = body;
    auto auth = service::SignRequest(key ? *key : remote_, "remote.example", "example.org", "PUT",
                                     target, &value);
    EXPECT_TRUE(auth.ok());
    return FederationTest::Dispatch("PUT", target, boost::json::serialize(value), *auth);
  }

  // The event of a make_join/make_leave template, hashed and signed by remote.example (or
  // `key`), and its id.
  std::pair<object, std::string> Sign(object event, const service::RoomVersion& version,
                                      const service::ServerSigningKey* key = nullptr) {
    EXPECT_TRUE(service::AddContentHash(event).ok());
    EXPECT_TRUE(service::SignEvent(event, version, "remote.example", key ? *key : remote_).ok());
    auto id = service::EventId(event, version);
    EXPECT_TRUE(id.ok()) << id.status();
    return {std::move(event), *id};
  }

  // make_join for `user` and the signed event built from it.
  std::pair<object, std::string> JoinEvent(const std::string& room, std::string_view version,
                                           const std::string& user = kBob) {
    ApiResponse made = Signed(core::StrCat(kV1, "/make_join/", core::PercentEncode(room), "/",
                                           core::PercentEncode(user), "?ver=", version));
    EXPECT_EQ(made.status, 200) << made.body;
    return Sign(made.json.at("event").as_object(), *service::FindRoomVersion(version));
  }

  ApiResponse SendJoin(const std::string& room, const std::pair<object, std::string>& join,
                       std::string_view query = "") {
    return SignedPut(core::StrCat(kV2, "/send_join/", core::PercentEncode(room), "/",
                                  core::PercentEncode(join.second), query),
                     join.first);
  }

  // The timeline events of `room` in alice's /sync since `since` (initial when empty).
  array SyncTimeline(const std::string& room, const std::string& since = "") {
    ApiResponse sync = Get(
        core::StrCat("/_matrix/client/v3/sync?timeout=0", since.empty() ? "" : "&since=" + since),
        token_);
    EXPECT_EQ(sync.status, 200) << sync.body;
    const auto* join = sync.json.at("rooms").as_object().if_contains("join");
    if (join == nullptr || !join->as_object().contains(room)) return {};
    return join->as_object().at(room).at("timeline").at("events").as_array();
  }

  // The membership of `user` in the m.room.member events of `events` (the last), or "".
  static std::string MembershipIn(const array& events, std::string_view user) {
    std::string membership;
    for (const auto& e : events) {
      const object& event = e.as_object();
      if (event.at("type") == "m.room.member" && event.at("state_key").as_string() == user) {
        membership = std::string(event.at("content").at("membership").as_string());
      }
    }
    return membership;
  }

  std::string token_;
};

TEST_F(FederationMembershipTest, MakeJoinOffersTheTemplate) {
  const std::string room = CreateRoom("10", "public_chat");
  ApiResponse made = Signed(core::StrCat(kV1, "/make_join/", core::PercentEncode(room), "/",
                                         core::PercentEncode(kBob), "?ver=9&ver=10"));
  ASSERT_EQ(made.status, 200) << made.body;
  EXPECT_EQ(made.json.at("room_version"), "10");
  const object& event = made.json.at("event").as_object();
  EXPECT_EQ(event.at("type"), "m.room.member");
  EXPECT_EQ(event.at("room_id").as_string(), room);
  EXPECT_EQ(event.at("sender"), kBob);
  EXPECT_EQ(event.at("state_key"), kBob);
  EXPECT_EQ(event.at("content").at("membership"), "join");
  EXPECT_EQ(event.at("origin"), "remote.example");
  EXPECT_TRUE(event.at("origin_server_ts").is_int64());
  EXPECT_FALSE(event.contains("hashes"));
  EXPECT_FALSE(event.contains("signatures"));
  EXPECT_FALSE(event.contains("event_id"));
  // prev_events: the room's newest event; auth_events: create, power levels, join rules.
  ApiResponse messages = Get(core::StrCat("/_matrix/client/v3/rooms/", core::PercentEncode(room),
                                          "/messages?dir=b&limit=1"),
                             token_);
  ASSERT_EQ(messages.status, 200);
  const object& newest = messages.json.at("chunk").as_array()[0].as_object();
  EXPECT_EQ(event.at("prev_events"), (array{newest.at("event_id")}));
  // The room's events so far: create, alice's join, power levels, join rules, history
  // visibility, name (and the guest access of public_chat when any); the join comes next.
  EXPECT_GT(event.at("depth").as_int64(), 5);
  EXPECT_EQ(event.at("auth_events").as_array().size(), 3u);
}

TEST_F(FederationMembershipTest, MakeJoinErrors) {
  const std::string room = CreateRoom("10", "public_chat");
  const std::string path =
      core::StrCat(kV1, "/make_join/", core::PercentEncode(room), "/", core::PercentEncode(kBob));
  for (const std::string query : {"?ver=9", ""}) {
    ApiResponse old = Signed(path + query);
    EXPECT_EQ(old.status, 400) << old.body;
    EXPECT_EQ(old.json.at("errcode"), "M_INCOMPATIBLE_ROOM_VERSION");
    EXPECT_EQ(old.json.at("room_version"), "10");
  }
  const std::string private_room = CreateRoom("10", "private_chat");
  ApiResponse closed = Signed(core::StrCat(kV1, "/make_join/", core::PercentEncode(private_room),
                                           "/", core::PercentEncode(kBob), "?ver=10"));
  EXPECT_EQ(closed.status, 403) << closed.body;
  EXPECT_EQ(closed.json.at("errcode"), "M_FORBIDDEN");
  ApiResponse unknown = Signed(
      core::StrCat(kV1, "/make_join/!nope:example.org/", core::PercentEncode(kBob), "?ver=10"));
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(unknown.json.at("errcode"), "M_NOT_FOUND");
  ApiResponse other = Signed(
      core::StrCat(kV1, "/make_join/", core::PercentEncode(room), "/@eve:stranger.example?ver=10"));
  EXPECT_EQ(other.status, 403) << other.body;
  EXPECT_EQ(other.json.at("errcode"), "M_FORBIDDEN");
  ApiResponse unsigned_request = Dispatch(path + "?ver=10", "");
  EXPECT_EQ(unsigned_request.status, 401);
}

TEST_F(FederationMembershipTest, SendJoinCommitsTheJoinAndAnswersStateAndAuthChain) {
  for (std::string_view version : {"1", "3", "10", "11", "12"}) {
    SCOPED_TRACE(core::StrCat("room version ", version));
    const std::string room = CreateRoom(version, "public_chat");
    const std::string before_join = std::string(
        Get("/_matrix/client/v3/sync?timeout=0", token_).json.at("next_batch").as_string());
    auto join = JoinEvent(room, version);
    ApiResponse sent = SendJoin(room, join);
    ASSERT_EQ(sent.status, 200) << sent.body;
    EXPECT_EQ(sent.json.at("origin"), "example.org");
    EXPECT_EQ(sent.json.at("members_omitted"), false);
    const object& event = sent.json.at("event").as_object();
    EXPECT_TRUE(event.at("signatures").as_object().contains("remote.example"));
    EXPECT_FALSE(event.contains("unsigned"));
    // The state before the join: create, alice's join, power levels, join rules, name...
    bool has_create = false, has_alice = false, has_bob = false;
    for (const auto& e : sent.json.at("state").as_array()) {
      const object& state_event = e.as_object();
      has_create = has_create || state_event.at("type") == "m.room.create";
      if (state_event.at("type") == "m.room.member") {
        has_alice = has_alice || state_event.at("state_key") == "@alice:example.org";
        has_bob = has_bob || state_event.at("state_key") == kBob;
      }
    }
    EXPECT_TRUE(has_create);
    EXPECT_TRUE(has_alice);
    EXPECT_FALSE(has_bob);
    EXPECT_FALSE(sent.json.at("auth_chain").as_array().empty());
    // Alice sees bob join in /sync, with the id bob's server computed.
    array timeline = SyncTimeline(room, before_join);
    EXPECT_EQ(MembershipIn(timeline, kBob), "join");
    bool found = false;
    for (const auto& e : timeline) found = found || e.at("event_id").as_string() == join.second;
    EXPECT_TRUE(found);
    ApiResponse members =
        Get(core::StrCat("/_matrix/client/v3/rooms/", core::PercentEncode(room), "/joined_members"),
            token_);
    EXPECT_TRUE(members.json.at("joined").as_object().contains(kBob)) << members.body;
    // The room goes on after the remote join: alice can still send.
    ApiResponse text = Put(core::StrCat("/_matrix/client/v3/rooms/", core::PercentEncode(room),
                                        "/send/m.room.message/t1"),
                           {{"msgtype", "m.text"}, {"body", "welcome"}}, token_);
    EXPECT_EQ(text.status, 200) << text.body;
  }
}

TEST_F(FederationMembershipTest, SendJoinWithOmitMembers) {
  const std::string room = CreateRoom("10", "public_chat");
  ApiResponse sent = SendJoin(room, JoinEvent(room, "10"), "?omit_members=true");
  ASSERT_EQ(sent.status, 200) << sent.body;
  EXPECT_EQ(sent.json.at("members_omitted"), true);
  EXPECT_EQ(sent.json.at("servers_in_room"), (array{"example.org"}));
  for (const auto& e : sent.json.at("state").as_array()) {
    EXPECT_NE(e.at("type"), "m.room.member") << boost::json::serialize(e);
  }
}

TEST_F(FederationMembershipTest, SendJoinAfterTheRoomMovedOn) {
  const std::string room = CreateRoom("10", "public_chat");
  auto join = JoinEvent(room, "10");
  ApiResponse text = Put(core::StrCat("/_matrix/client/v3/rooms/", core::PercentEncode(room),
                                      "/send/m.room.message/t1"),
                         {{"msgtype", "m.text"}, {"body", "meanwhile"}}, token_);
  ASSERT_EQ(text.status, 200);
  ApiResponse sent = SendJoin(room, join);
  EXPECT_EQ(sent.status, 200) << sent.body;
}

TEST_F(FederationMembershipTest, RestrictedJoinIsAuthorisedAndSignedByThisServer) {
  const std::string allowed = CreateRoom("10", "public_chat");
  ASSERT_EQ(SendJoin(allowed, JoinEvent(allowed, "10")).status, 200);
  object rules{
      {"type", "m.room.join_rules"},
      {"state_key", ""},
      {"content",
       object{{"join_rule", "restricted"},
              {"allow", array{object{{"type", "m.room_membership"}, {"room_id", allowed}}}}}}};
  ApiResponse created = Post("/_matrix/client/v3/createRoom",
                             {{"room_version", "10"}, {"initial_state", array{rules}}}, token_);
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string room(created.json.at("room_id").as_string());

  // carol is in none of the allow rooms.
  ApiResponse refused = Signed(
      core::StrCat(kV1, "/make_join/", core::PercentEncode(room), "/@carol:remote.example?ver=10"));
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(refused.json.at("errcode"), "M_FORBIDDEN");

  auto join = JoinEvent(room, "10");
  EXPECT_EQ(join.first.at("content").at("join_authorised_via_users_server"), "@alice:example.org");
  ApiResponse sent = SendJoin(room, join);
  ASSERT_EQ(sent.status, 200) << sent.body;
  const object& signatures = sent.json.at("event").at("signatures").as_object();
  EXPECT_TRUE(signatures.contains("remote.example"));
  EXPECT_TRUE(signatures.contains("example.org"));
}

TEST_F(FederationMembershipTest, SendJoinErrors) {
  const std::string room = CreateRoom("10", "public_chat");
  const service::RoomVersion& v10 = *service::FindRoomVersion("10");
  ApiResponse made = Signed(core::StrCat(kV1, "/make_join/", core::PercentEncode(room), "/",
                                         core::PercentEncode(kBob), "?ver=10"));
  ASSERT_EQ(made.status, 200);
  const object& template_event = made.json.at("event").as_object();

  // Signed by a key remote.example does not have.
  service::ServerSigningKey other = service::GenerateSigningKey();
  other.key_id = remote_.key_id;
  auto forged = Sign(template_event, v10, &other);
  ApiResponse bad_signature = SendJoin(room, forged);
  EXPECT_EQ(bad_signature.status, 403) << bad_signature.body;
  EXPECT_EQ(bad_signature.json.at("errcode"), "M_FORBIDDEN");
  EXPECT_THAT(bad_signature.body, HasSubstr("signature"));

  // The path's event id is not the event's.
  auto join = Sign(template_event, v10);
  auto wrong_id = join;
  wrong_id.second = "$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  ApiResponse mismatch = SendJoin(room, wrong_id);
  EXPECT_EQ(mismatch.status, 400) << mismatch.body;
  EXPECT_EQ(mismatch.json.at("errcode"), "M_INVALID_PARAM");

  // A user of another server than the origin.
  object stranger = template_event;
  stranger["sender"] = "@eve:stranger.example";
  stranger["state_key"] = "@eve:stranger.example";
  ApiResponse not_origin = SendJoin(room, Sign(stranger, v10));
  EXPECT_EQ(not_origin.status, 403) << not_origin.body;

  // A leave sent as a join.
  object leave = template_event;
  leave["content"] = object{{"membership", "leave"}};
  ApiResponse wrong_membership = SendJoin(room, Sign(leave, v10));
  EXPECT_EQ(wrong_membership.status, 400) << wrong_membership.body;
  EXPECT_EQ(wrong_membership.json.at("errcode"), "M_BAD_JSON");

  // Unknown room.
  ApiResponse unknown = SendJoin("!nope:example.org", join);
  EXPECT_EQ(unknown.status, 404) << unknown.body;

  // Nothing was committed by these; the real one still goes in.
  ApiResponse sent = SendJoin(room, join);
  EXPECT_EQ(sent.status, 200) << sent.body;
}

TEST_F(FederationMembershipTest, RemoteMemberLeavesWithMakeLeaveAndSendLeave) {
  const std::string room = CreateRoom("10", "public_chat");
  const std::string make_leave =
      core::StrCat(kV1, "/make_leave/", core::PercentEncode(room), "/", core::PercentEncode(kBob));
  ApiResponse not_member = Signed(make_leave);
  EXPECT_EQ(not_member.status, 403) << not_member.body;
  EXPECT_EQ(not_member.json.at("errcode"), "M_FORBIDDEN");

  ASSERT_EQ(SendJoin(room, JoinEvent(room, "10")).status, 200);
  ApiResponse made = Signed(make_leave);
  ASSERT_EQ(made.status, 200) << made.body;
  EXPECT_EQ(made.json.at("room_version"), "10");
  EXPECT_EQ(made.json.at("event").at("content").at("membership"), "leave");
  auto leave = Sign(made.json.at("event").as_object(), *service::FindRoomVersion("10"));
  const std::string send_leave = core::StrCat(kV2, "/send_leave/", core::PercentEncode(room), "/",
                                              core::PercentEncode(leave.second));
  // A join sent to send_leave is refused.
  ApiResponse sent = SignedPut(send_leave, leave.first);
  ASSERT_EQ(sent.status, 200) << sent.body;
  EXPECT_EQ(sent.json, object{});
  ApiResponse members =
      Get(core::StrCat("/_matrix/client/v3/rooms/", core::PercentEncode(room), "/joined_members"),
          token_);
  EXPECT_FALSE(members.json.at("joined").as_object().contains(kBob)) << members.body;
  EXPECT_EQ(MembershipIn(SyncTimeline(room), kBob), "leave");
}

// An invite built by remote.example for a room of its own.
class FederationInviteTest : public FederationMembershipTest {
 protected:
  // A v10 event id (a URL-safe base64 reference hash), of an event this server never saw.
  static std::string RemoteEventId(char c) { return "$" + std::string(43, c); }

  object InviteEvent(std::string_view invitee = "@alice:example.org",
                     std::string_view sender = "@carol:remote.example") {
    return object{{"type", "m.room.member"},
                  {"room_id", kRoom},
                  {"sender", sender},
                  {"state_key", invitee},
                  {"origin", "remote.example"},
                  {"origin_server_ts", 1700000000000},
                  {"depth", 7},
                  {"prev_events", array{RemoteEventId('p')}},
                  {"auth_events", array{RemoteEventId('a'), RemoteEventId('b')}},
                  {"content", object{{"membership", "invite"}, {"displayname", "Alice"}}}};
  }

  ApiResponse SendInvite(const std::pair<object, std::string>& invite,
                         std::string_view version = "10") {
    object body{{"room_version", version},
                {"event", invite.first},
                {"invite_room_state", array{object{{"type", "m.room.name"},
                                                   {"state_key", ""},
                                                   {"sender", "@carol:remote.example"},
                                                   {"content", object{{"name", "Over there"}}}}}}};
    return SignedPut(core::StrCat(kV2, "/invite/", core::PercentEncode(kRoom), "/",
                                  core::PercentEncode(invite.second)),
                     body);
  }

  static constexpr char kRoom[] = "!elsewhere:remote.example";
};

TEST_F(FederationInviteTest, InviteIsSignedAndReachesTheInviteesSync) {
  const std::string since = std::string(
      Get("/_matrix/client/v3/sync?timeout=0", token_).json.at("next_batch").as_string());
  auto invite = Sign(InviteEvent(), *service::FindRoomVersion("10"));
  ApiResponse sent = SendInvite(invite);
  ASSERT_EQ(sent.status, 200) << sent.body;
  const object& signatures = sent.json.at("event").at("signatures").as_object();
  EXPECT_TRUE(signatures.contains("remote.example"));
  EXPECT_TRUE(signatures.contains("example.org"));
  // The answer's signature verifies with this server's key.
  const service::ServerSigningKey& key = service::Instance()->signing_key();
  EXPECT_TRUE(service::VerifyEventSignature(
                  sent.json.at("event").as_object(), *service::FindRoomVersion("10"), "example.org",
                  key.key_id, service::UnpaddedBase64(key.pair.public_key))
                  .ok());

  ApiResponse sync = Get("/_matrix/client/v3/sync?timeout=0&since=" + since, token_);
  ASSERT_EQ(sync.status, 200) << sync.body;
  const auto* invites = sync.json.at("rooms").as_object().if_contains("invite");
  ASSERT_NE(invites, nullptr) << sync.body;
  ASSERT_TRUE(invites->as_object().contains(kRoom)) << sync.body;
  const array& state = invites->at(kRoom).at("invite_state").at("events").as_array();
  bool has_name = false, has_invite = false;
  for (const auto& e : state) {
    has_name = has_name || e.at("type") == "m.room.name";
    has_invite = has_invite ||
                 (e.at("type") == "m.room.member" && e.at("content").at("membership") == "invite");
  }
  EXPECT_TRUE(has_name);
  EXPECT_TRUE(has_invite);
  // Once: the next incremental sync does not repeat it.
  ApiResponse again = Get(core::StrCat("/_matrix/client/v3/sync?timeout=0&since=",
                                       sync.json.at("next_batch").as_string()),
                          token_);
  const auto* later = again.json.at("rooms").as_object().if_contains("invite");
  EXPECT_TRUE(later == nullptr || !later->as_object().contains(kRoom)) << again.body;
}

TEST_F(FederationInviteTest, InviteErrors) {
  const service::RoomVersion& v10 = *service::FindRoomVersion("10");
  ApiResponse unknown_version = SendInvite(Sign(InviteEvent(), v10), "99");
  EXPECT_EQ(unknown_version.status, 400) << unknown_version.body;
  EXPECT_EQ(unknown_version.json.at("errcode"), "M_INCOMPATIBLE_ROOM_VERSION");
  EXPECT_EQ(unknown_version.json.at("room_version"), "99");

  ApiResponse not_ours = SendInvite(Sign(InviteEvent("@dave:remote.example"), v10));
  EXPECT_EQ(not_ours.status, 403) << not_ours.body;
  EXPECT_EQ(not_ours.json.at("errcode"), "M_FORBIDDEN");
  ApiResponse no_user = SendInvite(Sign(InviteEvent("@nobody:example.org"), v10));
  EXPECT_EQ(no_user.status, 403) << no_user.body;
  ApiResponse not_origin =
      SendInvite(Sign(InviteEvent("@alice:example.org", "@eve:stranger.example"), v10));
  EXPECT_EQ(not_origin.status, 403) << not_origin.body;

  service::ServerSigningKey other = service::GenerateSigningKey();
  other.key_id = remote_.key_id;
  ApiResponse forged = SendInvite(Sign(InviteEvent(), v10, &other));
  EXPECT_EQ(forged.status, 403) << forged.body;
  EXPECT_EQ(forged.json.at("errcode"), "M_FORBIDDEN");

  auto wrong_id = Sign(InviteEvent(), v10);
  wrong_id.second = RemoteEventId('z');
  ApiResponse mismatch = SendInvite(wrong_id);
  EXPECT_EQ(mismatch.status, 400) << mismatch.body;
  EXPECT_EQ(mismatch.json.at("errcode"), "M_INVALID_PARAM");
}

}  // namespace
}  // namespace conclave::federation
