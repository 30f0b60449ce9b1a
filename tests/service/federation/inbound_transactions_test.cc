// Inbound transactions over a real Homeserver and RocksDB (inbound_transactions.h, wired to
// e2ee by the Homeserver): idempotency per (origin, txnId), the limits, per-PDU results, and the
// E2EE EDUs (m.direct_to_device deduplicated by message_id, sender checked against the origin;
// device list and signing key updates recorded as key changes); unknown EDUs ignored. Also the
// sending side of to-device messages for other servers (queued as EDUs).
#include "conclave/service/federation/inbound_transactions.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

#include "conclave/database/key.h"
#include "conclave/service/e2ee/e2ee.h"
#include "conclave/service/federation/transaction_queue.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/verify.h"
#include "service/testing/homeserver_fixture.h"

namespace conclave::service {
namespace {

using boost::json::array;
using boost::json::object;

class InboundTransactionsTest : public test_util::HomeserverTest {
 protected:
  void SetUp() override {
    HomeserverTest::SetUp();
    bob_ = Register("bob");
  }

  // A transaction from remote.example with `edus` and `pdus`.
  object Txn(array edus, array pdus = {}) {
    return object{{"origin", "remote.example"},
                  {"origin_server_ts", 1},
                  {"pdus", std::move(pdus)},
                  {"edus", std::move(edus)}};
  }

  object ToDevice(const std::string& message_id,
                  const std::string& sender = "@alice:remote.example",
                  const std::string& device = "*") {
    return object{
        {"edu_type", "m.direct_to_device"},
        {"content", object{{"sender", sender},
                           {"type", "m.room_key_request"},
                           {"message_id", message_id},
                           {"messages",
                            object{{bob_.user_id, object{{device, object{{"x", message_id}}}}}}}}}};
  }

  absl::StatusOr<object> Receive(const std::string& txn_id, const object& body,
                                 const std::string& origin = "remote.example") {
    return hs_->inbound_transactions().Receive(origin, txn_id, body);
  }

  // bob's pending to-device messages.
  std::vector<ToDeviceMessage> BobsMessages() {
    auto messages =
        hs_->e2ee().ToDeviceForSync(bob_.user_id, bob_.device_id, std::nullopt, UINT64_MAX);
    EXPECT_TRUE(messages.ok()) << messages.status();
    return messages.ok() ? *messages : std::vector<ToDeviceMessage>{};
  }

  // The users of the e2ee_key_changes rows.
  std::vector<std::string> KeyChanges() {
    std::vector<std::string> users;
    auto map = db_->OpenMap(schema::kKeyChangesMap);
    EXPECT_TRUE(map.ok());
    EXPECT_TRUE(db_->ForEachWithPrefix(**map, "",
                                       [&](std::string_view key, std::string_view) {
                                         database::KeyReader reader(key);
                                         (void)reader.ReadU64();
                                         users.push_back(std::string(*reader.ReadString()));
                                         return true;
                                       })
                    .ok());
    return users;
  }

  Session bob_;
};

TEST_F(InboundTransactionsTest, ToDeviceIsDeliveredOncePerMessageId) {
  auto first = Receive("t1", Txn(array{ToDevice("m1")}));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, (object{{"pdus", object()}}));
  std::vector<ToDeviceMessage> messages = BobsMessages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].sender, "@alice:remote.example");
  EXPECT_EQ(messages[0].type, "m.room_key_request");
  EXPECT_EQ(messages[0].content, (object{{"x", "m1"}}));

  // The same transaction again: the same answer, nothing done again.
  auto repeat = Receive("t1", Txn(array{ToDevice("m1")}));
  ASSERT_TRUE(repeat.ok());
  EXPECT_EQ(*repeat, *first);
  // Another transaction carrying the same message_id (a resend): delivered once still.
  ASSERT_TRUE(Receive("t2", Txn(array{ToDevice("m1"), ToDevice("m2")})).ok());
  messages = BobsMessages();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1].content, (object{{"x", "m2"}}));
}

TEST_F(InboundTransactionsTest, ToDeviceFromAnotherServersUserIsRefusedNotTheTransaction) {
  auto result =
      Receive("t1", Txn(array{ToDevice("m1", "@mallory:elsewhere.example"),
                              ToDevice("m2", "@alice:remote.example", "NOSUCHDEVICE"),
                              object{{"edu_type", "m.unknown.type"}, {"content", object{{"a", 1}}}},
                              object{{"edu_type", "m.direct_to_device"}}}));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(BobsMessages().empty());
}

TEST_F(InboundTransactionsTest, LimitsAreM_BAD_JSON) {
  array pdus, edus;
  for (int i = 0; i < 51; ++i) pdus.push_back(object{{"event_id", "$" + std::to_string(i)}});
  for (int i = 0; i < 101; ++i) edus.push_back(ToDevice("m" + std::to_string(i)));
  auto too_many_pdus = Receive("t1", Txn(array{}, pdus));
  ASSERT_FALSE(too_many_pdus.ok());
  EXPECT_EQ(ErrcodeOf(too_many_pdus.status()), Errcode::kBadJson);
  auto too_many_edus = Receive("t2", Txn(edus));
  ASSERT_FALSE(too_many_edus.ok());
  EXPECT_EQ(ErrcodeOf(too_many_edus.status()), Errcode::kBadJson);
  EXPECT_TRUE(BobsMessages().empty());  // nothing of it processed
  auto wrong_origin = Receive("t3", Txn(array{ToDevice("m1")}), "other.example");
  ASSERT_FALSE(wrong_origin.ok());
  EXPECT_EQ(ErrcodeOf(wrong_origin.status()), Errcode::kBadJson);
  auto not_array = Receive("t4", object{{"origin", "remote.example"}, {"pdus", object()}});
  ASSERT_FALSE(not_array.ok());
  EXPECT_EQ(ErrcodeOf(not_array.status()), Errcode::kBadJson);
  // At the limits: fine.
  pdus.pop_back();
  edus.pop_back();
  auto full = Receive("t5", Txn(edus, pdus));
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->at("pdus").as_object().size(), 50u);
}

TEST_F(InboundTransactionsTest, EachPduGetsAnErrorForNow) {
  object v4_pdu{{"type", "m.room.message"},
                {"room_id", "!r:remote.example"},
                {"sender", "@alice:remote.example"},
                {"content", object{{"body", "hi"}}},
                {"origin_server_ts", 1},
                {"depth", 3},
                {"prev_events", array{}},
                {"auth_events", array{}},
                {"hashes", object{{"sha256", "x"}}}};
  auto result =
      Receive("t1", Txn(array{}, array{object{{"event_id", "$v1:remote.example"}}, v4_pdu, 42}));
  ASSERT_TRUE(result.ok()) << result.status();
  const object& pdus = result->at("pdus").as_object();
  ASSERT_EQ(pdus.size(), 2u);
  EXPECT_THAT(std::string(pdus.at("$v1:remote.example").at("error").as_string()),
              ::testing::HasSubstr("not accepted"));
  for (const auto& [id, r] : pdus) {
    EXPECT_TRUE(id.starts_with("$"));
    EXPECT_TRUE(r.as_object().contains("error"));
  }
}

TEST_F(InboundTransactionsTest, DeviceListAndSigningKeyUpdatesAreKeyChanges) {
  const uint64_t before = hs_->stream().current();
  auto result = Receive(
      "t1", Txn(array{object{{"edu_type", "m.device_list_update"},
                             {"content", object{{"user_id", "@alice:remote.example"},
                                                {"device_id", "D"},
                                                {"stream_id", 5},
                                                {"prev_id", array{}}}}},
                      object{{"edu_type", "m.signing_key_update"},
                             {"content", object{{"user_id", "@carol:remote.example"}}}},
                      // not a user of the origin: refused, the transaction goes on
                      object{{"edu_type", "m.device_list_update"},
                             {"content", object{{"user_id", "@dave:elsewhere.example"}}}}}));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(hs_->stream().current(), before + 2);
  EXPECT_THAT(KeyChanges(),
              ::testing::IsSupersetOf({"@alice:remote.example", "@carol:remote.example"}));
  EXPECT_THAT(KeyChanges(), ::testing::Not(::testing::Contains("@dave:elsewhere.example")));
}

TEST_F(InboundTransactionsTest, VerifyAcceptsTheRowsOfOtherServersUsers) {
  ASSERT_TRUE(
      Receive("t1", Txn(array{ToDevice("m1"),
                              object{{"edu_type", "m.device_list_update"},
                                     {"content", object{{"user_id", "@alice:remote.example"}}}}}))
          .ok());
  auto report = VerifyDatabase(hs_->store(), {.server_name = "example.org"});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->problem_count, 0u)
      << (report->problems.empty() ? "" : report->problems.front().problem);
  // Without the server name, they are users without records.
  auto strict = VerifyDatabase(hs_->store(), {});
  ASSERT_TRUE(strict.ok());
  EXPECT_EQ(strict->problem_count, 2u);
}

TEST_F(InboundTransactionsTest, AnswersSurviveAReopen) {
  ASSERT_TRUE(Receive("t1", Txn(array{ToDevice("m1")})).ok());
  Reopen();
  auto repeat = Receive("t1", Txn(array{ToDevice("m1")}));
  ASSERT_TRUE(repeat.ok());
  EXPECT_EQ(*repeat, (object{{"pdus", object()}}));
  EXPECT_EQ(BobsMessages().size(), 1u);
}

TEST_F(InboundTransactionsTest, ToDeviceForOtherServersIsQueuedAsOneEduPerServer) {
  const object messages{{"@alice:remote.example", object{{"*", object{{"a", 1}}}}},
                        {"@carol:remote.example", object{{"DEV", object{{"c", 3}}}}},
                        {"@erin:third.example", object{{"E", object{{"e", 5}}}}},
                        {bob_.user_id, object{{bob_.device_id, object{{"b", 2}}}}}};
  ASSERT_TRUE(hs_->e2ee().SendToDevice(bob_, "m.room_key", "txn1", messages).ok());
  // Idempotent per client transaction: queued once.
  ASSERT_TRUE(hs_->e2ee().SendToDevice(bob_, "m.room_key", "txn1", messages).ok());
  EXPECT_EQ(BobsMessages().size(), 1u);
  auto destinations = hs_->transaction_queue().Destinations();
  ASSERT_TRUE(destinations.ok());
  ASSERT_EQ(destinations->size(), 2u);
  EXPECT_EQ((*destinations)[0].destination, "remote.example");
  EXPECT_EQ((*destinations)[0].queued_edus, 1u);
  EXPECT_EQ((*destinations)[1].destination, "third.example");
  EXPECT_EQ((*destinations)[1].queued_edus, 1u);

  auto map = db_->OpenMap(schema::kOutboundEdusMap);
  ASSERT_TRUE(map.ok());
  std::vector<object> edus;
  ASSERT_TRUE(db_->ForEachWithPrefix(**map, "",
                                     [&](std::string_view, std::string_view text) {
                                       edus.push_back(boost::json::parse(text).as_object());
                                       return true;
                                     })
                  .ok());
  ASSERT_EQ(edus.size(), 2u);
  EXPECT_EQ(edus[0].at("edu_type"), "m.direct_to_device");
  const object& content = edus[0].at("content").as_object();
  EXPECT_EQ(content.at("sender").as_string(), bob_.user_id);
  EXPECT_EQ(content.at("type"), "m.room_key");
  EXPECT_EQ(content.at("message_id").as_string(), bob_.device_id + "/txn1");
  EXPECT_EQ(content.at("messages"),
            (object{{"@alice:remote.example", object{{"*", object{{"a", 1}}}}},
                    {"@carol:remote.example", object{{"DEV", object{{"c", 3}}}}}}));
}

}  // namespace
}  // namespace conclave::service
