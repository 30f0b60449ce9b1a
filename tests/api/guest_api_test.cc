// Guest access through the api's handlers (Client-Server API "Guest access" module,
// registration.yaml `kind=guest`): the allow_guest_access option, the guest endpoint list, joins
// only where m.room.guest_access is can_join, and the upgrade to a full account.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "api_harness.h"
#include "conclave/core/options.h"
#include "conclave/matrix_http/guest_access.h"

namespace conclave::api::test_util {
namespace {

using boost::json::array;
using boost::json::object;

constexpr char kGuestRegister[] = "/_matrix/client/v3/register?kind=guest";

class GuestApiTest : public ApiTest {
 protected:
  // Turns allow_guest_access on as a SIGHUP would.
  void AllowGuests() {
    core::RawConfig raw;
    raw.SetText("allow_guest_access", "true");
    auto plan = server_->sections().Reload(raw);
    ASSERT_TRUE(plan.ok()) << plan.status();
  }
  static std::string Text(const ApiResponse& r, const char* key) {
    const auto* v = r.json.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : "";
  }
  // POST /register upgrading the guest of `guest_token` to `localpart` with `password`.
  ApiResponse Upgrade(const std::string& localpart, const std::string& password,
                      const std::string& guest_token) {
    return Post("/_matrix/client/v3/register", {{"username", localpart},
                                                {"password", password},
                                                {"guest_access_token", guest_token},
                                                {"auth", object{{"type", "m.login.dummy"}}}});
  }
  // A room `owner` creates, with m.room.guest_access `guest_access` when not empty.
  std::string CreateRoom(const std::string& owner, const std::string& guest_access) {
    object body{{"preset", "public_chat"}};
    if (!guest_access.empty()) {
      body["initial_state"] = array{object{{"type", "m.room.guest_access"},
                                           {"state_key", ""},
                                           {"content", object{{"guest_access", guest_access}}}}};
    }
    ApiResponse r = Post("/_matrix/client/v3/createRoom", body, owner);
    EXPECT_EQ(r.status, 200) << r.body;
    return Text(r, "room_id");
  }
};

TEST_F(GuestApiTest, GuestRegistrationIsOffByDefault) {
  ApiResponse refused = Post(kGuestRegister, object{});
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(refused.errcode(), service::Errcode::kGuestAccessForbidden);
  ApiResponse bad_kind = Post("/_matrix/client/v3/register?kind=robot", object{});
  EXPECT_EQ(bad_kind.status, 400);
  EXPECT_EQ(bad_kind.errcode(), service::Errcode::kInvalidParam);
}

TEST_F(GuestApiTest, AGuestReachesOnlyTheGuestEndpoints) {
  AllowGuests();
  ApiResponse guest = Post(kGuestRegister, object{});
  ASSERT_EQ(guest.status, 200) << guest.body;
  const std::string token = Text(guest, "access_token");
  ASSERT_FALSE(token.empty());

  ApiResponse whoami = Get("/_matrix/client/v3/account/whoami", token);
  ASSERT_EQ(whoami.status, 200) << whoami.body;
  EXPECT_EQ(whoami.json.at("is_guest").as_bool(), true);
  EXPECT_EQ(whoami.json.at("user_id").as_string(), guest.json.at("user_id").as_string());
  EXPECT_EQ(Get("/_matrix/client/v3/sync?timeout=0", token).status, 200);
  EXPECT_EQ(Get("/_matrix/client/v3/devices", token).status, 200);

  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/_matrix/client/v3/createRoom"},
           {"GET", "/_matrix/client/v3/joined_rooms"},
           {"GET", "/_matrix/client/v3/capabilities"},
           {"POST", "/_matrix/client/v3/user_directory/search"},
       }) {
    object empty;
    ApiResponse r = Call(method, target, &empty, token);
    EXPECT_EQ(r.status, 403) << method << " " << target << ": " << r.body;
    EXPECT_EQ(r.errcode(), service::Errcode::kGuestAccessForbidden) << target;
  }
  const std::string me(guest.json.at("user_id").as_string());
  EXPECT_EQ(Put("/_matrix/client/v3/profile/" + me + "/displayname", {{"displayname", "G"}}, token)
                .status,
            200);
  ApiResponse avatar = Put("/_matrix/client/v3/profile/" + me + "/avatar_url",
                           {{"avatar_url", "mxc://example.org/x"}}, token);
  EXPECT_EQ(avatar.status, 403) << avatar.body;
  EXPECT_EQ(avatar.errcode(), service::Errcode::kGuestAccessForbidden);
  // Guests have no password: no password login.
  ApiResponse login = Post("/_matrix/client/v3/login",
                           {{"type", "m.login.password"}, {"user", me}, {"password", ""}});
  EXPECT_EQ(login.status, 403) << login.body;
}

TEST_F(GuestApiTest, GuestsJoinOnlyRoomsWhoseGuestAccessIsCanJoin) {
  AllowGuests();
  const std::string alice = Register("alice");
  const std::string open = CreateRoom(alice, "can_join");
  const std::string closed = CreateRoom(alice, "forbidden");
  const std::string plain = CreateRoom(alice, "");
  ApiResponse guest = Post(kGuestRegister, object{});
  ASSERT_EQ(guest.status, 200) << guest.body;
  const std::string token = Text(guest, "access_token");

  ApiResponse joined = Post("/_matrix/client/v3/rooms/" + open + "/join", object{}, token);
  EXPECT_EQ(joined.status, 200) << joined.body;
  ApiResponse sent = Put("/_matrix/client/v3/rooms/" + open + "/send/m.room.message/t1",
                         {{"msgtype", "m.text"}, {"body", "hi"}}, token);
  EXPECT_EQ(sent.status, 200) << sent.body;
  for (const std::string& room : {closed, plain}) {
    ApiResponse refused = Post("/_matrix/client/v3/rooms/" + room + "/join", object{}, token);
    EXPECT_EQ(refused.status, 403) << refused.body;
    EXPECT_EQ(refused.errcode(), service::Errcode::kGuestAccessForbidden);
  }
  // A full user joins the room a guest may not.
  const std::string bob = Register("bob");
  EXPECT_EQ(Post("/_matrix/client/v3/rooms/" + closed + "/join", object{}, bob).status, 200);
}

TEST_F(GuestApiTest, AGuestUpgradesToAFullAccountKeepingItsUserId) {
  AllowGuests();
  Register("alice");  // the first account (the admin) is not the guest
  ApiResponse guest = Post(kGuestRegister, object{});
  ASSERT_EQ(guest.status, 200) << guest.body;
  const std::string guest_token = Text(guest, "access_token");
  const std::string user_id(guest.json.at("user_id").as_string());
  const std::string localpart = user_id.substr(1, user_id.find(':') - 1);

  ApiResponse wrong_name = Upgrade("somebody", "pw", guest_token);
  EXPECT_EQ(wrong_name.status, 403) << wrong_name.body;
  EXPECT_EQ(wrong_name.errcode(), service::Errcode::kForbidden);

  ApiResponse upgraded = Upgrade(localpart, "pw", guest_token);
  ASSERT_EQ(upgraded.status, 200) << upgraded.body;
  EXPECT_EQ(upgraded.json.at("user_id").as_string(), user_id);
  const std::string full = Text(upgraded, "access_token");
  EXPECT_EQ(Get("/_matrix/client/v3/account/whoami", full).json.at("is_guest").as_bool(), false);
  // The old guest token now acts as the full account's too.
  ApiResponse old = Get("/_matrix/client/v3/account/whoami", guest_token);
  ASSERT_EQ(old.status, 200) << old.body;
  EXPECT_EQ(old.json.at("is_guest").as_bool(), false);
  EXPECT_EQ(Get("/_matrix/client/v3/joined_rooms", full).status, 200);
  // And it logs in with its password.
  ApiResponse login = Post("/_matrix/client/v3/login",
                           {{"type", "m.login.password"}, {"user", localpart}, {"password", "pw"}});
  EXPECT_EQ(login.status, 200) << login.body;

  // A full account's token cannot be "upgraded".
  ApiResponse again = Upgrade(localpart, "pw2", full);
  EXPECT_EQ(again.status, 403) << again.body;
}

TEST_F(GuestApiTest, GuestsLeaveWhenGuestAccessStopsBeingCanJoin) {
  AllowGuests();
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string room = CreateRoom(alice, "can_join");
  ApiResponse guest = Post(kGuestRegister, object{});
  ASSERT_EQ(guest.status, 200) << guest.body;
  const std::string token = Text(guest, "access_token");
  const std::string guest_id = Text(guest, "user_id");
  ASSERT_EQ(Post("/_matrix/client/v3/rooms/" + room + "/join", object{}, token).status, 200);
  ASSERT_EQ(Post("/_matrix/client/v3/rooms/" + room + "/join", object{}, bob).status, 200);
  const std::string state = "/_matrix/client/v3/rooms/" + room + "/state/";
  auto membership = [&](const std::string& user) {
    ApiResponse r = Get(state + "m.room.member/" + user, alice);
    EXPECT_EQ(r.status, 200) << r.body;
    return Text(r, "membership");
  };

  // Setting it to can_join again changes nothing.
  ASSERT_EQ(Put(state + "m.room.guest_access", {{"guest_access", "can_join"}}, alice).status, 200);
  EXPECT_EQ(membership(guest_id), "join");

  // "If the m.room.guest_access event is changed to stop this from being the case, the server
  // MUST set those users' m.room.member state to leave."
  ApiResponse changed = Put(state + "m.room.guest_access", {{"guest_access", "forbidden"}}, alice);
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(membership(guest_id), "leave");
  EXPECT_EQ(membership("@bob:example.org"), "join");
  // It cannot come back.
  ApiResponse refused = Post("/_matrix/client/v3/rooms/" + room + "/join", object{}, token);
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(refused.errcode(), service::Errcode::kGuestAccessForbidden);
}

TEST_F(GuestApiTest, RedactingTheGuestAccessEventMakesGuestsLeave) {
  AllowGuests();
  const std::string alice = Register("alice");
  const std::string room = CreateRoom(alice, "");
  const std::string state = "/_matrix/client/v3/rooms/" + room + "/state/";
  ApiResponse opened = Put(state + "m.room.guest_access", {{"guest_access", "can_join"}}, alice);
  ASSERT_EQ(opened.status, 200) << opened.body;
  ApiResponse guest = Post(kGuestRegister, object{});
  ASSERT_EQ(guest.status, 200) << guest.body;
  const std::string guest_id = Text(guest, "user_id");
  ASSERT_EQ(
      Post("/_matrix/client/v3/rooms/" + room + "/join", object{}, Text(guest, "access_token"))
          .status,
      200);
  ApiResponse redacted =
      Put("/_matrix/client/v3/rooms/" + room + "/redact/" + Text(opened, "event_id") + "/r1",
          object{}, alice);
  ASSERT_EQ(redacted.status, 200) << redacted.body;
  ApiResponse member = Get(state + "m.room.member/" + guest_id, alice);
  ASSERT_EQ(member.status, 200) << member.body;
  EXPECT_EQ(Text(member, "membership"), "leave");
}

TEST_F(GuestApiTest, AGuestReadsTheOldSyncAndRoomInitialSync) {
  AllowGuests();
  const std::string alice = Register("alice");
  const std::string room = CreateRoom(alice, "can_join");
  ApiResponse guest = Post(kGuestRegister, object{});
  ASSERT_EQ(guest.status, 200) << guest.body;
  const std::string token = Text(guest, "access_token");
  ASSERT_EQ(Post("/_matrix/client/v3/rooms/" + room + "/join", object{}, token).status, 200);
  ApiResponse initial = Get("/_matrix/client/v3/rooms/" + room + "/initialSync", token);
  EXPECT_EQ(initial.status, 200) << initial.body;
  ApiResponse events = Get("/_matrix/client/v3/events?timeout=0", token);
  EXPECT_EQ(events.status, 200) << events.body;
  ApiResponse messages = Get("/_matrix/client/v3/rooms/" + room + "/messages?dir=b", token);
  EXPECT_EQ(messages.status, 200) << messages.body;
  // Leaving is allowed; logging out is not in the list.
  EXPECT_EQ(Post("/_matrix/client/v3/rooms/" + room + "/leave", object{}, token).status, 200);
  ApiResponse logout = Post("/_matrix/client/v3/logout", object{}, token);
  EXPECT_EQ(logout.status, 403) << logout.body;
  EXPECT_EQ(logout.errcode(), service::Errcode::kGuestAccessForbidden);
}

// The list itself, as the api and media modules register their routes.
TEST(GuestAccessOf, FollowsTheModulesEndpointList) {
  using matrix_http::GuestAccess;
  using matrix_http::GuestAccessOf;
  EXPECT_EQ(GuestAccessOf("GET", "/_matrix/client/v3/sync"), GuestAccess::kYes);
  EXPECT_EQ(GuestAccessOf("GET", "/_matrix/client/r0/sync"), GuestAccess::kYes);
  EXPECT_EQ(GuestAccessOf("POST", "/_matrix/client/v3/sync"), GuestAccess::kNo);
  EXPECT_EQ(GuestAccessOf("POST", "/_matrix/client/v3/createRoom"), GuestAccess::kNo);
  EXPECT_EQ(GuestAccessOf("POST", "/_matrix/client/v3/join/{roomIdOrAlias}"), GuestAccess::kNo);
  EXPECT_EQ(GuestAccessOf("PUT", "/_matrix/client/v3/profile/{userId}/{keyName}"),
            GuestAccess::kDisplayNameOnly);
  EXPECT_EQ(GuestAccessOf("DELETE", "/_matrix/client/v3/profile/{userId}/{keyName}"),
            GuestAccess::kDisplayNameOnly);
  // Media: downloads and thumbnails, not uploads, the config or URL previews.
  EXPECT_EQ(GuestAccessOf("GET", "/_matrix/client/v1/media/download/{serverName}/{mediaId}"),
            GuestAccess::kYes);
  EXPECT_EQ(
      GuestAccessOf("GET", "/_matrix/client/v1/media/download/{serverName}/{mediaId}/{fileName}"),
      GuestAccess::kYes);
  EXPECT_EQ(GuestAccessOf("GET", "/_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}"),
            GuestAccess::kYes);
  EXPECT_EQ(GuestAccessOf("POST", "/_matrix/media/v3/upload"), GuestAccess::kNo);
  EXPECT_EQ(GuestAccessOf("POST", "/_matrix/media/v1/create"), GuestAccess::kNo);
  EXPECT_EQ(GuestAccessOf("GET", "/_matrix/client/v1/media/config"), GuestAccess::kNo);
  EXPECT_EQ(GuestAccessOf("GET", "/_matrix/client/v1/media/preview_url"), GuestAccess::kNo);
}

TEST(CheckGuestAccess, RefusesGuestsOnlyAndLetsThemSetTheirDisplayName) {
  using matrix_http::CheckGuestAccess;
  using matrix_http::GuestAccess;
  core::Request request;
  service::Session user{"@u:example.org", "D", false};
  service::Session guest{"@g:example.org", "D", true};
  EXPECT_TRUE(CheckGuestAccess(user, GuestAccess::kNo, request).ok());
  EXPECT_TRUE(CheckGuestAccess(guest, GuestAccess::kYes, request).ok());
  absl::Status refused = CheckGuestAccess(guest, GuestAccess::kNo, request);
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(service::ErrcodeOf(refused), service::Errcode::kGuestAccessForbidden);
  request.path_params["keyName"] = "avatar_url";
  EXPECT_FALSE(CheckGuestAccess(guest, GuestAccess::kDisplayNameOnly, request).ok());
  request.path_params["keyName"] = "displayname";
  EXPECT_TRUE(CheckGuestAccess(guest, GuestAccess::kDisplayNameOnly, request).ok());
}

}  // namespace
}  // namespace conclave::api::test_util
