// POST /keys/device_signing/upload (cross_signing.yaml) and the cross-signing keys /keys/query
// returns, through the Router.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "conclave/service/storage/schema.h"
#include "e2ee_harness.h"

namespace conclave::api::test_util {
namespace {

using boost::json::array;
using boost::json::object;

class CrossSigningTest : public E2eeApiTest {
 protected:
  static service::Ed25519KeyPair NewKey() {
    auto key = service::Ed25519FromSeed(service::RandomBytes(32));
    EXPECT_TRUE(key.ok());
    return *key;
  }
  static std::string KeyId(const service::Ed25519KeyPair& key) {
    return "ed25519:" + service::UnpaddedBase64(key.public_key);
  }
  // A cross-signing key of `user_id` for `usage`, signed by `signer` when given.
  static object CrossKey(const std::string& user_id, const char* usage,
                         const service::Ed25519KeyPair& key,
                         const service::Ed25519KeyPair* signer = nullptr) {
    object json{{"user_id", user_id},
                {"usage", array{usage}},
                {"keys", object{{KeyId(key), service::UnpaddedBase64(key.public_key)}}}};
    if (signer != nullptr) {
      EXPECT_TRUE(service::SignJson(json, user_id, KeyId(*signer), signer->seed).ok());
    }
    return json;
  }
  ApiResponse UploadCross(const TestDevice& device, object body) {
    return Post("/_matrix/client/v3/keys/device_signing/upload", body, device.token);
  }
  object QueryAll(const TestDevice& viewer, const std::string& user_id) {
    ApiResponse r = Post("/_matrix/client/v3/keys/query",
                         {{"device_keys", object{{user_id, array()}}}}, viewer.token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json;
  }
};

TEST_F(CrossSigningTest, KeysAreStoredAndQueriedWithUserSigningForTheOwnerOnly) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  auto master = NewKey(), self_signing = NewKey(), user_signing = NewKey();
  object body{{"master_key", CrossKey(alice.user_id, "master", master)},
              {"self_signing_key", CrossKey(alice.user_id, "self_signing", self_signing, &master)},
              {"user_signing_key", CrossKey(alice.user_id, "user_signing", user_signing, &master)}};
  ApiResponse r = UploadCross(alice, body);  // the first upload needs no password
  ASSERT_EQ(r.status, 200) << r.body;

  object seen_by_bob = QueryAll(bob, alice.user_id);
  EXPECT_EQ(seen_by_bob.at("master_keys").at(alice.user_id), body.at("master_key"));
  EXPECT_EQ(seen_by_bob.at("self_signing_keys").at(alice.user_id), body.at("self_signing_key"));
  EXPECT_FALSE(seen_by_bob.at("user_signing_keys").as_object().contains(alice.user_id));
  object seen_by_alice = QueryAll(alice, alice.user_id);
  EXPECT_EQ(seen_by_alice.at("user_signing_keys").at(alice.user_id), body.at("user_signing_key"));
}

TEST_F(CrossSigningTest, KeysNotSignedByTheMasterKeyOrOfAnotherUserAreRefused) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  auto master = NewKey(), self_signing = NewKey(), stranger = NewKey();
  ApiResponse unsigned_key = UploadCross(
      alice,
      {{"master_key", CrossKey(alice.user_id, "master", master)},
       {"self_signing_key", CrossKey(alice.user_id, "self_signing", self_signing, &stranger)}});
  EXPECT_EQ(unsigned_key.status, 400) << unsigned_key.body;
  EXPECT_EQ(unsigned_key.errcode(), service::Errcode::kInvalidSignature);
  EXPECT_TRUE(QueryAll(bob, alice.user_id).at("master_keys").as_object().empty());

  ApiResponse no_master = UploadCross(
      alice,
      {{"self_signing_key", CrossKey(alice.user_id, "self_signing", self_signing, &master)}});
  EXPECT_EQ(no_master.errcode(), service::Errcode::kMissingParam);
  ApiResponse other_user =
      UploadCross(alice, {{"master_key", CrossKey(bob.user_id, "master", master)}});
  EXPECT_EQ(other_user.errcode(), service::Errcode::kInvalidParam);
  ApiResponse wrong_usage =
      UploadCross(alice, {{"master_key", CrossKey(alice.user_id, "self_signing", master)}});
  EXPECT_EQ(wrong_usage.errcode(), service::Errcode::kInvalidParam);
  EXPECT_TRUE(QueryAll(bob, alice.user_id).at("master_keys").as_object().empty());
}

TEST_F(CrossSigningTest, ReplacingKeysNeedsThePasswordButTheSameKeysAgainDoNot) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  auto master = NewKey();
  object first{{"master_key", CrossKey(alice.user_id, "master", master)}};
  ASSERT_EQ(UploadCross(alice, first).status, 200);
  EXPECT_EQ(UploadCross(alice, first).status, 200);  // a retry: no new keys, no UIA

  auto new_master = NewKey();
  object replace{{"master_key", CrossKey(alice.user_id, "master", new_master)}};
  ApiResponse challenge = UploadCross(alice, replace);
  EXPECT_EQ(challenge.status, 401) << challenge.body;
  EXPECT_TRUE(challenge.json.contains("flows"));
  EXPECT_EQ(QueryAll(alice, alice.user_id).at("master_keys").at(alice.user_id),
            first.at("master_key"));

  replace["auth"] = object{{"type", "m.login.password"},
                           {"identifier", object{{"type", "m.id.user"}, {"user", "alice"}}},
                           {"password", "wrong"},
                           {"session", challenge.json.at("session")}};
  EXPECT_EQ(UploadCross(alice, replace).status, 401);
  replace["auth"].as_object()["password"] = "pw";
  ApiResponse done = UploadCross(alice, replace);
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(QueryAll(alice, alice.user_id).at("master_keys").at(alice.user_id),
            replace.at("master_key"));
}

TEST_F(CrossSigningTest, NewKeysShowInTheDeviceListsOfUsersSharingARoom) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  ApiResponse room =
      Post("/_matrix/client/v3/createRoom", {{"preset", "public_chat"}}, alice.token);
  ASSERT_EQ(room.status, 200);
  ASSERT_EQ(
      Post("/_matrix/client/v3/rooms/" + std::string(room.json.at("room_id").as_string()) + "/join",
           {}, bob.token)
          .status,
      200);
  const std::string since = NextBatch(Sync(bob));
  auto master = NewKey();
  ASSERT_EQ(UploadCross(alice, {{"master_key", CrossKey(alice.user_id, "master", master)}}).status,
            200);
  ApiResponse sync = Sync(bob, since);
  EXPECT_EQ(sync.json.at("device_lists").at("changed"), (array{alice.user_id})) << sync.body;
}

// alice with device keys and a full set of cross-signing keys.
struct CrossSigned {
  TestDevice device;
  service::Ed25519KeyPair master, self_signing, user_signing;
  object device_keys, master_key;
};

class SignaturesTest : public CrossSigningTest {
 protected:
  CrossSigned SetUpUser(const std::string& localpart, const std::string& device_id) {
    CrossSigned u{RegisterDevice(localpart, device_id), NewKey(), NewKey(), NewKey(), {}, {}};
    u.device_keys = DeviceKeys(u.device);
    EXPECT_EQ(Upload(u.device, {{"device_keys", u.device_keys}}).status, 200);
    u.master_key = CrossKey(u.device.user_id, "master", u.master);
    EXPECT_EQ(UploadCross(u.device, {{"master_key", u.master_key},
                                     {"self_signing_key", CrossKey(u.device.user_id, "self_signing",
                                                                   u.self_signing, &u.master)},
                                     {"user_signing_key", CrossKey(u.device.user_id, "user_signing",
                                                                   u.user_signing, &u.master)}})
                  .status,
              200);
    return u;
  }
  // `json` signed by `signer` as `user_id` with key id ed25519:<signer's public key>, or
  // `key_id` when given.
  static object SignedBy(object json, const std::string& user_id,
                         const service::Ed25519KeyPair& signer, std::string key_id = "") {
    json.erase("signatures");
    if (key_id.empty()) key_id = KeyId(signer);
    EXPECT_TRUE(service::SignJson(json, user_id, key_id, signer.seed).ok());
    return json;
  }
  ApiResponse UploadSigs(const TestDevice& device, const object& body) {
    return Post("/_matrix/client/v3/keys/signatures/upload", body, device.token);
  }
  static std::string MasterId(const CrossSigned& u) {
    return service::UnpaddedBase64(u.master.public_key);
  }
};

TEST_F(SignaturesTest, OwnDeviceOwnMasterAndAnotherUsersMasterKey) {
  CrossSigned alice = SetUpUser("alice", "ALICEDEV");
  CrossSigned bob = SetUpUser("bob", "BOBDEV");
  TestDevice carol = RegisterDevice("carol", "CAROLDEV");
  const std::string& a = alice.device.user_id;
  ApiResponse r = UploadSigs(
      alice.device, {{a, object{{"ALICEDEV", SignedBy(alice.device_keys, a, alice.self_signing)},
                                {MasterId(alice), SignedBy(alice.master_key, a, alice.device.key,
                                                           "ed25519:ALICEDEV")}}},
                     {bob.device.user_id,
                      object{{MasterId(bob), SignedBy(bob.master_key, a, alice.user_signing)}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json.at("failures").as_object().empty()) << r.body;

  object seen = QueryAll(carol, a);
  const object& device = seen.at("device_keys").at(a).at("ALICEDEV").as_object();
  EXPECT_TRUE(service::VerifyJsonSignature(device, a, KeyId(alice.self_signing),
                                           service::UnpaddedBase64(alice.self_signing.public_key))
                  .ok());
  EXPECT_TRUE(service::VerifyJsonSignature(device, a, "ed25519:ALICEDEV",
                                           alice.device.Ed25519Base64())
                  .ok());  // the device's own signature is kept
  EXPECT_TRUE(service::VerifyJsonSignature(seen.at("master_keys").at(a).as_object(), a,
                                           "ed25519:ALICEDEV", alice.device.Ed25519Base64())
                  .ok());
  // alice's signature of bob's master key: alice sees it, carol and bob do not.
  const std::string& b = bob.device.user_id;
  auto signed_by_alice = [&](const TestDevice& viewer) {
    const object master = QueryAll(viewer, b).at("master_keys").at(b).as_object();
    return service::VerifyJsonSignature(master, a, KeyId(alice.user_signing),
                                        service::UnpaddedBase64(alice.user_signing.public_key))
        .ok();
  };
  EXPECT_TRUE(signed_by_alice(alice.device));
  EXPECT_FALSE(signed_by_alice(carol));
  EXPECT_FALSE(signed_by_alice(bob.device));
}

TEST_F(SignaturesTest, BadSignaturesAreReportedPerKeyAndNotStored) {
  CrossSigned alice = SetUpUser("alice", "ALICEDEV");
  const std::string& a = alice.device.user_id;
  object tampered = alice.device_keys;
  tampered["algorithms"] = array{"m.megolm.v1.aes-sha2"};
  ApiResponse r = UploadSigs(
      alice.device, {{a, object{// signed by the user-signing key, which may not sign own devices
                                {"ALICEDEV", SignedBy(alice.device_keys, a, alice.user_signing,
                                                      KeyId(alice.self_signing))},
                                {"NODEVICE", SignedBy(alice.device_keys, a, alice.self_signing)},
                                {MasterId(alice), SignedBy(tampered, a, alice.self_signing)}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  const object& failures = r.json.at("failures").at(a).as_object();
  EXPECT_EQ(failures.at("ALICEDEV").at("errcode"), "M_INVALID_SIGNATURE");
  EXPECT_EQ(failures.at("NODEVICE").at("errcode"), "M_NOT_FOUND");
  EXPECT_EQ(failures.at(MasterId(alice)).at("errcode"), "M_INVALID_PARAM");
  object stored = QueryAll(alice.device, a).at("device_keys").at(a).at("ALICEDEV").as_object();
  stored.erase("unsigned");
  EXPECT_EQ(stored, alice.device_keys);  // no signature added
}

// Rows of the E2EE map `map_name` under `user_id`'s prefix (schema.h: cross-signing keys, and
// signatures of the user's master key by others).
size_t RowsOfUser(service::Homeserver& hs, const char* map_name, const std::string& user_id) {
  auto map = hs.store().db->OpenMap(map_name);
  EXPECT_TRUE(map.ok());
  size_t rows = 0;
  EXPECT_TRUE(hs.store()
                  .db
                  ->ForEachWithPrefix(**map, service::schema::UserPrefix(user_id),
                                      [&](std::string_view, std::string_view) {
                                        ++rows;
                                        return true;
                                      })
                  .ok());
  return rows;
}

// Deactivation takes the cross-signing keys with the devices, in the same batch, and the users
// sharing a room see alice's device list change (account_deactivation.yaml removes "all ability
// for the user to login"; nothing of alice is left for anyone to verify or encrypt to).
TEST_F(SignaturesTest, DeactivationRemovesCrossSigningKeysAndShowsInDeviceLists) {
  CrossSigned alice = SetUpUser("alice", "ALICEDEV");
  CrossSigned bob = SetUpUser("bob", "BOBDEV");
  const std::string& a = alice.device.user_id;
  ApiResponse signed_by_bob = UploadSigs(
      bob.device, {{a, object{{MasterId(alice), SignedBy(alice.master_key, bob.device.user_id,
                                                         bob.user_signing)}}}});
  ASSERT_EQ(signed_by_bob.status, 200) << signed_by_bob.body;
  ApiResponse room =
      Post("/_matrix/client/v3/createRoom", {{"preset", "public_chat"}}, alice.device.token);
  ASSERT_EQ(room.status, 200);
  const std::string room_id(room.json.at("room_id").as_string());
  ASSERT_EQ(Post("/_matrix/client/v3/rooms/" + room_id + "/join", {}, bob.device.token).status,
            200);
  EXPECT_EQ(RowsOfUser(hs(), service::schema::kCrossSigningMap, a), 3u);
  EXPECT_EQ(RowsOfUser(hs(), service::schema::kKeySignaturesMap, a), 1u);
  const std::string since = NextBatch(Sync(bob.device));

  // Accounts' part of POST /account/deactivate: alice still shares the room (the endpoint
  // leaves her rooms next), so her device list is `changed` for bob.
  ASSERT_TRUE(hs().accounts().Deactivate(a).ok());
  ApiResponse sync = Sync(bob.device, since);
  EXPECT_EQ(sync.json.at("device_lists").at("changed"), (array{a})) << sync.body;
  object seen = QueryAll(bob.device, a);
  EXPECT_FALSE(seen.at("master_keys").as_object().contains(a)) << seen;
  EXPECT_FALSE(seen.at("self_signing_keys").as_object().contains(a)) << seen;
  EXPECT_TRUE(seen.at("device_keys").at(a).as_object().empty()) << seen;
  EXPECT_EQ(RowsOfUser(hs(), service::schema::kCrossSigningMap, a), 0u);
  EXPECT_EQ(RowsOfUser(hs(), service::schema::kKeySignaturesMap, a), 0u);
  // bob's own keys are untouched.
  EXPECT_TRUE(QueryAll(bob.device, bob.device.user_id)
                  .at("master_keys")
                  .as_object()
                  .contains(bob.device.user_id));
  EXPECT_EQ(RowsOfUser(hs(), service::schema::kCrossSigningMap, bob.device.user_id), 3u);
}

}  // namespace
}  // namespace conclave::api::test_util
