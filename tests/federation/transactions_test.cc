// PUT /send/{txnId} and the E2EE federation endpoints (user/keys/query, user/keys/claim,
// user/devices) through the router, signed by a remote server whose keys are in the cache; and
// the client side for users of other servers: to-device messages queued as EDUs, key queries and
// claims of unreachable servers in `failures`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <string>

#include "api/e2ee_harness.h"
#include "conclave/service/federation/remote_keys.h"
#include "conclave/service/federation/request_auth.h"
#include "conclave/service/federation/server_key.h"
#include "conclave/service/federation/transaction_queue.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/clock.h"
#include "conclave/service/protocol/signing.h"
#include "federation_fixture.h"

namespace conclave::federation {
namespace {

using api::test_util::ApiResponse;
using api::test_util::TestDevice;
using boost::json::array;
using boost::json::object;
using service::Errcode;

// remote.example's keys are cached, but its server cannot be reached (federation_hosts).
class FederationTransactionsTest : public test_util::FederationTestOn<api::test_util::E2eeApiTest> {
 protected:
  FederationTransactionsTest() : FederationTestOn({"remote.example", "stranger.example"}) {}

  void SetUp() override {
    FederationTestOn::SetUp();
    auto answer = service::SignedServerKeys("remote.example", remote_, service::NowMs() + 3600'000);
    ASSERT_TRUE(answer.ok());
    ASSERT_TRUE(
        service::Instance()->remote_keys().Store("remote.example", *answer, service::NowMs()).ok());
  }

  // `method` `target` with `body` (none when null), signed by remote.example.
  ApiResponse Signed(const std::string& method, const std::string& target,
                     const object* body = nullptr) {
    const boost::json::value json = body ? boost::json::value(*body) : boost::json::value();
    auto auth = service::SignRequest(remote_, "remote.example", "example.org", method, target,
                                     body ? &json : nullptr);
    EXPECT_TRUE(auth.ok()) << auth.status();
    return Dispatch(method, target, body ? boost::json::serialize(*body) : "", *auth);
  }

  object ToDeviceTxn(const TestDevice& to, const std::string& message_id) {
    return object{
        {"origin", "remote.example"},
        {"origin_server_ts", 1},
        {"pdus", array{}},
        {"edus",
         array{object{
             {"edu_type", "m.direct_to_device"},
             {"content",
              object{{"sender", "@alice:remote.example"},
                     {"type", "m.room.encrypted"},
                     {"message_id", message_id},
                     {"messages",
                      object{{to.user_id,
                              object{{to.device_id, object{{"ciphertext", message_id}}}}}}}}}}}}};
  }

  service::ServerSigningKey remote_ = service::GenerateSigningKey();
};

TEST_F(FederationTransactionsTest, SendDeliversToDeviceOnceAndAnswersRepeats) {
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  const std::string since = NextBatch(Sync(bob));
  const object txn = ToDeviceTxn(bob, "m1");
  ApiResponse first = Signed("PUT", "/_matrix/federation/v1/send/txn1", &txn);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.json, (object{{"pdus", object()}}));
  ApiResponse repeat = Signed("PUT", "/_matrix/federation/v1/send/txn1", &txn);
  ASSERT_EQ(repeat.status, 200) << repeat.body;
  EXPECT_EQ(repeat.json, first.json);

  ApiResponse sync = Sync(bob, since);
  const array& events = sync.json.at("to_device").at("events").as_array();
  ASSERT_EQ(events.size(), 1u) << sync.body;
  EXPECT_EQ(events[0].at("sender"), "@alice:remote.example");
  EXPECT_EQ(events[0].at("type"), "m.room.encrypted");
  EXPECT_EQ(events[0].at("content"), (object{{"ciphertext", "m1"}}));
}

TEST_F(FederationTransactionsTest, SendChecksAuthenticationAndLimits) {
  const object txn{{"origin", "remote.example"}, {"origin_server_ts", 1}, {"pdus", array{}}};
  ApiResponse unsigned_request =
      Dispatch("PUT", "/_matrix/federation/v1/send/t1", boost::json::serialize(txn));
  EXPECT_EQ(unsigned_request.status, 401) << unsigned_request.body;
  EXPECT_EQ(unsigned_request.errcode(), Errcode::kUnauthorized);

  array pdus;
  for (int i = 0; i < 51; ++i) pdus.push_back(object{{"event_id", "$" + std::to_string(i)}});
  const object too_many{{"origin", "remote.example"}, {"origin_server_ts", 1}, {"pdus", pdus}};
  ApiResponse over = Signed("PUT", "/_matrix/federation/v1/send/t2", &too_many);
  EXPECT_EQ(over.status, 400) << over.body;
  EXPECT_EQ(over.errcode(), Errcode::kBadJson);

  pdus.pop_back();
  const object fifty{{"origin", "remote.example"}, {"origin_server_ts", 1}, {"pdus", pdus}};
  ApiResponse ok = Signed("PUT", "/_matrix/federation/v1/send/t3", &fifty);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.json.at("pdus").as_object().size(), 50u);
  EXPECT_TRUE(ok.json.at("pdus").at("$7").as_object().contains("error"));
}

TEST_F(FederationTransactionsTest, ServesLocalKeysToOtherServers) {
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  const object device_keys = DeviceKeys(bob);
  ApiResponse uploaded =
      Upload(bob, {{"device_keys", device_keys}, {"one_time_keys", OneTimeKeys(bob, 2)}});
  ASSERT_EQ(uploaded.status, 200) << uploaded.body;

  const object query{
      {"device_keys", object{{bob.user_id, array{}}, {"@someone:remote.example", array{}}}}};
  ApiResponse keys = Signed("POST", "/_matrix/federation/v1/user/keys/query", &query);
  ASSERT_EQ(keys.status, 200) << keys.body;
  object served = keys.json.at("device_keys").at(bob.user_id).at("BOBDEV").as_object();
  served.erase("unsigned");
  EXPECT_EQ(served, device_keys);
  EXPECT_FALSE(keys.json.at("device_keys").as_object().contains("@someone:remote.example"));
  EXPECT_FALSE(keys.json.contains("user_signing_keys"));

  const object claim{
      {"one_time_keys", object{{bob.user_id, object{{"BOBDEV", "signed_curve25519"}}}}}};
  ApiResponse claimed = Signed("POST", "/_matrix/federation/v1/user/keys/claim", &claim);
  ASSERT_EQ(claimed.status, 200) << claimed.body;
  const object& key = claimed.json.at("one_time_keys").at(bob.user_id).at("BOBDEV").as_object();
  ASSERT_EQ(key.size(), 1u);
  EXPECT_TRUE(key.begin()->key().starts_with("signed_curve25519:AAAA"));
  EXPECT_EQ(OneTimeKeyCount(bob), 1);

  ApiResponse devices = Signed("GET", "/_matrix/federation/v1/user/devices/%40bob%3Aexample.org");
  ASSERT_EQ(devices.status, 200) << devices.body;
  EXPECT_EQ(devices.json.at("user_id").as_string(), bob.user_id);
  EXPECT_TRUE(devices.json.at("stream_id").is_number());
  const array& list = devices.json.at("devices").as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("device_id"), "BOBDEV");
  EXPECT_EQ(list[0].at("keys"), device_keys);

  ApiResponse unknown =
      Signed("GET", "/_matrix/federation/v1/user/devices/%40nobody%3Aexample.org");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(unknown.errcode(), Errcode::kNotFound);
  const object bad_query{{"device_keys", array{}}};
  ApiResponse bad = Signed("POST", "/_matrix/federation/v1/user/keys/query", &bad_query);
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(bad.errcode(), Errcode::kBadJson);
}

TEST_F(FederationTransactionsTest, ClientRequestsForUnreachableServersAreFailures) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  ApiResponse query = Post(
      "/_matrix/client/v3/keys/query",
      {{"device_keys", object{{"@bob:remote.example", array{}}}}, {"timeout", 2000}}, alice.token);
  ASSERT_EQ(query.status, 200) << query.body;
  EXPECT_EQ(query.json.at("failures").at("remote.example").at("status"), 503);
  ApiResponse claim = Post(
      "/_matrix/client/v3/keys/claim",
      {{"one_time_keys", object{{"@bob:remote.example", object{{"DEV", "signed_curve25519"}}}}}},
      alice.token);
  ASSERT_EQ(claim.status, 200) << claim.body;
  EXPECT_TRUE(claim.json.at("failures").as_object().contains("remote.example"));
  ApiResponse bad_timeout = Post(
      "/_matrix/client/v3/keys/query",
      {{"device_keys", object{{"@bob:remote.example", array{}}}}, {"timeout", -1}}, alice.token);
  EXPECT_EQ(bad_timeout.status, 400) << bad_timeout.body;
}

TEST_F(FederationTransactionsTest, ToDeviceForRemoteUsersIsQueued) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  ApiResponse sent = Put(
      "/_matrix/client/v3/sendToDevice/m.room.encrypted/t1",
      {{"messages", object{{"@bob:remote.example", object{{"*", object{{"ciphertext", "x"}}}}}}}},
      alice.token);
  ASSERT_EQ(sent.status, 200) << sent.body;
  auto destinations = hs().transaction_queue().Destinations();
  ASSERT_TRUE(destinations.ok());
  ASSERT_EQ(destinations->size(), 1u);
  EXPECT_EQ((*destinations)[0].destination, "remote.example");
  EXPECT_EQ((*destinations)[0].queued_edus, 1u);
}

}  // namespace
}  // namespace conclave::federation
