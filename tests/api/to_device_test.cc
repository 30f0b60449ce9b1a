// PUT /sendToDevice (to_device.yaml), GET /keys/changes, and what /sync says of both
// (to_device, device_lists), through the Router.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "conclave/core/notifier.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/verify.h"
#include "e2ee_harness.h"

namespace conclave::api::test_util {
namespace {

using boost::json::array;
using boost::json::object;
using ::testing::Contains;
using ::testing::Not;

class ToDeviceTest : public E2eeApiTest {
 protected:
  ApiResponse SendToDevice(const TestDevice& from, const std::string& txn, const object& messages,
                           const std::string& type = "m.room_key_request") {
    return Put("/_matrix/client/v3/sendToDevice/" + type + "/" + txn, {{"messages", messages}},
               from.token);
  }
  static array ToDeviceEvents(const ApiResponse& sync) {
    return sync.json.at("to_device").at("events").as_array();
  }
  static std::vector<std::string> DeviceList(const ApiResponse& sync, const char* which) {
    std::vector<std::string> out;
    for (const auto& u : sync.json.at("device_lists").at(which).as_array()) {
      out.emplace_back(u.as_string());
    }
    return out;
  }
  // A public room created by `creator` and joined by `joiner`.
  std::string SharedRoom(const TestDevice& creator, const TestDevice& joiner) {
    ApiResponse room =
        Post("/_matrix/client/v3/createRoom", {{"preset", "public_chat"}}, creator.token);
    EXPECT_EQ(room.status, 200) << room.body;
    std::string room_id(room.json.at("room_id").as_string());
    EXPECT_EQ(Post("/_matrix/client/v3/rooms/" + room_id + "/join", {}, joiner.token).status, 200);
    return room_id;
  }
};

TEST_F(ToDeviceTest, MessageIsDeliveredUntilALaterSyncAcknowledgesIt) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  const std::string start = NextBatch(Sync(bob));
  ASSERT_EQ(SendToDevice(alice, "t1", {{bob.user_id, object{{"BOBDEV", object{{"n", 1}}}}}}).status,
            200);
  ApiResponse first = Sync(bob, start);
  array events = ToDeviceEvents(first);
  ASSERT_EQ(events.size(), 1u) << first.body;
  EXPECT_EQ(events[0].at("sender").as_string(), alice.user_id);
  EXPECT_EQ(events[0].at("type").as_string(), "m.room_key_request");
  EXPECT_EQ(events[0].at("content"), (object{{"n", 1}}));
  // The client did not get that response: syncing from the same token delivers it again.
  EXPECT_EQ(ToDeviceEvents(Sync(bob, start)).size(), 1u);
  // A sync from the token after it proves receipt: gone.
  ApiResponse after = Sync(bob, NextBatch(first));
  EXPECT_TRUE(ToDeviceEvents(after).empty()) << after.body;
  EXPECT_TRUE(ToDeviceEvents(Sync(bob, start)).empty());
  EXPECT_EQ(*hs().e2ee().PendingToDevice(bob.user_id, "BOBDEV"), 0u);
}

TEST_F(ToDeviceTest, ReplayedTxnIdStoresNothingTwice) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  const object messages{{bob.user_id, object{{"BOBDEV", object{{"n", 1}}}}}};
  EXPECT_EQ(SendToDevice(alice, "same", messages).status, 200);
  ApiResponse replay = SendToDevice(alice, "same", messages);
  EXPECT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(*hs().e2ee().PendingToDevice(bob.user_id, "BOBDEV"), 1u);
  EXPECT_EQ(ToDeviceEvents(Sync(bob)).size(), 1u);
  // The same txn id from another device of the sender is another transaction.
  TestDevice alice2 = LoginDevice("alice", "ALICEDEV2");
  EXPECT_EQ(SendToDevice(alice2, "same", messages).status, 200);
  EXPECT_EQ(*hs().e2ee().PendingToDevice(bob.user_id, "BOBDEV"), 2u);
}

TEST_F(ToDeviceTest, StarReachesEveryDeviceOfTheUser) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  TestDevice bob2 = LoginDevice("bob", "BOBDEV2");
  ASSERT_EQ(SendToDevice(alice, "t", {{bob.user_id, object{{"*", object{{"x", true}}}}}}).status,
            200);
  EXPECT_EQ(ToDeviceEvents(Sync(bob)).size(), 1u);
  EXPECT_EQ(ToDeviceEvents(Sync(bob2)).size(), 1u);
  EXPECT_TRUE(ToDeviceEvents(Sync(alice)).empty());
}

TEST_F(ToDeviceTest, BadMessagesAreRefusedAndNothingStored) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  ApiResponse missing = Put("/_matrix/client/v3/sendToDevice/m.x/t1", object(), alice.token);
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.errcode(), service::Errcode::kMissingParam);
  ApiResponse bad_user = SendToDevice(alice, "t2", {{"bob", object{{"BOBDEV", object()}}}});
  EXPECT_EQ(bad_user.errcode(), service::Errcode::kInvalidParam);
  ApiResponse bad_content = SendToDevice(alice, "t3", {{bob.user_id, object{{"BOBDEV", 7}}}});
  EXPECT_EQ(bad_content.errcode(), service::Errcode::kBadJson);
  EXPECT_EQ(*hs().e2ee().PendingToDevice(bob.user_id, "BOBDEV"), 0u);
  // A refused request did not use up its txn id.
  EXPECT_EQ(SendToDevice(alice, "t3", {{bob.user_id, object{{"BOBDEV", object()}}}}).status, 200);
  EXPECT_EQ(*hs().e2ee().PendingToDevice(bob.user_id, "BOBDEV"), 1u);
}

TEST_F(ToDeviceTest, SendWakesTheRecipientsWaitingSync) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  const std::string since = NextBatch(Sync(bob));
  core::Request request;
  request.method = "GET";
  request.target = "/_matrix/client/v3/sync?timeout=30000&since=" + since;
  request.path = "/_matrix/client/v3/sync";
  request.query = "timeout=30000&since=" + since;
  request.headers.emplace_back("Authorization", "Bearer " + bob.token);
  core::Response waiting;
  ASSERT_EQ(server_->router().Dispatch(request, waiting), core::Router::Outcome::kHandled);
  ASSERT_TRUE(waiting.wait.has_value()) << "nothing new: the sync should wait";
  EXPECT_EQ(server_->notifier().Version(waiting.wait->key), waiting.wait->seen_version);
  ASSERT_EQ(SendToDevice(alice, "t", {{bob.user_id, object{{"BOBDEV", object()}}}}).status, 200);
  EXPECT_NE(server_->notifier().Version(waiting.wait->key), waiting.wait->seen_version);
}

TEST_F(ToDeviceTest, DeviceListsReportKeyChangesOfUsersSharingARoom) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  TestDevice carol = RegisterDevice("carol", "CAROLDEV");  // shares no room with alice
  SharedRoom(alice, bob);
  const std::string since = NextBatch(Sync(alice));
  ASSERT_EQ(Upload(bob, {{"device_keys", DeviceKeys(bob)}}).status, 200);
  ASSERT_EQ(Upload(carol, {{"device_keys", DeviceKeys(carol)}}).status, 200);
  ApiResponse sync = Sync(alice, since);
  EXPECT_THAT(DeviceList(sync, "changed"), Contains(bob.user_id)) << sync.body;
  EXPECT_THAT(DeviceList(sync, "changed"), Not(Contains(carol.user_id)));
  ApiResponse changes =
      Get("/_matrix/client/v3/keys/changes?from=" + since + "&to=" + NextBatch(sync), alice.token);
  ASSERT_EQ(changes.status, 200) << changes.body;
  EXPECT_EQ(changes.json.at("changed"), (array{bob.user_id}));
  // Nothing new since: empty lists.
  ApiResponse later = Sync(alice, NextBatch(sync));
  EXPECT_TRUE(DeviceList(later, "changed").empty()) << later.body;
}

TEST_F(ToDeviceTest, JoiningAndLeavingShowInDeviceLists) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  const std::string before = NextBatch(Sync(alice));
  const std::string room_id = SharedRoom(alice, bob);
  ApiResponse joined = Sync(alice, before);
  EXPECT_THAT(DeviceList(joined, "changed"), Contains(bob.user_id)) << joined.body;
  ASSERT_EQ(Post("/_matrix/client/v3/rooms/" + room_id + "/leave", {}, bob.token).status, 200);
  ApiResponse left = Sync(alice, NextBatch(joined));
  EXPECT_THAT(DeviceList(left, "left"), Contains(bob.user_id)) << left.body;
  EXPECT_THAT(DeviceList(left, "changed"), Not(Contains(bob.user_id)));
}

TEST_F(ToDeviceTest, LoggingOutRemovesKeysAndMessagesAndShowsInDeviceLists) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  TestDevice bob = RegisterDevice("bob", "BOBDEV");
  SharedRoom(alice, bob);
  ASSERT_EQ(Upload(bob, {{"device_keys", DeviceKeys(bob)},
                         {"one_time_keys", OneTimeKeys(bob, 2)},
                         {"fallback_keys", object{{"signed_curve25519:F", SignedKey(bob, true)}}}})
                .status,
            200);
  ASSERT_EQ(SendToDevice(alice, "t", {{bob.user_id, object{{"BOBDEV", object()}}}}).status, 200);
  const std::string since = NextBatch(Sync(alice));
  ASSERT_EQ(Post("/_matrix/client/v3/logout", {}, bob.token).status, 200);
  EXPECT_TRUE(QueryDevices(alice, bob.user_id).empty());
  EXPECT_EQ(*hs().e2ee().PendingToDevice(bob.user_id, "BOBDEV"), 0u);
  ApiResponse claim =
      Post("/_matrix/client/v3/keys/claim",
           {{"one_time_keys", object{{bob.user_id, object{{"BOBDEV", "signed_curve25519"}}}}}},
           alice.token);
  EXPECT_TRUE(claim.json.at("one_time_keys").as_object().empty()) << claim.body;
  EXPECT_THAT(DeviceList(Sync(alice, since), "changed"), Contains(bob.user_id));
  auto report = service::VerifyDatabase(hs().store());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << report->problems.front().problem;
}

TEST_F(ToDeviceTest, VerifyFindsAMessageForADeviceThatIsGone) {
  TestDevice alice = RegisterDevice("alice", "ALICEDEV");
  ASSERT_EQ(SendToDevice(alice, "t", {{alice.user_id, object{{"ALICEDEV", object()}}}}).status,
            200);
  auto clean = service::VerifyDatabase(hs().store());
  ASSERT_TRUE(clean.ok());
  EXPECT_TRUE(clean->ok()) << clean->problems.front().problem;
  auto map = hs().store().db->OpenMap(service::schema::kToDeviceMap);
  ASSERT_TRUE(map.ok());
  ASSERT_TRUE(hs().store()
                  .db->Put(**map, service::schema::ToDeviceKey(alice.user_id, "GONE", 1), "{}")
                  .ok());
  auto report = service::VerifyDatabase(hs().store());
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->problem_count, 1u);
  EXPECT_EQ(report->problems[0].map, service::schema::kToDeviceMap);
  EXPECT_THAT(report->problems[0].problem, ::testing::HasSubstr("does not exist"));
}

}  // namespace
}  // namespace conclave::api::test_util
