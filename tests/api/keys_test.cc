// POST /keys/upload, /keys/query, /keys/claim (keys.yaml) through the Router: good uploads,
// and bad ones that must be refused with a Matrix error and leave nothing stored.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "e2ee_harness.h"

namespace conclave::api::test_util {
namespace {

using boost::json::array;
using boost::json::object;

TEST_F(E2eeApiTest, UploadedDeviceKeysComeBackFromQueryWithDisplayName) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  ASSERT_EQ(
      Put("/_matrix/client/v3/devices/ALICEDEV", {{"display_name", "Alice's phone"}}, alice.token)
          .status,
      200);
  object keys = DeviceKeys(alice);
  ApiResponse r = Upload(alice, {{"device_keys", keys}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json.at("one_time_key_counts").at("signed_curve25519").to_number<int64_t>(), 0);

  object devices = QueryDevices(bob, alice.user_id);
  ASSERT_TRUE(devices.contains("ALICEDEV")) << boost::json::serialize(devices);
  object got = devices.at("ALICEDEV").as_object();
  EXPECT_EQ(got.at("unsigned").at("device_display_name").as_string(), "Alice's phone");
  got.erase("unsigned");
  EXPECT_EQ(got, keys);  // signatures included, unchanged
  // The signature still verifies for whoever fetched it.
  EXPECT_TRUE(
      service::VerifyJsonSignature(got, alice.user_id, "ed25519:ALICEDEV", alice.Ed25519Base64())
          .ok());
}

TEST_F(E2eeApiTest, QueryListsOtherServersAsFailures) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  ApiResponse r =
      Post("/_matrix/client/v3/keys/query",
           {{"device_keys", object{{"@carol:elsewhere.example", array()}}}}, alice.token);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json.at("failures").as_object().contains("elsewhere.example"));
  EXPECT_FALSE(r.json.at("device_keys").as_object().contains("@carol:elsewhere.example"));
  ApiResponse bad = Post("/_matrix/client/v3/keys/query",
                         {{"device_keys", object{{"not-a-user", array()}}}}, alice.token);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.errcode(), service::Errcode::kInvalidParam);
}

TEST_F(E2eeApiTest, DeviceKeysOfAnotherUserOrDeviceAreRefused) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  // Keys made for bob's device, signed correctly by it, uploaded with alice's token.
  ApiResponse other_user = Upload(alice, {{"device_keys", DeviceKeys(bob)}});
  EXPECT_EQ(other_user.status, 400) << other_user.body;
  EXPECT_EQ(other_user.errcode(), service::Errcode::kInvalidParam);
  // Alice's user but another device id.
  TestDevice other_device = alice;
  other_device.device_id = "OTHERDEV";
  ApiResponse wrong_device = Upload(alice, {{"device_keys", DeviceKeys(other_device)}});
  EXPECT_EQ(wrong_device.status, 400) << wrong_device.body;
  EXPECT_EQ(wrong_device.errcode(), service::Errcode::kInvalidParam);
  EXPECT_TRUE(QueryDevices(alice, alice.user_id).empty());
  EXPECT_TRUE(QueryDevices(alice, bob.user_id).empty());
}

TEST_F(E2eeApiTest, WrongOrMissingSelfSignatureIsRefused) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  auto stranger = service::Ed25519FromSeed(service::RandomBytes(32));
  ASSERT_TRUE(stranger.ok());
  ApiResponse wrong = Upload(alice, {{"device_keys", DeviceKeys(alice, &*stranger)}});
  EXPECT_EQ(wrong.status, 400) << wrong.body;
  EXPECT_EQ(wrong.errcode(), service::Errcode::kInvalidSignature);
  object unsigned_keys = DeviceKeys(alice);
  unsigned_keys.erase("signatures");
  ApiResponse missing = Upload(alice, {{"device_keys", unsigned_keys}});
  EXPECT_EQ(missing.errcode(), service::Errcode::kInvalidSignature);
  // Signed, then changed: the signature no longer covers it.
  object tampered = DeviceKeys(alice);
  tampered["algorithms"] = array{"m.olm.v1.curve25519-aes-sha2"};
  ApiResponse changed = Upload(alice, {{"device_keys", tampered}});
  EXPECT_EQ(changed.errcode(), service::Errcode::kInvalidSignature);
  EXPECT_TRUE(QueryDevices(alice, alice.user_id).empty());
}

TEST_F(E2eeApiTest, ChangedKeysForAnExistingDeviceAreRefused) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  object first = DeviceKeys(alice);
  ASSERT_EQ(Upload(alice, {{"device_keys", first}}).status, 200);
  // The same keys again are fine.
  EXPECT_EQ(Upload(alice, {{"device_keys", first}}).status, 200);
  TestDevice new_identity = alice;
  new_identity.key = *service::Ed25519FromSeed(service::RandomBytes(32));
  ApiResponse r = Upload(new_identity, {{"device_keys", DeviceKeys(new_identity)}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.errcode(), service::Errcode::kInvalidParam);
  object stored = QueryDevices(alice, alice.user_id).at("ALICEDEV").as_object();
  EXPECT_EQ(stored.at("keys"), first.at("keys"));
}

TEST_F(E2eeApiTest, OneTimeKeysAreCountedAndEachClaimedOnce) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  ApiResponse r =
      Upload(alice, {{"device_keys", DeviceKeys(alice)}, {"one_time_keys", OneTimeKeys(alice, 3)}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json.at("one_time_key_counts").at("signed_curve25519").to_number<int64_t>(), 3);

  std::set<std::string> claimed_ids;
  const object claim{
      {"one_time_keys", object{{alice.user_id, object{{"ALICEDEV", "signed_curve25519"}}}}}};
  for (int i = 0; i < 3; ++i) {
    ApiResponse c = Post("/_matrix/client/v3/keys/claim", claim, bob.token);
    ASSERT_EQ(c.status, 200) << c.body;
    const object& keys = c.json.at("one_time_keys").at(alice.user_id).at("ALICEDEV").as_object();
    ASSERT_EQ(keys.size(), 1u);
    const auto& [id, key] = *keys.begin();
    claimed_ids.insert(std::string(id));
    EXPECT_TRUE(service::VerifyJsonSignature(key.as_object(), alice.user_id, "ed25519:ALICEDEV",
                                             alice.Ed25519Base64())
                    .ok());
    EXPECT_EQ(OneTimeKeyCount(alice), 2 - i);
  }
  EXPECT_EQ(claimed_ids.size(), 3u);  // never the same key twice
  ApiResponse none = Post("/_matrix/client/v3/keys/claim", claim, bob.token);
  ASSERT_EQ(none.status, 200);
  EXPECT_TRUE(none.json.at("one_time_keys").as_object().empty()) << none.body;
}

TEST_F(E2eeApiTest, OneTimeKeyWithWrongSignatureIsRefusedAndNothingStored) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  ASSERT_EQ(Upload(alice, {{"device_keys", DeviceKeys(alice)}}).status, 200);
  auto stranger = service::Ed25519FromSeed(service::RandomBytes(32));
  object keys = OneTimeKeys(alice, 2);
  keys["signed_curve25519:BAD"] = SignedKey(alice, false, &*stranger);
  ApiResponse r = Upload(alice, {{"one_time_keys", keys}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.errcode(), service::Errcode::kInvalidSignature);
  EXPECT_EQ(OneTimeKeyCount(alice), 0);  // the good ones of that upload are not kept either
}

TEST_F(E2eeApiTest, OversizedUploadIsRefusedAndNothingStored) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  ApiResponse r = Upload(
      alice, {{"device_keys", DeviceKeys(alice)}, {"one_time_keys", OneTimeKeys(alice, 257)}});
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(r.errcode(), service::Errcode::kTooLarge);
  EXPECT_EQ(OneTimeKeyCount(alice), 0);
  EXPECT_TRUE(QueryDevices(alice, alice.user_id).empty());
  object huge = SignedKey(alice);
  huge["padding"] = std::string(4096, 'x');
  ApiResponse big_key = Upload(alice, {{"one_time_keys", object{{"signed_curve25519:X", huge}}}});
  EXPECT_EQ(big_key.errcode(), service::Errcode::kTooLarge);
}

TEST_F(E2eeApiTest, ReusedOneTimeKeyIdWithOtherContentIsRefused) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  object keys = OneTimeKeys(alice, 1);
  ASSERT_EQ(Upload(alice, {{"device_keys", DeviceKeys(alice)}, {"one_time_keys", keys}}).status,
            200);
  EXPECT_EQ(Upload(alice, {{"one_time_keys", keys}}).status, 200);  // the same again: no-op
  ApiResponse r = Upload(alice, {{"one_time_keys", OneTimeKeys(alice, 2)}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.errcode(), service::Errcode::kInvalidParam);
  EXPECT_EQ(OneTimeKeyCount(alice), 1);
}

TEST_F(E2eeApiTest, FallbackKeyIsServedWhenNoneIsLeftAndStaysUntilReplaced) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  object fallback = SignedKey(alice, true);
  ASSERT_EQ(Upload(alice, {{"device_keys", DeviceKeys(alice)},
                           {"one_time_keys", OneTimeKeys(alice, 1)},
                           {"fallback_keys", object{{"signed_curve25519:FB1", fallback}}}})
                .status,
            200);
  ApiResponse before = Sync(alice);
  EXPECT_EQ(before.json.at("device_unused_fallback_key_types"), (array{"signed_curve25519"}));
  EXPECT_EQ(before.json.at("device_one_time_keys_count").at("signed_curve25519"), 1);

  const object claim{
      {"one_time_keys", object{{alice.user_id, object{{"ALICEDEV", "signed_curve25519"}}}}}};
  ApiResponse first = Post("/_matrix/client/v3/keys/claim", claim, bob.token);
  EXPECT_FALSE(first.json.at("one_time_keys")
                   .at(alice.user_id)
                   .at("ALICEDEV")
                   .as_object()
                   .contains("signed_curve25519:FB1"));
  for (int i = 0; i < 2; ++i) {
    ApiResponse c = Post("/_matrix/client/v3/keys/claim", claim, bob.token);
    ASSERT_EQ(c.status, 200) << c.body;
    EXPECT_EQ(c.json.at("one_time_keys").at(alice.user_id).at("ALICEDEV"),
              (object{{"signed_curve25519:FB1", fallback}}));
  }
  EXPECT_TRUE(Sync(alice).json.at("device_unused_fallback_key_types").as_array().empty());
  // A new fallback key replaces the used one, unused.
  ASSERT_EQ(
      Upload(alice, {{"fallback_keys", object{{"signed_curve25519:FB2", SignedKey(alice, true)}}}})
          .status,
      200);
  EXPECT_EQ(Sync(alice).json.at("device_unused_fallback_key_types"), (array{"signed_curve25519"}));
}

TEST_F(E2eeApiTest, ClaimingFromUnknownUsersReturnsNothing) {
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  ApiResponse r = Post(
      "/_matrix/client/v3/keys/claim",
      {{"one_time_keys", object{{"@nobody:example.org", object{{"X", "signed_curve25519"}}},
                                {"@carol:elsewhere.example", object{{"Y", "signed_curve25519"}}}}}},
      bob.token);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json.at("one_time_keys").as_object().empty());
  EXPECT_TRUE(r.json.at("failures").as_object().contains("elsewhere.example"));
  ApiResponse bad =
      Post("/_matrix/client/v3/keys/claim",
           {{"one_time_keys", object{{"bob", object{{"X", "signed_curve25519"}}}}}}, bob.token);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.errcode(), service::Errcode::kInvalidParam);
  ApiResponse not_string =
      Post("/_matrix/client/v3/keys/claim",
           {{"one_time_keys", object{{bob.user_id, object{{"BOBDEV", 5}}}}}}, bob.token);
  EXPECT_EQ(not_string.errcode(), service::Errcode::kBadJson);
}

// keys.yaml: `timeout` is an integer of milliseconds, on /keys/query and /keys/claim alike.
TEST_F(E2eeApiTest, QueryAndClaimAcceptATimeoutAndRefuseABadOne) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  ASSERT_EQ(
      Upload(alice, {{"device_keys", DeviceKeys(alice)}, {"one_time_keys", OneTimeKeys(alice, 2)}})
          .status,
      200);
  const object query{{alice.user_id, array()}};
  const object claim{{alice.user_id, object{{"ALICEDEV", "signed_curve25519"}}}};
  for (const boost::json::value& good : {boost::json::value(10000), boost::json::value(0)}) {
    ApiResponse r = Post("/_matrix/client/v3/keys/query",
                         {{"device_keys", query}, {"timeout", good}}, alice.token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(r.json.at("device_keys").at(alice.user_id).as_object().contains("ALICEDEV"));
  }
  ApiResponse claimed = Post("/_matrix/client/v3/keys/claim",
                             {{"one_time_keys", claim}, {"timeout", 10000}}, alice.token);
  ASSERT_EQ(claimed.status, 200) << claimed.body;
  EXPECT_FALSE(claimed.json.at("one_time_keys").at(alice.user_id).as_object().empty());

  for (const boost::json::value& bad : {boost::json::value(-1), boost::json::value("10s"),
                                        boost::json::value(1.5), boost::json::value(true)}) {
    ApiResponse q = Post("/_matrix/client/v3/keys/query",
                         {{"device_keys", query}, {"timeout", bad}}, alice.token);
    EXPECT_EQ(q.status, 400) << boost::json::serialize(bad);
    EXPECT_EQ(q.errcode(), service::Errcode::kBadJson);
    ApiResponse c = Post("/_matrix/client/v3/keys/claim",
                         {{"one_time_keys", claim}, {"timeout", bad}}, alice.token);
    EXPECT_EQ(c.status, 400) << boost::json::serialize(bad);
    EXPECT_EQ(c.errcode(), service::Errcode::kBadJson);
  }
  // Of the two keys the good claim took one; the refused claims took none.
  EXPECT_EQ(OneTimeKeyCount(alice), 1);
}

}  // namespace
}  // namespace conclave::api::test_util
