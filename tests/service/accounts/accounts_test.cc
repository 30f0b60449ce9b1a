#include "conclave/service/accounts/accounts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <memory>
#include <string>

#include "conclave/core/config.h"
#include "conclave/core/server.h"
#include "conclave/database/database.h"
#include "conclave/database/key.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/errors.h"
#include "service/testing/homeserver_fixture.h"
#include "service/testing/status_matchers.h"

namespace conclave::service {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using test_util::HasErrcode;
using test_util::IsOk;

// Reopen() gives a new Accounts with an empty token cache on the same database, as after a
// restart or a reload of the service module.
class AccountsTest : public test_util::HomeserverTest {
 protected:
  LoginResult Register(const std::string& localpart, const std::string& password = "secret",
                       std::optional<std::string> device_id = std::nullopt) {
    auto result = accounts().Register(localpart, password, std::move(device_id), "phone",
                                      /*inhibit_login=*/false, "10.0.0.1");
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : LoginResult{};
  }

  boost::json::object UserRecord(const std::string& user_id) {
    auto value = db_->Get(*hs_->store().users, user_id);
    EXPECT_TRUE(value.ok()) << value.status();
    if (!value.ok()) return {};
    return boost::json::parse(*value).as_object();
  }
};

TEST_F(AccountsTest, RegisterCreatesAUserWithADeviceAndAWorkingToken) {
  LoginResult alice = Register("alice");
  EXPECT_EQ(alice.user_id, "@alice:example.org");
  EXPECT_EQ(alice.device_id.size(), 10u);
  EXPECT_EQ(alice.access_token.size(), 40u);
  auto session = accounts().Authenticate(alice.access_token);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ(session->user_id, "@alice:example.org");
  EXPECT_EQ(session->device_id, alice.device_id);
  EXPECT_TRUE(accounts().UserExists("@alice:example.org"));
  EXPECT_FALSE(accounts().UserExists("@bob:example.org"));
  auto device = accounts().GetDevice(alice.user_id, alice.device_id);
  ASSERT_TRUE(device.ok()) << device.status();
  EXPECT_EQ(device->display_name, "phone");
  EXPECT_EQ(device->last_seen_ip, "10.0.0.1");
  EXPECT_GT(device->last_seen_ts.value_or(0), 0);
}

TEST_F(AccountsTest, UnknownTokenIsRefused) {
  EXPECT_THAT(accounts().Authenticate("nope"), HasErrcode(Errcode::kUnknownToken));
}

TEST_F(AccountsTest, FirstUserIsAdminAndLaterOnesAreNot) {
  Register("first");
  Register("second");
  boost::json::object first = UserRecord("@first:example.org");
  boost::json::object second = UserRecord("@second:example.org");
  EXPECT_EQ(first["admin"], true);
  EXPECT_EQ(second["admin"], false);
  EXPECT_EQ(first["deactivated"], false);
  ASSERT_TRUE(first["password_hash"].is_string());
  EXPECT_THAT(std::string(first["password_hash"].get_string()), HasSubstr("$argon2id$"));
  EXPECT_TRUE(first["created_ts"].is_int64());
}

TEST_F(AccountsTest, UsernameGrammarIsChecked) {
  EXPECT_THAT(accounts().CheckUsernameAvailable("Alice"), HasErrcode(Errcode::kInvalidUsername));
  EXPECT_THAT(accounts().CheckUsernameAvailable("al ice"), HasErrcode(Errcode::kInvalidUsername));
  EXPECT_THAT(accounts().CheckUsernameAvailable(""), HasErrcode(Errcode::kInvalidUsername));
  // "@" + 243 + ":example.org" is 256 bytes, one more than a user id may have.
  EXPECT_THAT(accounts().CheckUsernameAvailable(std::string(243, 'a')),
              HasErrcode(Errcode::kInvalidUsername));
  EXPECT_THAT(accounts().CheckUsernameAvailable(std::string(242, 'a')), IsOk());
  EXPECT_THAT(accounts().CheckUsernameAvailable("a.b_c=d-e/f+g"), IsOk());
  EXPECT_THAT(accounts().Register("Bad Name", "pw", std::nullopt, std::nullopt, false, ""),
              HasErrcode(Errcode::kInvalidUsername));
}

TEST_F(AccountsTest, UsernameInUseIsRefused) {
  Register("bob");
  EXPECT_THAT(accounts().CheckUsernameAvailable("bob"), HasErrcode(Errcode::kUserInUse));
  auto again = accounts().Register("bob", "other", std::nullopt, std::nullopt, false, "");
  EXPECT_THAT(again, HasErrcode(Errcode::kUserInUse));
}

TEST_F(AccountsTest, RegistrationWithoutUsernameGeneratesALocalpart) {
  auto a = accounts().Register("", "pw", std::nullopt, std::nullopt, false, "");
  auto b = accounts().Register("", "pw", std::nullopt, std::nullopt, false, "");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->user_id, b->user_id);
  EXPECT_THAT(a->user_id, ::testing::MatchesRegex("@[a-z0-9]{12}:example\\.org"));
  EXPECT_TRUE(accounts().UserExists(a->user_id));
}

TEST_F(AccountsTest, InhibitLoginCreatesNoDeviceOrToken) {
  auto result = accounts().Register("quiet", "pw", "DEV", std::nullopt, true, "");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->user_id, "@quiet:example.org");
  EXPECT_TRUE(result->access_token.empty());
  EXPECT_TRUE(result->device_id.empty());
  auto devices = accounts().ListDevices("@quiet:example.org");
  ASSERT_TRUE(devices.ok());
  EXPECT_THAT(*devices, IsEmpty());
  EXPECT_TRUE(accounts().LoginWithPassword("quiet", "pw", std::nullopt, std::nullopt, "").ok());
}

TEST_F(AccountsTest, RegistrationDisabledIsForbidden) {
  core::Config config = DefaultConfig();
  config.raw.SetText("allow_registration", "false");
  Open(config);
  EXPECT_THAT(accounts().Register("carol", "pw", std::nullopt, std::nullopt, false, ""),
              HasErrcode(Errcode::kForbidden));
  EXPECT_FALSE(accounts().UserExists("@carol:example.org"));
}

TEST_F(AccountsTest, LoginWithLocalpartOrUserIdGivesANewDevice) {
  LoginResult registered = Register("alice", "pw");
  auto by_localpart = accounts().LoginWithPassword("alice", "pw", std::nullopt, "laptop", "");
  ASSERT_TRUE(by_localpart.ok()) << by_localpart.status();
  auto by_id =
      accounts().LoginWithPassword("@alice:example.org", "pw", std::nullopt, std::nullopt, "");
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  auto capitalized = accounts().LoginWithPassword("ALICE", "pw", std::nullopt, std::nullopt, "");
  ASSERT_TRUE(capitalized.ok()) << capitalized.status();
  EXPECT_EQ(capitalized->user_id, "@alice:example.org");
  EXPECT_NE(by_localpart->device_id, registered.device_id);
  EXPECT_NE(by_localpart->access_token, by_id->access_token);
  for (const LoginResult& login : {registered, *by_localpart, *by_id}) {
    auto session = accounts().Authenticate(login.access_token);
    ASSERT_TRUE(session.ok());
    EXPECT_EQ(session->device_id, login.device_id);
  }
  auto devices = accounts().ListDevices("@alice:example.org");
  ASSERT_TRUE(devices.ok());
  EXPECT_EQ(devices->size(), 4u);
}

TEST_F(AccountsTest, WrongPasswordAndUnknownUserGetTheSameForbidden) {
  Register("alice", "right");
  auto wrong = accounts().LoginWithPassword("alice", "wrong", std::nullopt, std::nullopt, "");
  auto unknown = accounts().LoginWithPassword("nobody", "right", std::nullopt, std::nullopt, "");
  auto remote =
      accounts().LoginWithPassword("@alice:elsewhere.org", "right", std::nullopt, std::nullopt, "");
  EXPECT_THAT(wrong, HasErrcode(Errcode::kForbidden));
  EXPECT_THAT(unknown, HasErrcode(Errcode::kForbidden));
  EXPECT_THAT(remote, HasErrcode(Errcode::kForbidden));
  EXPECT_EQ(wrong.status().message(), unknown.status().message());
  EXPECT_THAT(accounts().CheckPassword("@alice:example.org", "wrong"),
              HasErrcode(Errcode::kForbidden));
  EXPECT_THAT(accounts().CheckPassword("@alice:example.org", "right"), IsOk());
}

TEST_F(AccountsTest, LoginWithAKnownDeviceIdReplacesItsToken) {
  LoginResult first = Register("alice", "pw", "MYDEVICE");
  EXPECT_EQ(first.device_id, "MYDEVICE");
  ASSERT_TRUE(accounts().Authenticate(first.access_token).ok());  // now cached
  auto second = accounts().LoginWithPassword("alice", "pw", "MYDEVICE", "ignored", "");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->device_id, "MYDEVICE");
  EXPECT_THAT(accounts().Authenticate(first.access_token), HasErrcode(Errcode::kUnknownToken));
  EXPECT_TRUE(accounts().Authenticate(second->access_token).ok());
  auto device = accounts().GetDevice("@alice:example.org", "MYDEVICE");
  ASSERT_TRUE(device.ok());
  EXPECT_EQ(device->display_name, "phone");  // a known device keeps its name
  auto devices = accounts().ListDevices("@alice:example.org");
  ASSERT_TRUE(devices.ok());
  EXPECT_EQ(devices->size(), 1u);
}

TEST_F(AccountsTest, LogoutDeletesTheDeviceAndItsCachedToken) {
  LoginResult alice = Register("alice", "pw");
  auto other = accounts().LoginWithPassword("alice", "pw", std::nullopt, std::nullopt, "");
  ASSERT_TRUE(other.ok());
  auto session = accounts().Authenticate(alice.access_token);
  ASSERT_TRUE(session.ok());
  ASSERT_TRUE(accounts().Logout(*session).ok());
  EXPECT_THAT(accounts().Authenticate(alice.access_token), HasErrcode(Errcode::kUnknownToken));
  EXPECT_THAT(accounts().GetDevice(alice.user_id, alice.device_id), HasErrcode(Errcode::kNotFound));
  EXPECT_TRUE(accounts().Authenticate(other->access_token).ok());
}

TEST_F(AccountsTest, LogoutAllInvalidatesEveryToken) {
  LoginResult alice = Register("alice", "pw");
  auto other = accounts().LoginWithPassword("alice", "pw", std::nullopt, std::nullopt, "");
  LoginResult bob = Register("bob", "pw");
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(accounts().Authenticate(other->access_token).ok());
  ASSERT_TRUE(accounts().LogoutAll("@alice:example.org").ok());
  EXPECT_THAT(accounts().Authenticate(alice.access_token), HasErrcode(Errcode::kUnknownToken));
  EXPECT_THAT(accounts().Authenticate(other->access_token), HasErrcode(Errcode::kUnknownToken));
  EXPECT_TRUE(accounts().Authenticate(bob.access_token).ok());
  auto devices = accounts().ListDevices("@alice:example.org");
  ASSERT_TRUE(devices.ok());
  EXPECT_THAT(*devices, IsEmpty());
}

TEST_F(AccountsTest, DeactivatedUserCannotLogIn) {
  LoginResult alice = Register("alice", "pw");
  ASSERT_TRUE(accounts().SetDisplayName(alice.user_id, "Alice").ok());
  ASSERT_TRUE(accounts().Authenticate(alice.access_token).ok());
  ASSERT_TRUE(accounts().Deactivate(alice.user_id).ok());
  EXPECT_TRUE(accounts().IsDeactivated(alice.user_id));
  EXPECT_THAT(accounts().Authenticate(alice.access_token), HasErrcode(Errcode::kUnknownToken));
  auto login = accounts().LoginWithPassword("alice", "pw", std::nullopt, std::nullopt, "");
  EXPECT_THAT(login, HasErrcode(Errcode::kUserDeactivated));
  // Without the password nothing tells that the account exists.
  EXPECT_THAT(accounts().LoginWithPassword("alice", "guess", std::nullopt, std::nullopt, ""),
              HasErrcode(Errcode::kForbidden));
  auto profile = accounts().GetProfile(alice.user_id);
  ASSERT_TRUE(profile.ok());
  EXPECT_FALSE(profile->displayname.has_value());
  EXPECT_THAT(accounts().CheckUsernameAvailable("alice"), HasErrcode(Errcode::kUserInUse));
  EXPECT_THAT(accounts().ChangePassword(alice.user_id, "new", true, ""),
              HasErrcode(Errcode::kUserDeactivated));
  EXPECT_TRUE(accounts().Deactivate(alice.user_id).ok());  // a retry is harmless
}

TEST_F(AccountsTest, TokensSurviveARestart) {
  LoginResult alice = Register("alice");
  ASSERT_TRUE(accounts().Authenticate(alice.access_token).ok());
  Reopen();
  auto session = accounts().Authenticate(alice.access_token);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ(session->user_id, "@alice:example.org");
  EXPECT_EQ(session->device_id, alice.device_id);
  // A logout after the restart is seen at once, cached or not.
  ASSERT_TRUE(accounts().Logout(*session).ok());
  Reopen();
  EXPECT_THAT(accounts().Authenticate(alice.access_token), HasErrcode(Errcode::kUnknownToken));
}

TEST_F(AccountsTest, OnlyTheTokenDigestIsStored) {
  LoginResult alice = Register("alice");
  std::vector<std::string> keys;
  ASSERT_TRUE(db_->ForEachWithPrefix(*hs_->store().access_tokens, "",
                                     [&](std::string_view key, std::string_view value) {
                                       keys.emplace_back(key);
                                       EXPECT_THAT(std::string(value),
                                                   Not(HasSubstr(alice.access_token)));
                                       return true;
                                     })
                  .ok());
  EXPECT_THAT(keys, ElementsAre(Sha256(alice.access_token)));
  auto raw = db_->Get(*hs_->store().access_tokens, alice.access_token);
  EXPECT_EQ(raw.status().code(), absl::StatusCode::kNotFound);
  // Nor is it anywhere in the device record.
  auto device = db_->Get(
      *hs_->store().devices,
      database::KeyBuilder().AppendString(alice.user_id).AppendString(alice.device_id).Build());
  ASSERT_TRUE(device.ok()) << device.status();
  EXPECT_THAT(*device, Not(HasSubstr(alice.access_token)));
  EXPECT_THAT(*device, HasSubstr(UnpaddedBase64(Sha256(alice.access_token))));
}

TEST_F(AccountsTest, UpdateAndDeleteDevice) {
  LoginResult alice = Register("alice");
  ASSERT_TRUE(accounts().UpdateDevice(alice.user_id, alice.device_id, "renamed").ok());
  auto device = accounts().GetDevice(alice.user_id, alice.device_id);
  ASSERT_TRUE(device.ok());
  EXPECT_EQ(device->display_name, "renamed");
  // No name given: unchanged.
  ASSERT_TRUE(accounts().UpdateDevice(alice.user_id, alice.device_id, std::nullopt).ok());
  EXPECT_EQ(accounts().GetDevice(alice.user_id, alice.device_id)->display_name, "renamed");
  EXPECT_THAT(accounts().UpdateDevice(alice.user_id, "NOSUCH", "x"),
              HasErrcode(Errcode::kNotFound));
  // Another user's device is not found under this user.
  LoginResult bob = Register("bob");
  EXPECT_THAT(accounts().GetDevice(alice.user_id, bob.device_id), HasErrcode(Errcode::kNotFound));

  ASSERT_TRUE(accounts().Authenticate(alice.access_token).ok());
  ASSERT_TRUE(accounts().DeleteDevice(alice.user_id, alice.device_id).ok());
  EXPECT_THAT(accounts().Authenticate(alice.access_token), HasErrcode(Errcode::kUnknownToken));
  EXPECT_THAT(accounts().GetDevice(alice.user_id, alice.device_id), HasErrcode(Errcode::kNotFound));
  EXPECT_TRUE(accounts().DeleteDevice(alice.user_id, alice.device_id).ok());  // already gone
  // Deleting alice's device id under bob's name does nothing to bob.
  EXPECT_TRUE(accounts().DeleteDevice(alice.user_id, bob.device_id).ok());
  EXPECT_TRUE(accounts().Authenticate(bob.access_token).ok());
}

TEST_F(AccountsTest, ChangePasswordKeepsOnlyTheCallersDevice) {
  LoginResult alice = Register("alice", "old");
  auto other = accounts().LoginWithPassword("alice", "old", std::nullopt, std::nullopt, "");
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(accounts().Authenticate(other->access_token).ok());
  ASSERT_TRUE(accounts().ChangePassword(alice.user_id, "new", true, alice.device_id).ok());
  EXPECT_TRUE(accounts().Authenticate(alice.access_token).ok());
  EXPECT_THAT(accounts().Authenticate(other->access_token), HasErrcode(Errcode::kUnknownToken));
  EXPECT_THAT(accounts().LoginWithPassword("alice", "old", std::nullopt, std::nullopt, ""),
              HasErrcode(Errcode::kForbidden));
  auto again = accounts().LoginWithPassword("alice", "new", std::nullopt, std::nullopt, "");
  ASSERT_TRUE(again.ok());
  // logout_devices false: every device stays.
  ASSERT_TRUE(accounts().ChangePassword(alice.user_id, "newer", false, "").ok());
  EXPECT_TRUE(accounts().Authenticate(again->access_token).ok());
  EXPECT_THAT(accounts().ChangePassword(alice.user_id, "", true, ""),
              HasErrcode(Errcode::kInvalidParam));
}

TEST_F(AccountsTest, ProfileRoundTrip) {
  LoginResult alice = Register("alice");
  auto empty = accounts().GetProfile(alice.user_id);
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->displayname.has_value());
  EXPECT_FALSE(empty->avatar_url.has_value());
  ASSERT_TRUE(accounts().SetDisplayName(alice.user_id, "Alice").ok());
  ASSERT_TRUE(accounts().SetAvatarUrl(alice.user_id, "mxc://example.org/abc").ok());
  auto profile = accounts().GetProfile(alice.user_id);
  ASSERT_TRUE(profile.ok());
  EXPECT_EQ(profile->displayname, "Alice");
  EXPECT_EQ(profile->avatar_url, "mxc://example.org/abc");
  ASSERT_TRUE(accounts().SetDisplayName(alice.user_id, std::nullopt).ok());
  EXPECT_FALSE(accounts().GetProfile(alice.user_id)->displayname.has_value());
  // The rest of the record is untouched by profile writes.
  EXPECT_TRUE(accounts().CheckPassword(alice.user_id, "secret").ok());
  EXPECT_THAT(accounts().GetProfile("@nobody:example.org"), HasErrcode(Errcode::kNotFound));
  EXPECT_THAT(accounts().SetDisplayName("@nobody:example.org", "x"),
              HasErrcode(Errcode::kNotFound));
}

TEST_F(AccountsTest, AccountDataRoundTripAndPositions) {
  const std::string alice = "@alice:example.org";
  const uint64_t version_before = server_->notifier().Version(alice);
  ASSERT_TRUE(accounts().SetAccountData(alice, "", "m.direct", {{"a", 1}}).ok());
  const uint64_t first = hs_->stream().current();
  EXPECT_GT(server_->notifier().Version(alice), version_before);
  ASSERT_TRUE(accounts().SetAccountData(alice, "!room:example.org", "m.tag", {{"tags", {}}}).ok());
  ASSERT_TRUE(accounts().SetAccountData("@bob:example.org", "", "m.direct", {{"b", 2}}).ok());

  auto global = accounts().GetAccountData(alice, "", "m.direct");
  ASSERT_TRUE(global.ok());
  ASSERT_TRUE(global->has_value());
  EXPECT_EQ(**global, (boost::json::object{{"a", 1}}));
  auto missing = accounts().GetAccountData(alice, "!room:example.org", "m.direct");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  auto all = accounts().AccountDataSince(alice, 0);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].type, "m.direct");
  EXPECT_EQ((*all)[0].room_id, "");
  EXPECT_EQ((*all)[0].position, first);
  EXPECT_EQ((*all)[1].room_id, "!room:example.org");
  EXPECT_GT((*all)[1].position, first);

  auto later = accounts().AccountDataSince(alice, first);
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->size(), 1u);
  EXPECT_EQ((*later)[0].type, "m.tag");

  // Overwriting moves the entry to a new position; AccountDataSince reports it again.
  ASSERT_TRUE(accounts().SetAccountData(alice, "", "m.direct", {{"a", 3}}).ok());
  const uint64_t rewritten = hs_->stream().current();
  auto after = accounts().AccountDataSince(alice, rewritten - 1);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].content, (boost::json::object{{"a", 3}}));
  EXPECT_EQ((*after)[0].position, rewritten);
  auto none = accounts().AccountDataSince(alice, rewritten);
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
}

TEST_F(AccountsTest, UpdateAccountDataReadsModifiesAndWrites) {
  const std::string alice = "@alice:example.org";
  auto add = [&](const char* tag) {
    return accounts().UpdateAccountData(alice, "!r:example.org", "m.tag",
                                        [&](boost::json::object& content) {
                                          boost::json::value& tags = content["tags"];
                                          if (!tags.is_object()) tags.emplace_object();
                                          tags.get_object()[tag] = boost::json::object();
                                          return absl::OkStatus();
                                        });
  };
  ASSERT_TRUE(add("u.work").ok());
  ASSERT_TRUE(add("u.home").ok());
  auto stored = accounts().GetAccountData(alice, "!r:example.org", "m.tag");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ(**stored,
            (boost::json::object{
                {"tags", {{"u.work", boost::json::object()}, {"u.home", boost::json::object()}}}}));

  const uint64_t position = hs_->stream().current();
  auto failed = accounts().UpdateAccountData(alice, "!r:example.org", "m.tag",
                                             [](boost::json::object& content) {
                                               content.clear();
                                               return InvalidParam("no");
                                             });
  EXPECT_THAT(failed, HasErrcode(Errcode::kInvalidParam));
  EXPECT_EQ(hs_->stream().current(), position);
  EXPECT_TRUE((**accounts().GetAccountData(alice, "!r:example.org", "m.tag")).contains("tags"));
}

TEST_F(AccountsTest, FiltersRoundTrip) {
  const std::string alice = "@alice:example.org";
  boost::json::object filter =
      boost::json::parse(R"({"room":{"timeline":{"limit":10,"types":["m.room.message"]}},)"
                         R"("event_fields":["type","content"],"x.custom":1})")
          .as_object();
  auto id = accounts().CreateFilter(alice, filter);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_FALSE(id->empty());
  EXPECT_NE(id->front(), '{');
  auto stored = accounts().GetFilter(alice, *id);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(*stored, filter);  // as sent, unknown keys included
  auto same = accounts().CreateFilter(alice, filter);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, *id);
  auto other = accounts().CreateFilter(alice, {{"presence", {{"types", {"m.presence"}}}}});
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, *id);

  EXPECT_THAT(accounts().GetFilter("@bob:example.org", *id), HasErrcode(Errcode::kNotFound));
  EXPECT_THAT(accounts().GetFilter(alice, "nosuch"), HasErrcode(Errcode::kNotFound));
  auto bad = accounts().CreateFilter(alice, {{"room", {{"timeline", {{"limit", -1}}}}}});
  EXPECT_THAT(bad, HasErrcode(Errcode::kBadJson));
}

TEST_F(AccountsTest, PresenceIsStoredOnTheStream) {
  LoginResult alice = Register("alice");
  auto initial = accounts().GetPresence(alice.user_id);
  ASSERT_TRUE(initial.ok());
  EXPECT_EQ(initial->presence, "offline");
  EXPECT_THAT(accounts().GetPresence("@nobody:example.org"), HasErrcode(Errcode::kNotFound));

  const uint64_t version = server_->notifier().Version(alice.user_id);
  ASSERT_TRUE(accounts().SetPresence(alice.user_id, "online", "here").ok());
  const uint64_t position = hs_->stream().current();
  EXPECT_GT(server_->notifier().Version(alice.user_id), version);
  auto state = accounts().GetPresence(alice.user_id);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->presence, "online");
  EXPECT_EQ(state->status_msg, "here");
  EXPECT_EQ(state->position, position);
  EXPECT_GT(state->last_active_ts, 0);

  // The same state again (as /sync's set_presence does) neither moves the stream nor wakes.
  const uint64_t version_after = server_->notifier().Version(alice.user_id);
  ASSERT_TRUE(accounts().SetPresence(alice.user_id, "online", "here").ok());
  EXPECT_EQ(hs_->stream().current(), position);
  EXPECT_EQ(server_->notifier().Version(alice.user_id), version_after);

  ASSERT_TRUE(accounts().SetPresence(alice.user_id, "unavailable", std::nullopt).ok());
  EXPECT_GT(hs_->stream().current(), position);
  EXPECT_FALSE(accounts().GetPresence(alice.user_id)->status_msg.has_value());
  EXPECT_THAT(accounts().SetPresence(alice.user_id, "busy", std::nullopt),
              HasErrcode(Errcode::kInvalidParam));
}

TEST_F(AccountsTest, UserDirectorySearch) {
  LoginResult alice = Register("alice");
  LoginResult alicia = Register("alicia");
  LoginResult bob = Register("bob");
  LoginResult gone = Register("alien");
  ASSERT_TRUE(accounts().SetDisplayName(bob.user_id, "Bob ALIbaba").ok());
  ASSERT_TRUE(accounts().SetDisplayName(alicia.user_id, "Alicia").ok());
  ASSERT_TRUE(accounts().SetAvatarUrl(alicia.user_id, "mxc://example.org/a").ok());
  ASSERT_TRUE(accounts().Deactivate(gone.user_id).ok());

  bool limited = true;
  auto results = accounts().SearchUsers("ALI", 10, &limited);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_FALSE(limited);
  std::vector<std::string> ids;
  for (const DirectoryUser& user : *results) ids.push_back(user.user_id);
  // Prefix matches first (with a profile before without), then substring matches; the
  // deactivated @alien is not listed.
  EXPECT_THAT(ids, ElementsAre("@alicia:example.org", "@alice:example.org", "@bob:example.org"));
  EXPECT_EQ((*results)[0].display_name, "Alicia");
  EXPECT_EQ((*results)[0].avatar_url, "mxc://example.org/a");

  auto exact = accounts().SearchUsers("alice", 10, &limited);
  ASSERT_TRUE(exact.ok());
  ASSERT_FALSE(exact->empty());
  EXPECT_EQ((*exact)[0].user_id, "@alice:example.org");

  auto capped = accounts().SearchUsers("ali", 1, &limited);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->size(), 1u);
  EXPECT_TRUE(limited);

  auto none = accounts().SearchUsers("zzz", 10, &limited);
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
  EXPECT_FALSE(limited);
}

TEST_F(AccountsTest, ResolveUserAcceptsLocalpartsAndLocalIdsOnly) {
  Register("alice");
  EXPECT_EQ(accounts().ResolveUser("alice").value_or(""), "@alice:example.org");
  EXPECT_EQ(accounts().ResolveUser("@alice:example.org").value_or(""), "@alice:example.org");
  EXPECT_EQ(accounts().ResolveUser("Alice").value_or(""), "@alice:example.org");
  EXPECT_THAT(accounts().ResolveUser("@alice:elsewhere.org"), HasErrcode(Errcode::kInvalidParam));
  EXPECT_THAT(accounts().ResolveUser("a:b"), HasErrcode(Errcode::kInvalidParam));
  EXPECT_THAT(accounts().ResolveUser(""), HasErrcode(Errcode::kInvalidParam));
}

TEST_F(AccountsTest, ListUsersIsSorted) {
  Register("bob");
  Register("alice");
  auto users = accounts().ListUsers();
  ASSERT_TRUE(users.ok());
  // The admin bot, created when the homeserver opened, is a user too.
  EXPECT_THAT(*users,
              ElementsAre("@alice:example.org", "@bob:example.org", "@conclave:example.org"));
}

// Guest access: accounts flagged as guests, upgraded in place (Client-Server API "Guest access").
TEST_F(AccountsTest, GuestsNeedTheOptionAndUpgradeKeepingTheirUserId) {
  EXPECT_THAT(accounts().RegisterGuest(std::nullopt, "ip").status(),
              HasErrcode(Errcode::kGuestAccessForbidden));
  core::Config config = DefaultConfig();
  config.raw.SetText("allow_guest_access", "true");
  Open(config);
  auto guest = accounts().RegisterGuest(std::string("Guest"), "ip");
  ASSERT_TRUE(guest.ok()) << guest.status();
  auto session = accounts().Authenticate(guest->access_token);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_TRUE(session->is_guest);
  EXPECT_FALSE(accounts().IsAdmin(guest->user_id));
  // The first full account is still the admin.
  LoginResult alice = Register("alice");
  EXPECT_TRUE(accounts().IsAdmin(alice.user_id));
  EXPECT_FALSE(accounts().Authenticate(alice.access_token)->is_guest);

  const std::string localpart = guest->user_id.substr(1, guest->user_id.find(':') - 1);
  EXPECT_THAT(
      accounts()
          .UpgradeGuest(alice.access_token, "alice", "pw", std::nullopt, std::nullopt, false, "ip")
          .status(),
      HasErrcode(Errcode::kForbidden));
  EXPECT_THAT(
      accounts()
          .UpgradeGuest(guest->access_token, "alice", "pw", std::nullopt, std::nullopt, false, "ip")
          .status(),
      HasErrcode(Errcode::kForbidden));
  auto upgraded = accounts().UpgradeGuest(guest->access_token, localpart, "new password",
                                          std::nullopt, std::nullopt, false, "ip");
  ASSERT_TRUE(upgraded.ok()) << upgraded.status();
  EXPECT_EQ(upgraded->user_id, guest->user_id);
  EXPECT_FALSE(accounts().Authenticate(guest->access_token)->is_guest);
  EXPECT_FALSE(accounts().Authenticate(upgraded->access_token)->is_guest);
  EXPECT_THAT(accounts()
                  .LoginWithPassword(localpart, "new password", std::nullopt, std::nullopt, "ip")
                  .status(),
              IsOk());
}

}  // namespace
}  // namespace conclave::service
