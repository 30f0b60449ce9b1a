// Server-side key backups through the Router (key_backup.yaml): every /room_keys endpoint, its
// errors, the keep-the-better-session rules, etags and counts, and what deactivation removes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "conclave/service/e2ee/backup.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/verify.h"
#include "e2ee_harness.h"

namespace conclave::api::test_util {
namespace {

using boost::json::object;
using service::Errcode;

constexpr char kVersionPath[] = "/_matrix/client/v3/room_keys/version";
constexpr char kKeysPath[] = "/_matrix/client/v3/room_keys/keys";
constexpr char kRoom[] = "!room:example.org";
constexpr char kRoomPath[] = "%21room%3Aexample.org";  // kRoom, percent-encoded as clients do
constexpr char kAlgorithm[] = "m.megolm_backup.v1.curve25519-aes-sha2";

object AuthData(const std::string& public_key = "abcdefg") {
  return object{{"public_key", public_key},
                {"signatures", object{{"@alice:example.org", object{{"ed25519:DEV", "sig"}}}}}};
}

// KeyBackupData with a session_data whose ciphertext names `tag`, to tell keys apart.
object KeyData(int64_t first_message_index, int64_t forwarded_count, bool is_verified,
               const std::string& tag = "x") {
  return object{
      {"first_message_index", first_message_index},
      {"forwarded_count", forwarded_count},
      {"is_verified", is_verified},
      {"session_data", object{{"ephemeral", "eph"}, {"ciphertext", tag}, {"mac", "mac"}}}};
}

class RoomKeysTest : public E2eeApiTest {
 protected:
  void SetUp() override {
    E2eeApiTest::SetUp();
    alice_ = RegisterDevice("alice", "ALICEDEV");
  }

  // Creates a backup version for `device` (alice by default); its version string.
  std::string CreateVersion(const TestDevice* device = nullptr) {
    ApiResponse r =
        Post(kVersionPath, {{"algorithm", kAlgorithm}, {"auth_data", AuthData()}}, Token(device));
    EXPECT_EQ(r.status, 200) << r.body;
    const auto* version = r.json.if_contains("version");
    return version != nullptr && version->is_string() ? std::string(version->get_string()) : "";
  }
  std::string Token(const TestDevice* device) const {
    return device != nullptr ? device->token : alice_.token;
  }
  // PUT of one session's key into `version`.
  ApiResponse PutSession(const std::string& version, const std::string& session,
                         const object& data) {
    return Put(std::string(kKeysPath) + "/" + kRoomPath + "/" + session + "?version=" + version,
               data, alice_.token);
  }
  ApiResponse GetSession(const std::string& version, const std::string& session) {
    return Get(std::string(kKeysPath) + "/" + kRoomPath + "/" + session + "?version=" + version,
               alice_.token);
  }
  ApiResponse Delete(const std::string& target, const std::string& token) {
    return Call("DELETE", target, nullptr, token);
  }
  std::string Etag(const std::string& version) {
    ApiResponse r = Get(std::string(kVersionPath) + "/" + version, alice_.token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json.contains("etag") ? std::string(r.json.at("etag").as_string()) : "";
  }

  TestDevice alice_;
};

TEST_F(RoomKeysTest, CreatedVersionComesBackWithExactlyTheSpecFields) {
  ASSERT_EQ(CreateVersion(), "1");
  for (const std::string target : {std::string(kVersionPath), std::string(kVersionPath) + "/1"}) {
    ApiResponse r = Get(target, alice_.token);
    ASSERT_EQ(r.status, 200) << target << ": " << r.body;
    EXPECT_EQ(r.json.size(), 5u) << r.body;
    EXPECT_EQ(r.json.at("algorithm").as_string(), kAlgorithm);
    EXPECT_EQ(r.json.at("auth_data").as_object(), AuthData());
    EXPECT_EQ(r.json.at("count").as_int64(), 0);
    EXPECT_TRUE(r.json.at("etag").is_string());
    EXPECT_EQ(r.json.at("version").as_string(), "1");
  }
}

TEST_F(RoomKeysTest, NoBackupIsNotFound) {
  ApiResponse current = Get(kVersionPath, alice_.token);
  EXPECT_EQ(current.status, 404) << current.body;
  EXPECT_EQ(current.errcode(), Errcode::kNotFound);
  for (const char* version : {"1", "0", "01", "abc", "18446744073709551616"}) {
    ApiResponse r = Get(std::string(kVersionPath) + "/" + version, alice_.token);
    EXPECT_EQ(r.status, 404) << version << ": " << r.body;
    EXPECT_EQ(r.errcode(), Errcode::kNotFound) << version;
  }
  ApiResponse keys = Get(std::string(kKeysPath) + "?version=1", alice_.token);
  EXPECT_EQ(keys.status, 404) << keys.body;
  ApiResponse put = PutSession("1", "s1", KeyData(0, 0, false));
  EXPECT_EQ(put.status, 404) << put.body;
  EXPECT_EQ(put.errcode(), Errcode::kNotFound);
  ApiResponse unauthenticated = Get(kVersionPath);
  EXPECT_EQ(unauthenticated.status, 401);
  EXPECT_EQ(unauthenticated.errcode(), Errcode::kMissingToken);
}

TEST_F(RoomKeysTest, VersionNumbersIncreaseAndAreNeverReused) {
  EXPECT_EQ(CreateVersion(), "1");
  EXPECT_EQ(CreateVersion(), "2");
  EXPECT_EQ(Get(kVersionPath, alice_.token).json.at("version").as_string(), "2");
  ASSERT_EQ(Delete(std::string(kVersionPath) + "/2", alice_.token).status, 200);
  // The older version is current again, and the next one is 3, not 2.
  EXPECT_EQ(Get(kVersionPath, alice_.token).json.at("version").as_string(), "1");
  EXPECT_EQ(CreateVersion(), "3");
  EXPECT_EQ(Get(kVersionPath, alice_.token).json.at("version").as_string(), "3");
}

TEST_F(RoomKeysTest, CreateChecksTheBody) {
  ApiResponse no_algorithm = Post(kVersionPath, {{"auth_data", AuthData()}}, alice_.token);
  EXPECT_EQ(no_algorithm.status, 400);
  EXPECT_EQ(no_algorithm.errcode(), Errcode::kMissingParam);
  ApiResponse no_auth = Post(kVersionPath, {{"algorithm", kAlgorithm}}, alice_.token);
  EXPECT_EQ(no_auth.status, 400);
  EXPECT_EQ(no_auth.errcode(), Errcode::kMissingParam);
  ApiResponse bad_auth =
      Post(kVersionPath, {{"algorithm", kAlgorithm}, {"auth_data", "x"}}, alice_.token);
  EXPECT_EQ(bad_auth.status, 400);
  EXPECT_EQ(bad_auth.errcode(), Errcode::kBadJson);
  ApiResponse bad_algorithm =
      Post(kVersionPath, {{"algorithm", 7}, {"auth_data", AuthData()}}, alice_.token);
  EXPECT_EQ(bad_algorithm.errcode(), Errcode::kBadJson);
  ApiResponse huge = Post(
      kVersionPath,
      {{"algorithm", kAlgorithm}, {"auth_data", object{{"public_key", std::string(20000, 'a')}}}},
      alice_.token);
  EXPECT_EQ(huge.status, 413);
  EXPECT_EQ(huge.errcode(), Errcode::kTooLarge);
  EXPECT_EQ(Get(kVersionPath, alice_.token).status, 404);  // nothing was created
}

TEST_F(RoomKeysTest, UpdateReplacesAuthDataOnly) {
  ASSERT_EQ(CreateVersion(), "1");
  const std::string path = std::string(kVersionPath) + "/1";
  ApiResponse ok =
      Put(path, {{"algorithm", kAlgorithm}, {"auth_data", AuthData("new")}, {"version", "1"}},
          alice_.token);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.json, object());
  EXPECT_EQ(Get(path, alice_.token).json.at("auth_data").as_object(), AuthData("new"));

  ApiResponse other_algorithm =
      Put(path, {{"algorithm", "m.other"}, {"auth_data", AuthData("x")}}, alice_.token);
  EXPECT_EQ(other_algorithm.status, 400);
  EXPECT_EQ(other_algorithm.errcode(), Errcode::kInvalidParam);
  ApiResponse other_version =
      Put(path, {{"algorithm", kAlgorithm}, {"auth_data", AuthData("x")}, {"version", "2"}},
          alice_.token);
  EXPECT_EQ(other_version.status, 400);
  EXPECT_EQ(other_version.errcode(), Errcode::kInvalidParam);
  ApiResponse unknown = Put(std::string(kVersionPath) + "/5",
                            {{"algorithm", kAlgorithm}, {"auth_data", AuthData()}}, alice_.token);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.errcode(), Errcode::kNotFound);
  EXPECT_EQ(Get(path, alice_.token).json.at("auth_data").as_object(), AuthData("new"));
}

TEST_F(RoomKeysTest, KeysAtTheThreeLevelsComeBackInTheirShapes) {
  ASSERT_EQ(CreateVersion(), "1");
  ApiResponse one = PutSession("1", "s1", KeyData(3, 1, true, "one"));
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.json.size(), 2u);
  EXPECT_EQ(one.json.at("count").as_int64(), 1);
  EXPECT_TRUE(one.json.at("etag").is_string());
  ApiResponse room = Put(std::string(kKeysPath) + "/" + kRoomPath + "?version=1",
                         {{"sessions", object{{"s2", KeyData(0, 0, false, "two")}}}}, alice_.token);
  ASSERT_EQ(room.status, 200) << room.body;
  EXPECT_EQ(room.json.at("count").as_int64(), 2);
  ApiResponse all = Put(
      std::string(kKeysPath) + "?version=1",
      {{"rooms", object{{"!other:example.org",
                         object{{"sessions", object{{"s3", KeyData(5, 0, false, "three")}}}}}}}},
      alice_.token);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.json.at("count").as_int64(), 3);

  ApiResponse session = GetSession("1", "s1");
  ASSERT_EQ(session.status, 200) << session.body;
  EXPECT_EQ(session.json, KeyData(3, 1, true, "one"));  // exactly the four fields
  ApiResponse room_keys =
      Get(std::string(kKeysPath) + "/" + kRoomPath + "?version=1", alice_.token);
  ASSERT_EQ(room_keys.status, 200) << room_keys.body;
  EXPECT_EQ(room_keys.json, (object{{"sessions", object{{"s1", KeyData(3, 1, true, "one")},
                                                        {"s2", KeyData(0, 0, false, "two")}}}}));
  ApiResponse everything = Get(std::string(kKeysPath) + "?version=1", alice_.token);
  ASSERT_EQ(everything.status, 200) << everything.body;
  EXPECT_EQ(
      everything.json,
      (object{{"rooms",
               object{{kRoom, room_keys.json},
                      {"!other:example.org",
                       object{{"sessions", object{{"s3", KeyData(5, 0, false, "three")}}}}}}}}));
  EXPECT_EQ(Get(std::string(kVersionPath) + "/1", alice_.token).json.at("count").as_int64(), 3);

  // Empty answers, and a missing session.
  ApiResponse empty_room =
      Get(std::string(kKeysPath) + "/%21none%3Aexample.org?version=1", alice_.token);
  EXPECT_EQ(empty_room.status, 200);
  EXPECT_EQ(empty_room.json, (object{{"sessions", object()}}));
  ApiResponse missing = GetSession("1", "nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.errcode(), Errcode::kNotFound);
}

// The spec's three rules, each way: (stored, incoming, whether incoming replaces it).
struct Rule {
  const char* name;
  object stored;
  object incoming;
  bool replaces;
};

TEST_F(RoomKeysTest, TheBetterSessionIsKeptByTheSpecsRules) {
  const Rule rules[] = {
      {"verified beats unverified with a worse index", KeyData(5, 9, false), KeyData(9, 9, true),
       true},
      {"unverified never replaces verified", KeyData(9, 9, true), KeyData(0, 0, false), false},
      {"lower first_message_index wins", KeyData(5, 0, false), KeyData(4, 3, false), true},
      {"higher first_message_index loses", KeyData(5, 3, true), KeyData(6, 0, true), false},
      {"lower forwarded_count wins", KeyData(5, 3, true), KeyData(5, 2, true), true},
      {"higher forwarded_count loses", KeyData(5, 3, false), KeyData(5, 4, false), false},
      {"a tie keeps the stored key", KeyData(5, 3, false), KeyData(5, 3, false), false},
  };
  ASSERT_EQ(CreateVersion(), "1");
  int session = 0;
  for (const Rule& rule : rules) {
    const std::string id = "rule" + std::to_string(session++);
    object stored = rule.stored;
    stored["session_data"].as_object()["ciphertext"] = "stored";
    object incoming = rule.incoming;
    incoming["session_data"].as_object()["ciphertext"] = "incoming";
    ASSERT_EQ(PutSession("1", id, stored).status, 200) << rule.name;
    const std::string etag = Etag("1");
    ApiResponse put = PutSession("1", id, incoming);
    ASSERT_EQ(put.status, 200) << rule.name << ": " << put.body;
    EXPECT_EQ(put.json.at("count").as_int64(), session) << rule.name;
    EXPECT_EQ(GetSession("1", id).json, rule.replaces ? incoming : stored) << rule.name;
    // The etag moves exactly when the key changed.
    EXPECT_EQ(put.json.at("etag").as_string() != etag, rule.replaces) << rule.name;
    EXPECT_EQ(
        service::ReplacesBackedUpKey(
            service::BackedUpKey{.first_message_index = stored.at("first_message_index").as_int64(),
                                 .forwarded_count = stored.at("forwarded_count").as_int64(),
                                 .is_verified = stored.at("is_verified").as_bool()},
            service::BackedUpKey{
                .first_message_index = incoming.at("first_message_index").as_int64(),
                .forwarded_count = incoming.at("forwarded_count").as_int64(),
                .is_verified = incoming.at("is_verified").as_bool()}),
        rule.replaces)
        << rule.name;
  }
}

TEST_F(RoomKeysTest, OnlyTheCurrentVersionTakesKeys) {
  ASSERT_EQ(CreateVersion(), "1");
  ASSERT_EQ(PutSession("1", "old", KeyData(0, 0, false)).status, 200);
  ASSERT_EQ(CreateVersion(), "2");
  for (const char* version : {"1", "99", "abc"}) {
    ApiResponse r = PutSession(version, "s1", KeyData(0, 0, false));
    EXPECT_EQ(r.status, 403) << version << ": " << r.body;
    EXPECT_EQ(r.errcode(), Errcode::kWrongRoomKeysVersion) << version;
    EXPECT_EQ(r.json.at("current_version").as_string(), "2") << version;
  }
  ApiResponse all = Put(std::string(kKeysPath) + "?version=1", {{"rooms", object()}}, alice_.token);
  EXPECT_EQ(all.status, 403);
  ApiResponse no_version = Put(std::string(kKeysPath), {{"rooms", object()}}, alice_.token);
  EXPECT_EQ(no_version.status, 400);
  EXPECT_EQ(no_version.errcode(), Errcode::kMissingParam);
  // The old version can still be read.
  ApiResponse old = GetSession("1", "old");
  EXPECT_EQ(old.status, 200) << old.body;
  EXPECT_EQ(Get(std::string(kVersionPath) + "/2", alice_.token).json.at("count").as_int64(), 0);
}

TEST_F(RoomKeysTest, DeletingKeysMovesCountAndEtag) {
  ASSERT_EQ(CreateVersion(), "1");
  ASSERT_EQ(PutSession("1", "a", KeyData(0, 0, false)).status, 200);
  ASSERT_EQ(PutSession("1", "b", KeyData(0, 0, false)).status, 200);
  ASSERT_EQ(Put(std::string(kKeysPath) + "/%21two%3Aexample.org?version=1",
                {{"sessions", object{{"c", KeyData(0, 0, false)}, {"d", KeyData(0, 0, false)}}}},
                alice_.token)
                .status,
            200);
  std::string etag = Etag("1");

  ApiResponse none =
      Delete(std::string(kKeysPath) + "/" + kRoomPath + "/zzz?version=1", alice_.token);
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_EQ(none.json.at("count").as_int64(), 4);
  EXPECT_EQ(none.json.at("etag").as_string(), etag);  // nothing changed

  ApiResponse session =
      Delete(std::string(kKeysPath) + "/" + kRoomPath + "/a?version=1", alice_.token);
  ASSERT_EQ(session.status, 200) << session.body;
  EXPECT_EQ(session.json.at("count").as_int64(), 3);
  EXPECT_NE(session.json.at("etag").as_string(), etag);
  etag = std::string(session.json.at("etag").as_string());
  EXPECT_EQ(GetSession("1", "a").status, 404);
  EXPECT_EQ(GetSession("1", "b").status, 200);

  ApiResponse room = Delete(std::string(kKeysPath) + "/" + kRoomPath + "?version=1", alice_.token);
  ASSERT_EQ(room.status, 200) << room.body;
  EXPECT_EQ(room.json.at("count").as_int64(), 2);
  EXPECT_NE(room.json.at("etag").as_string(), etag);
  EXPECT_EQ(GetSession("1", "b").status, 404);

  ApiResponse all = Delete(std::string(kKeysPath) + "?version=1", alice_.token);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.json.at("count").as_int64(), 0);
  EXPECT_EQ(Get(std::string(kKeysPath) + "?version=1", alice_.token).json,
            (object{{"rooms", object()}}));
  EXPECT_EQ(Get(std::string(kVersionPath) + "/1", alice_.token).json.at("count").as_int64(), 0);

  ApiResponse unknown = Delete(std::string(kKeysPath) + "?version=7", alice_.token);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.errcode(), Errcode::kNotFound);
}

TEST_F(RoomKeysTest, DeletingAVersionDeletesItsKeys) {
  ASSERT_EQ(CreateVersion(), "1");
  ASSERT_EQ(PutSession("1", "a", KeyData(0, 0, false)).status, 200);
  ApiResponse deleted = Delete(std::string(kVersionPath) + "/1", alice_.token);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(deleted.json, object());
  // Deleting again succeeds; a version that never existed is 404.
  EXPECT_EQ(Delete(std::string(kVersionPath) + "/1", alice_.token).status, 200);
  ApiResponse never = Delete(std::string(kVersionPath) + "/2", alice_.token);
  EXPECT_EQ(never.status, 404);
  EXPECT_EQ(never.errcode(), Errcode::kNotFound);
  EXPECT_EQ(Get(std::string(kVersionPath) + "/1", alice_.token).status, 404);
  EXPECT_EQ(Get(std::string(kKeysPath) + "?version=1", alice_.token).status, 404);
  EXPECT_EQ(Get(kVersionPath, alice_.token).status, 404);
  // The keys are gone from the database, not just hidden.
  auto keys = hs().key_backup().GetKeys(alice_.user_id, "1", {});
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kNotFound);
  auto report = service::VerifyDatabase(hs().store());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->ok()) << (report->problems.empty() ? "" : report->problems[0].problem);
  EXPECT_EQ(CreateVersion(), "2");
  EXPECT_EQ(Get(std::string(kKeysPath) + "?version=2", alice_.token).json,
            (object{{"rooms", object()}}));
}

TEST_F(RoomKeysTest, AnotherUsersBackupIsInvisible) {
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  ASSERT_EQ(CreateVersion(), "1");
  ASSERT_EQ(PutSession("1", "a", KeyData(0, 0, false)).status, 200);
  EXPECT_EQ(Get(kVersionPath, bob.token).status, 404);
  EXPECT_EQ(Get(std::string(kVersionPath) + "/1", bob.token).status, 404);
  EXPECT_EQ(Get(std::string(kKeysPath) + "?version=1", bob.token).status, 404);
  EXPECT_EQ(Delete(std::string(kVersionPath) + "/1", bob.token).status, 404);
  EXPECT_EQ(Put(std::string(kKeysPath) + "?version=1", {{"rooms", object()}}, bob.token).status,
            404);
  // Bob's own first backup is his version 1, with none of alice's keys.
  EXPECT_EQ(CreateVersion(&bob), "1");
  EXPECT_EQ(Get(std::string(kKeysPath) + "?version=1", bob.token).json,
            (object{{"rooms", object()}}));
  EXPECT_EQ(GetSession("1", "a").status, 200);
}

TEST_F(RoomKeysTest, BadKeyBodiesAreRefusedAndStoreNothing) {
  ASSERT_EQ(CreateVersion(), "1");
  object no_data = KeyData(0, 0, false);
  no_data.erase("session_data");
  object no_index = KeyData(0, 0, false);
  no_index.erase("first_message_index");
  object bad_verified = KeyData(0, 0, false);
  bad_verified["is_verified"] = "yes";
  object bad_count = KeyData(0, 0, false);
  bad_count["forwarded_count"] = 1.5;
  object huge = KeyData(0, 0, false);
  huge["session_data"].as_object()["ciphertext"] = std::string(20000, 'c');
  struct Case {
    std::string target;
    object body;
    int status;
    Errcode errcode;
  };
  const std::string session = std::string(kKeysPath) + "/" + kRoomPath + "/s?version=1";
  const std::string room = std::string(kKeysPath) + "/" + kRoomPath + "?version=1";
  const std::string all = std::string(kKeysPath) + "?version=1";
  const Case cases[] = {
      {session, no_data, 400, Errcode::kMissingParam},
      {session, no_index, 400, Errcode::kMissingParam},
      {session, bad_verified, 400, Errcode::kBadJson},
      {session, bad_count, 400, Errcode::kBadJson},
      {session, huge, 413, Errcode::kTooLarge},
      {room, object{{"sessions", "x"}}, 400, Errcode::kBadJson},
      {room, object(), 400, Errcode::kMissingParam},
      {room, object{{"sessions", object{{"good", KeyData(0, 0, false)}, {"bad", 3}}}}, 400,
       Errcode::kBadJson},
      {all, object{{"rooms", 1}}, 400, Errcode::kBadJson},
      {all, object{{"rooms", object{{"not-a-room", object{{"sessions", object()}}}}}}, 400,
       Errcode::kInvalidParam},
      {all,
       object{{"rooms", object{{kRoom, object{{"sessions", object{{"", KeyData(0, 0, false)}}}}}}}},
       400, Errcode::kInvalidParam},
  };
  for (const Case& c : cases) {
    ApiResponse r = Put(c.target, c.body, alice_.token);
    EXPECT_EQ(r.status, c.status) << c.target << " " << boost::json::serialize(c.body);
    EXPECT_EQ(r.errcode(), c.errcode) << r.body;
  }
  EXPECT_EQ(Get(std::string(kVersionPath) + "/1", alice_.token).json.at("count").as_int64(), 0);
  EXPECT_EQ(Get(all, alice_.token).json, (object{{"rooms", object()}}));
}

TEST_F(RoomKeysTest, DeactivationRemovesTheBackups) {
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  ASSERT_EQ(CreateVersion(), "1");
  ASSERT_EQ(CreateVersion(), "2");
  ASSERT_EQ(PutSession("2", "a", KeyData(0, 0, false)).status, 200);
  ASSERT_EQ(CreateVersion(&bob), "1");
  service::KeyBackup& backup = hs().key_backup();
  ASSERT_EQ(backup.ListVersions(alice_.user_id)->size(), 2u);

  ASSERT_TRUE(hs().accounts().Deactivate(alice_.user_id).ok());
  auto versions = backup.ListVersions(alice_.user_id);
  ASSERT_TRUE(versions.ok()) << versions.status();
  EXPECT_TRUE(versions->empty());
  EXPECT_EQ(backup.GetKeys(alice_.user_id, "2", {}).status().code(), absl::StatusCode::kNotFound);
  // No later write lands for the removed account.
  auto late = backup.CreateVersion(alice_.user_id, {.algorithm = kAlgorithm});
  EXPECT_EQ(service::ErrcodeOf(late.status()), Errcode::kUserDeactivated);
  // Bob's backup stays.
  EXPECT_EQ(backup.ListVersions(bob.user_id)->size(), 1u);
  auto report = service::VerifyDatabase(hs().store());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->ok()) << (report->problems.empty() ? "" : report->problems[0].problem);
}

TEST_F(RoomKeysTest, VerifyFindsOrphanKeysAndWrongCounts) {
  ASSERT_EQ(CreateVersion(), "1");
  ASSERT_EQ(PutSession("1", "a", KeyData(0, 0, false)).status, 200);
  auto clean = service::VerifyDatabase(hs().store());
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_TRUE(clean->ok()) << clean->problems.front().problem;
  // A key of version 2, which does not exist: an orphan, and version 1's count stays right.
  auto map = hs().store().db->OpenMap(service::schema::kBackupKeysMap);
  ASSERT_TRUE(map.ok());
  ASSERT_TRUE(hs().store()
                  .db
                  ->Put(**map, service::schema::BackupKeyKey(alice_.user_id, 2, kRoom, "b"),
                        boost::json::serialize(KeyData(0, 0, false)))
                  .ok());
  auto orphan = service::VerifyDatabase(hs().store());
  ASSERT_TRUE(orphan.ok());
  ASSERT_EQ(orphan->problem_count, 1u);
  EXPECT_EQ(orphan->problems[0].map, service::schema::kBackupKeysMap);
  EXPECT_THAT(orphan->problems[0].problem, ::testing::HasSubstr("not live"));
  // Version 1 losing its key behind KeyBackup's back: its count is now wrong.
  ASSERT_TRUE(hs().store()
                  .db->Delete(**map, service::schema::BackupKeyKey(alice_.user_id, 2, kRoom, "b"))
                  .ok());
  ASSERT_TRUE(hs().store()
                  .db->Delete(**map, service::schema::BackupKeyKey(alice_.user_id, 1, kRoom, "a"))
                  .ok());
  auto counted = service::VerifyDatabase(hs().store());
  ASSERT_TRUE(counted.ok());
  ASSERT_EQ(counted->problem_count, 1u);
  EXPECT_EQ(counted->problems[0].map, service::schema::kBackupVersionsMap);
  EXPECT_THAT(counted->problems[0].problem, ::testing::HasSubstr("count is 1"));
}

}  // namespace
}  // namespace conclave::api::test_util
