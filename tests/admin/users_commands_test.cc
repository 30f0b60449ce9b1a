// `users` commands against a real Homeserver.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <limits>

#include "absl/time/clock.h"
#include "admin_fixture.h"
#include "conclave/database/write_batch.h"
#include "conclave/service/admin_room/admin_room.h"
#include "conclave/service/e2ee/backup.h"
#include "conclave/service/e2ee/e2ee.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/signing.h"
#include "conclave/service/storage/schema.h"
#include "format.h"

namespace conclave::admin {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

class UsersCommandsTest : public test_util::AdminTest {
 protected:
  // The password printed on the line starting with `label`.
  static std::string PrintedPassword(const std::string& out, const std::string& label) {
    size_t at = out.find(label);
    if (at == std::string::npos) return "";
    at += label.size();
    return out.substr(at, out.find('\n', at) - at);
  }
  bool CanLogIn(const std::string& user, const std::string& password) {
    return hs_->accounts().LoginWithPassword(user, password, std::nullopt, std::nullopt, "ip").ok();
  }
};

TEST_F(UsersCommandsTest, CreateUserWithAGeneratedPassword) {
  std::string out = Ok("users create-user alice");
  EXPECT_THAT(out, StartsWith("created @alice:example.org by @root:example.org\npassword: "));
  std::string password = PrintedPassword(out, "password: ");
  EXPECT_THAT(password, MatchesRegex("[A-Za-z0-9]{24}"));
  EXPECT_TRUE(CanLogIn("alice", password));
  EXPECT_FALSE(hs_->accounts().IsAdmin("@alice:example.org"));
}

TEST_F(UsersCommandsTest, CreateUserWithAPasswordOrAFullId) {
  EXPECT_EQ(Ok("users create-user bob hunter2"), "created @bob:example.org by @root:example.org\n");
  EXPECT_TRUE(CanLogIn("bob", "hunter2"));
  EXPECT_EQ(Ok("users create-user @carol:example.org pw", ""),
            "created @carol:example.org from the command line\n");
  absl::Status taken = Err("users create-user bob");
  EXPECT_EQ(service::ErrcodeOf(taken), service::Errcode::kUserInUse);
  EXPECT_EQ(service::ErrcodeOf(Err("users create-user Bad!Name")),
            service::Errcode::kInvalidUsername);
}

TEST_F(UsersCommandsTest, ListUsers) {
  Register("alice");
  ASSERT_TRUE(hs_->accounts().SetDisplayName("@alice:example.org", "Alice A.").ok());
  Register("bob");
  ASSERT_TRUE(hs_->accounts().Deactivate("@bob:example.org").ok());
  std::string out = Ok("users list-users");
  EXPECT_THAT(out, MatchesRegex("(.|\n)*@alice:example.org +Alice A\\.(.|\n)*"));
  EXPECT_THAT(out, MatchesRegex("(.|\n)*@bob:example.org +deactivated\n(.|\n)*"));
  // The admin bot exists from the start and is an admin.
  EXPECT_THAT(out, MatchesRegex("(.|\n)*@conclave:example.org +[a-z]* +admin\n(.|\n)*"));
  auto html = Run("users list-users");
  ASSERT_TRUE(html.ok());
  EXPECT_THAT(html->html, HasSubstr("<td>@alice:example.org</td><td>Alice A.</td>"));
}

TEST_F(UsersCommandsTest, ResetPassword) {
  Register("alice");
  EXPECT_EQ(Ok("users reset-password alice n3w"),
            "reset the password of @alice:example.org by @root:example.org; every device of "
            "theirs is logged out\n");
  EXPECT_TRUE(CanLogIn("alice", "n3w"));
  EXPECT_FALSE(CanLogIn("alice", "pw"));
  std::string out = Ok("users reset-password @alice:example.org");
  std::string password = PrintedPassword(out, "new password: ");
  EXPECT_EQ(password.size(), 24u);
  EXPECT_TRUE(CanLogIn("alice", password));
  EXPECT_EQ(Err("users reset-password nobody").code(), absl::StatusCode::kNotFound);
}

TEST_F(UsersCommandsTest, DeactivateLeavesRoomsAndSaysWhoDidIt) {
  service::Session alice = Register("alice");
  service::Session bob = Register("bob");
  std::string room = CreateRoom(alice, "Lobby");
  ASSERT_TRUE(hs_->rooms().Join(bob, room, std::nullopt).ok());
  std::string out = Ok("users deactivate bob");
  EXPECT_EQ(out,
            "deactivated @bob:example.org by @root:example.org: every device logged out, "
            "profile cleared, left 1 room:\n  " +
                room + "\n");
  EXPECT_TRUE(hs_->accounts().IsDeactivated("@bob:example.org"));
  EXPECT_EQ(Membership("@bob:example.org", room), "leave");
  EXPECT_EQ(Err("users deactivate bob").code(), absl::StatusCode::kFailedPrecondition);
  absl::Status bot = Err("users deactivate conclave");
  EXPECT_THAT(std::string(bot.message()), HasSubstr("admin bot"));
}

TEST_F(UsersCommandsTest, MakeUserAdminInvitesToTheAdminRoom) {
  Register("alice");
  Register("bob");
  EXPECT_THAT(Ok("users make-user-admin bob"),
              StartsWith("made @bob:example.org a server admin by @root:example.org\n"
                         "invited to the admin room !"));
  EXPECT_TRUE(hs_->accounts().IsAdmin("@bob:example.org"));
  EXPECT_EQ(Membership("@bob:example.org", hs_->admin_room().room_id()), "invite");
  EXPECT_THAT(Ok("users make-user-admin bob"), StartsWith("@bob:example.org is an admin already"));
}

TEST_F(UsersCommandsTest, JoinedRoomsForceJoinAndForceLeave) {
  service::Session alice = Register("alice");
  Register("bob");
  std::string room = CreateRoom(alice, "Lobby", "lobby");
  EXPECT_EQ(Ok("users list-joined-rooms bob"), "@bob:example.org is joined to 0 rooms\n(none)\n");

  EXPECT_EQ(Ok("users force-join-room bob #lobby:example.org"),
            "@bob:example.org joined " + room +
                " (#lobby:example.org, \"Lobby\"), by @root:example.org\n");
  EXPECT_EQ(Membership("@bob:example.org", room), "join");
  std::string list = Ok("users list-joined-rooms @bob:example.org");
  EXPECT_THAT(list, HasSubstr("is joined to 1 room"));
  EXPECT_TRUE(test_util::HasRow(list, {room, "#lobby:example.org", "Lobby", "2"})) << list;

  EXPECT_THAT(Ok("users force-leave-room bob " + room), StartsWith("@bob:example.org left "));
  EXPECT_EQ(Membership("@bob:example.org", room), "leave");

  EXPECT_EQ(Err("users force-join-room bob #nowhere:example.org").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Err("users force-join-room bob not-a-room").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Err("users force-join-room nobody " + room).code(), absl::StatusCode::kNotFound);
}

TEST_F(UsersCommandsTest, ListDeviceKeysShowsKeysCountsAndBacklog) {
  service::Session alice = Register("alice");
  service::Session bob = Register("bob");
  auto pair = service::Ed25519FromSeed(service::RandomBytes(32));
  ASSERT_TRUE(pair.ok());
  const std::string ed25519 = service::UnpaddedBase64(pair->public_key);
  boost::json::object keys{{"user_id", alice.user_id},
                           {"device_id", alice.device_id},
                           {"algorithms", boost::json::array{"m.olm.v1.curve25519-aes-sha2"}},
                           {"keys", boost::json::object{{"ed25519:" + alice.device_id, ed25519}}}};
  ASSERT_TRUE(
      service::SignJson(keys, alice.user_id, "ed25519:" + alice.device_id, pair->seed).ok());
  boost::json::object one_time_keys;
  for (const char* id : {"signed_curve25519:A", "signed_curve25519:B"}) {
    boost::json::object key{{"key", "k"}};
    ASSERT_TRUE(
        service::SignJson(key, alice.user_id, "ed25519:" + alice.device_id, pair->seed).ok());
    one_time_keys[id] = std::move(key);
  }
  service::KeysUploadRequest upload{.device_keys = keys};
  for (const auto& [id, key] : one_time_keys) upload.one_time_keys.emplace(std::string(id), key);
  auto uploaded = hs_->e2ee().Upload(alice, upload);
  ASSERT_TRUE(uploaded.ok()) << uploaded.status();
  ASSERT_TRUE(
      hs_->e2ee()
          .SendToDevice(bob, "m.test", "t1",
                        {{alice.user_id, boost::json::object{{"*", boost::json::object()}}}})
          .ok());

  std::string list = Ok("users list-device-keys alice");
  EXPECT_THAT(list, HasSubstr("@alice:example.org has 1 device, 1 with device keys; 1 to-device "
                              "message pending"));
  EXPECT_TRUE(test_util::HasRow(list, {alice.device_id, ed25519, "signed_curve25519 2", "-", "1"}))
      << list;
  std::string bobs = Ok("users list-device-keys bob");
  EXPECT_TRUE(test_util::HasRow(bobs, {bob.device_id, "-", "signed_curve25519 0", "-", "0"}))
      << bobs;
  EXPECT_EQ(Err("users list-device-keys nobody").code(), absl::StatusCode::kNotFound);
}

TEST_F(UsersCommandsTest, ListKeyBackupsShowsVersionsAndKeyCounts) {
  service::Session alice = Register("alice");
  service::KeyBackup& backup = hs_->key_backup();
  const service::BackupVersionRequest request{.algorithm = service::kMegolmBackupV1};
  ASSERT_TRUE(backup.CreateVersion(alice.user_id, request).ok());
  ASSERT_TRUE(backup.CreateVersion(alice.user_id, request).ok());
  service::BackedUpKeys keys;
  keys["!r:example.org"]["s1"] = service::BackedUpKey{};
  keys["!r:example.org"]["s2"] = service::BackedUpKey{};
  auto put = backup.PutKeys(alice.user_id, "2", keys);
  ASSERT_TRUE(put.ok()) << put.status();

  std::string list = Ok("users list-key-backups alice");
  EXPECT_THAT(list, HasSubstr("@alice:example.org has 2 key backups holding 2 room keys")) << list;
  EXPECT_TRUE(test_util::HasRow(list, {"1", service::kMegolmBackupV1, "0", "0", "-"})) << list;
  EXPECT_TRUE(test_util::HasRow(list, {"2", service::kMegolmBackupV1, "2", put->etag, "yes"}))
      << list;
  Register("bob");
  EXPECT_THAT(Ok("users list-key-backups bob"), HasSubstr("has 0 key backups holding 0 room keys"));
  EXPECT_EQ(Err("users list-key-backups nobody").code(), absl::StatusCode::kNotFound);
}

TEST_F(UsersCommandsTest, ToDeviceBacklogServerWideAndPerUserWithTheOldestsAge) {
  service::Session alice = Register("alice");
  service::Session bob = Register("bob");
  service::Session carol = Register("carol");
  for (const char* txn : {"t1", "t2"}) {
    ASSERT_TRUE(
        hs_->e2ee()
            .SendToDevice(bob, "m.test", txn,
                          {{alice.user_id, boost::json::object{{"*", boost::json::object()}}}})
            .ok());
  }
  // A message for carol stored two hours (and 30 s, so the age stays "2h" for a slow test) ago.
  auto map = hs_->store().db->OpenMap(service::schema::kToDeviceMap);
  ASSERT_TRUE(map.ok());
  const int64_t stored_ms = absl::ToUnixMillis(absl::Now() - absl::Hours(2) - absl::Seconds(30));
  database::WriteBatch batch;
  batch.Put(**map, service::schema::ToDeviceKey(carol.user_id, carol.device_id, 1),
            boost::json::serialize(boost::json::object{{"sender", bob.user_id},
                                                       {"type", "m.test"},
                                                       {"content", boost::json::object()},
                                                       {"ts", stored_ms}}));
  ASSERT_TRUE(hs_->store().db->Write(batch).ok());

  std::string all = Ok("users to-device-backlog");
  EXPECT_THAT(all, StartsWith("3 to-device messages pending for 2 devices of 2 users; the oldest "
                              "is 2h old\n"));
  // The device with the most pending first.
  EXPECT_LT(all.find(alice.user_id), all.find(carol.user_id)) << all;
  EXPECT_TRUE(test_util::HasRow(all, {alice.user_id, alice.device_id, "2"})) << all;
  EXPECT_THAT(all, HasSubstr("<1m")) << all;
  EXPECT_TRUE(
      test_util::HasRow(all, {carol.user_id, carol.device_id, "1", FormatUtcMs(stored_ms), "2h"}))
      << all;

  std::string alices = Ok("users to-device-backlog alice");
  EXPECT_THAT(alices, StartsWith("@alice:example.org: 2 to-device messages pending for 1 device "
                                 "of 1 user; the oldest is <1m old\n"));
  EXPECT_EQ(alices.find(carol.user_id), std::string::npos) << alices;
  EXPECT_THAT(Ok("users to-device-backlog bob"),
              StartsWith("@bob:example.org: 0 to-device messages pending for 0 devices of 0 "
                         "users\n"));
  EXPECT_EQ(Err("users to-device-backlog nobody").code(), absl::StatusCode::kNotFound);

  // alice's sync acknowledges hers: only carol's is left.
  ASSERT_TRUE(hs_->e2ee()
                  .ToDeviceForSync(alice.user_id, alice.device_id,
                                   std::numeric_limits<uint64_t>::max() - 1,
                                   std::numeric_limits<uint64_t>::max())
                  .ok());
  EXPECT_THAT(Ok("users to-device-backlog"),
              StartsWith("1 to-device message pending for 1 device of 1 user; the oldest is 2h "
                         "old\n"));
}

}  // namespace
}  // namespace conclave::admin
