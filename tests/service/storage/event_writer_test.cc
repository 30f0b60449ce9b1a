// EventWriter writes exactly the rows of an event that its kind calls for, all in one batch.
#include "conclave/service/storage/event_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

#include "conclave/database/write_batch.h"
#include "conclave/service/storage/schema.h"
#include "service/testing/homeserver_fixture.h"

namespace conclave::service {
namespace {

class EventWriterTest : public test_util::HomeserverTest {
 protected:
  void Write(const EventRows& rows, uint64_t position) {
    database::WriteBatch batch;
    EventWriter(hs_->store()).Put(rows, position, batch);
    ASSERT_TRUE(db_->Write(batch).ok());
  }
  std::optional<std::string> Find(const database::Map& map, std::string_view key) {
    auto value = hs_->store().Find(map, key);
    EXPECT_TRUE(value.ok()) << value.status();
    return value.ok() ? *value : std::nullopt;
  }
};

TEST_F(EventWriterTest, MessageWithTransactionGetsTimelineEventsMessageIndexAndTxnRows) {
  const Store& store = hs_->store();
  Write(EventRows{.room_id = "!r:example.org",
                  .event_id = "$m",
                  .type = "m.room.message",
                  .sender = "@a:example.org",
                  .json = R"({"event_id":"$m"})",
                  .device_id = "DEV",
                  .txn_id = "t1"},
        1000);
  const std::string timeline_key = schema::TimelineKey("!r:example.org", 1000);
  EXPECT_EQ(Find(*store.timeline, timeline_key), R"({"event_id":"$m"})");
  EXPECT_EQ(Find(*store.events, "$m"), timeline_key);
  EXPECT_EQ(Find(*store.message_index, timeline_key), "@a:example.org");
  EXPECT_EQ(Find(*store.txn_ids, schema::TxnKey("@a:example.org", "DEV", "t1")), "$m");
  EXPECT_EQ(Find(*store.room_state, schema::StateKeyOf("!r:example.org", "m.room.message", "")),
            std::nullopt);
}

TEST_F(EventWriterTest, MembershipGetsStateAndBothMembershipIndexesButNoMessageIndex) {
  const Store& store = hs_->store();
  Write(EventRows{.room_id = "!r:example.org",
                  .event_id = "$j",
                  .type = "m.room.member",
                  .sender = "@b:example.org",
                  .state_key = "@b:example.org",
                  .membership = "join",
                  .json = "{}"},
        1001);
  EXPECT_EQ(Find(*store.room_state,
                 schema::StateKeyOf("!r:example.org", "m.room.member", "@b:example.org")),
            "$j");
  auto member = Find(*store.room_members, schema::PairKey("!r:example.org", "@b:example.org"));
  ASSERT_TRUE(member.has_value());
  EXPECT_EQ(boost::json::parse(*member).as_object().at("membership").as_string(), "join");
  EXPECT_EQ(boost::json::parse(*member).as_object().at("pos").to_number<uint64_t>(), 1001u);
  EXPECT_EQ(Find(*store.user_rooms, schema::PairKey("@b:example.org", "!r:example.org")), member);
  EXPECT_EQ(Find(*store.message_index, schema::TimelineKey("!r:example.org", 1001)), std::nullopt);
}

TEST_F(EventWriterTest, RedactionRewritesItsTargetInPlace) {
  const Store& store = hs_->store();
  Write(EventRows{.room_id = "!r:example.org",
                  .event_id = "$x",
                  .type = "m.room.redaction",
                  .sender = "@a:example.org",
                  .json = R"({"event_id":"$x"})",
                  .redacted_position = 7,
                  .redacted_json = R"({"event_id":"$old","content":{}})"},
        1002);
  EXPECT_EQ(Find(*store.timeline, schema::TimelineKey("!r:example.org", 7)),
            R"({"event_id":"$old","content":{}})");
}

}  // namespace
}  // namespace conclave::service
