// VerifyDatabase over a real RocksDB: a homeserver built through its own API verifies clean (also
// while another thread writes), and each kind of damage done directly through the database is
// reported as the specific problem it is.
#include "conclave/service/storage/verify.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <memory>
#include <string>
#include <thread>

#include "conclave/core/config.h"
#include "conclave/core/server.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/database.h"
#include "conclave/database/key.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/rooms/rooms.h"
#include "service/testing/homeserver_fixture.h"

namespace conclave::service {
namespace {

using ::testing::HasSubstr;

std::string Pair(std::string_view a, std::string_view b) {
  return database::KeyBuilder().AppendString(a).AppendString(b).Build();
}
std::string Triple(std::string_view a, std::string_view b, std::string_view c) {
  return database::KeyBuilder().AppendString(a).AppendString(b).AppendString(c).Build();
}
std::string TimelineKey(std::string_view room_id, uint64_t position) {
  return database::KeyBuilder().AppendString(room_id).AppendU64(position).Build();
}

std::string Describe(const VerifyReport& report) {
  std::string out = core::StrCat(report.problem_count, " problems:\n");
  for (const VerifyProblem& p : report.problems) {
    core::StrAppend(&out, "  ", p.map, " [", p.key, "] ", p.problem, "\n");
  }
  return out;
}

// Whether `report` lists a problem of `map` whose key contains `key` and whose text contains
// `text`.
bool Has(const VerifyReport& report, std::string_view map, std::string_view key,
         std::string_view text) {
  for (const VerifyProblem& p : report.problems) {
    if (p.map == map && p.key.find(key) != std::string::npos &&
        p.problem.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

uint64_t Records(const VerifyReport& report, std::string_view map) {
  for (const auto& [name, count] : report.records) {
    if (name == map) return count;
  }
  return 0;
}

class VerifyTest : public test_util::HomeserverTest {
 protected:
  void SetUp() override {
    HomeserverTest::SetUp();

    alice_ = Register("alice");
    bob_ = Register("bob");
    auto created = rooms().CreateRoom(alice_, {.preset = CreateRoomRequest::Preset::kPublicChat,
                                               .name = "Lobby",
                                               .room_alias_name = "lobby"});
    ASSERT_TRUE(created.ok()) << created.status();
    room_ = created->room_id;
    ASSERT_TRUE(rooms().Join(bob_, room_, std::nullopt).ok());
    first_ = Send(alice_, "hello", "t1");
    second_ = Send(bob_, "hi", "t1");
    third_ = Send(alice_, "how are you", "t2");
    ASSERT_TRUE(
        rooms()
            .SendState(alice_, room_, "m.room.topic", "", boost::json::object{{"topic", "chat"}})
            .ok());
    ASSERT_TRUE(rooms().SetReceipt(bob_, room_, "m.read", second_).ok());
    auto redacted = rooms().Redact(alice_, room_, first_, "r1", std::string("oops"));
    ASSERT_TRUE(redacted.ok()) << redacted.status();
    ASSERT_TRUE(
        hs_->accounts().SetAccountData(bob_.user_id, "", "m.direct", boost::json::object{}).ok());
    ASSERT_TRUE(hs_->accounts().CreateFilter(bob_.user_id, boost::json::object{}).ok());
    // A room bob left and forgot: room_members stays, user_rooms goes.
    auto other = rooms().CreateRoom(alice_, {.preset = CreateRoomRequest::Preset::kPublicChat});
    ASSERT_TRUE(other.ok());
    other_room_ = other->room_id;
    ASSERT_TRUE(rooms().Join(bob_, other_room_, std::nullopt).ok());
    ASSERT_TRUE(rooms().Leave(bob_, other_room_, std::nullopt).ok());
    ASSERT_TRUE(rooms().Forget(bob_, other_room_).ok());
  }

  std::string Send(const Session& who, const std::string& body, const std::string& txn) {
    auto r = rooms().Send(who, room_, "m.room.message", txn,
                          boost::json::object{{"msgtype", "m.text"}, {"body", body}});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : "";
  }
  Store& store() { return hs_->store(); }
  uint64_t PositionOf(const std::string& event_id) {
    auto event = rooms().EventById(event_id);
    EXPECT_TRUE(event.ok()) << event.status();
    return event.ok() ? event->position : 0;
  }
  std::string Get(const database::Map& map, std::string_view key) {
    auto value = db_->Get(map, key);
    EXPECT_TRUE(value.ok()) << value.status();
    return value.ok() ? *value : "";
  }
  void Put(const database::Map& map, std::string_view key, std::string_view value) {
    ASSERT_TRUE(db_->Put(map, key, value).ok());
  }
  void Delete(const database::Map& map, std::string_view key) {
    ASSERT_TRUE(db_->Delete(map, key).ok());
  }
  VerifyReport Verify(VerifyOptions options = {}) {
    auto report = VerifyDatabase(store(), options);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *std::move(report) : VerifyReport{};
  }

  Session alice_, bob_;
  std::string room_, other_room_;
  std::string first_, second_, third_;
};

TEST_F(VerifyTest, ACleanHomeserverVerifies) {
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok()) << Describe(report);
  EXPECT_EQ(report.stream_position, hs_->stream().current());
  // Two rooms of the users, plus the admin room the first registration made.
  EXPECT_EQ(Records(report, "rooms"), 3u);
  EXPECT_GE(Records(report, "timeline"), 20u);
  EXPECT_EQ(Records(report, "timeline"), Records(report, "events"));
  EXPECT_EQ(Records(report, "message_index"), 3u);
  EXPECT_EQ(Records(report, "txn_ids"), 4u);  // three messages and the redaction
  EXPECT_EQ(Records(report, "aliases"), Records(report, "room_aliases"));
  EXPECT_GE(Records(report, "access_tokens"), 2u);
  EXPECT_EQ(Records(report, "receipts"), 1u);
  EXPECT_EQ(Records(report, "room_members"), Records(report, "user_rooms") + 1);  // the forget

  // The same after a restart: nothing depends on the caches.
  Reopen();
  EXPECT_TRUE(Verify().ok());
}

TEST_F(VerifyTest, ConsistentWhileAnotherThreadWrites) {
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::thread writer([&] {
    for (int i = 0; !stop.load() && i < 2000; ++i) {
      auto r = rooms().Send(bob_, room_, "m.room.message", core::StrCat("w", i),
                            boost::json::object{{"msgtype", "m.text"}, {"body", "x"}});
      if (!r.ok()) continue;
      ++sent;
      if (i % 7 == 0) rooms().SetReceipt(bob_, room_, "m.read", *r).IgnoreError();
    }
  });
  int verified = 0;
  while (sent.load() < 300 && verified < 200) {
    VerifyReport report = Verify();
    EXPECT_TRUE(report.ok()) << Describe(report);
    if (!report.ok()) break;  // (the writer thread is joined below)
    ++verified;
  }
  stop.store(true);
  writer.join();
  EXPECT_GT(verified, 0);
  EXPECT_TRUE(Verify().ok());
}

TEST_F(VerifyTest, ALostTimelineEntryBreaksTheChainAndItsIndexes) {
  const uint64_t position = PositionOf(second_);
  Delete(*store().timeline, TimelineKey(room_, position));
  VerifyReport report = Verify();
  EXPECT_FALSE(report.ok());
  const std::string key = core::StrCat(room_, " | ", position);
  EXPECT_TRUE(Has(report, "events", second_, "which does not exist")) << Describe(report);
  EXPECT_TRUE(Has(report, "message_index", key, "indexes no timeline event")) << Describe(report);
  EXPECT_TRUE(Has(report, "timeline", room_, "but the room's previous event is"))
      << Describe(report);
  EXPECT_TRUE(Has(report, "txn_ids", bob_.user_id, "is indexed but missing from the timeline"))
      << Describe(report);
  EXPECT_TRUE(Has(report, "receipts", bob_.user_id, "is indexed but missing")) << Describe(report);
}

TEST_F(VerifyTest, AMissingOrDanglingEventsEntry) {
  Delete(*store().events, third_);
  Put(*store().events, "$dangling", TimelineKey(room_, 999999));
  VerifyReport report = Verify();
  EXPECT_EQ(report.problem_count, 3u) << Describe(report);
  EXPECT_TRUE(Has(report, "timeline", room_, third_ + " has no events entry")) << Describe(report);
  EXPECT_TRUE(Has(report, "txn_ids", alice_.user_id + " | " + alice_.device_id + " | t2",
                  third_ + " is not stored (no events entry)"))
      << Describe(report);
  EXPECT_TRUE(Has(report, "events", "$dangling", "999999, which does not exist"))
      << Describe(report);
}

TEST_F(VerifyTest, MessageIndexEntriesMustMatchTheMessages) {
  const uint64_t position = PositionOf(third_);
  Delete(*store().message_index, TimelineKey(room_, position));
  Put(*store().message_index, TimelineKey(room_, PositionOf(second_)), alice_.user_id);
  Put(*store().message_index, TimelineKey(room_, 1), bob_.user_id);  // 1 is not in this room
  VerifyReport report = Verify();
  EXPECT_TRUE(Has(report, "timeline", core::StrCat(room_, " | ", position),
                  "a message without its message_index entry"))
      << Describe(report);
  EXPECT_TRUE(Has(report, "message_index", room_, "names sender " + alice_.user_id))
      << Describe(report);
  EXPECT_TRUE(Has(report, "message_index", core::StrCat(room_, " | 1"), "")) << Describe(report);
}

TEST_F(VerifyTest, RoomStateMustNameTheLatestStateEvents) {
  // Missing: the topic's entry. Wrong: the name's entry names a message.
  Delete(*store().room_state, Triple(room_, "m.room.topic", ""));
  Put(*store().room_state, Triple(room_, "m.room.name", ""), third_);
  Put(*store().room_state, Triple(room_, "m.room.avatar", ""), third_);
  VerifyReport report = Verify();
  EXPECT_EQ(report.problem_count, 3u) << Describe(report);
  EXPECT_TRUE(Has(report, "room_state", room_ + " | m.room.topic | ",
                  "missing: the latest state event of this type and key is $"))
      << Describe(report);
  EXPECT_TRUE(Has(report, "room_state", room_ + " | m.room.name | ",
                  "points to " + third_ + ", but the latest state event"))
      << Describe(report);
  EXPECT_TRUE(Has(report, "room_state", room_ + " | m.room.avatar | ",
                  "the room's timeline has no state event of this type and key"))
      << Describe(report);
}

TEST_F(VerifyTest, MembershipIndexesMustAgreeWithTheMemberState) {
  // bob is joined; his membership indexes say he left (both), or one of them is gone.
  const std::string left = boost::json::serialize(
      boost::json::object{{"membership", "leave"}, {"pos", hs_->stream().current()}});
  Put(*store().room_members, Pair(room_, bob_.user_id), left);
  VerifyReport report = Verify();
  EXPECT_EQ(report.problem_count, 2u) << Describe(report);
  EXPECT_TRUE(Has(report, "room_members", room_ + " | " + bob_.user_id,
                  "but the current m.room.member event $"))
      << Describe(report);
  EXPECT_TRUE(
      Has(report, "user_rooms", bob_.user_id + " | " + room_, "but room_members says leave"))
      << Describe(report);

  Put(*store().user_rooms, Pair(bob_.user_id, room_), left);
  Delete(*store().user_rooms, Pair(alice_.user_id, room_));
  Delete(*store().room_members, Pair(other_room_, alice_.user_id));
  report = Verify();
  EXPECT_TRUE(Has(report, "room_members", room_ + " | " + alice_.user_id,
                  "join, but user_rooms has no entry"))
      << Describe(report);
  EXPECT_TRUE(Has(report, "room_members", other_room_ + " | " + alice_.user_id,
                  "missing: the current m.room.member event"))
      << Describe(report);
  EXPECT_TRUE(
      Has(report, "user_rooms", alice_.user_id + " | " + other_room_, "room_members has no entry"))
      << Describe(report);
}

TEST_F(VerifyTest, TransactionIdsAndTheStreamPosition) {
  Delete(*store().txn_ids, Triple(bob_.user_id, bob_.device_id, "t1"));
  Put(*store().txn_ids, Triple(alice_.user_id, alice_.device_id, "t9"), third_);
  Put(*store().txn_ids, Triple(alice_.user_id, alice_.device_id, "t8"), second_);
  VerifyReport report = Verify();
  EXPECT_EQ(report.problem_count, 3u) << Describe(report);
  EXPECT_TRUE(Has(report, "timeline", room_, "has no txn_ids entry (a retry stores it again)"))
      << Describe(report);
  EXPECT_TRUE(Has(report, "txn_ids", "t9", "which was not sent with this transaction"))
      << Describe(report);
  EXPECT_TRUE(Has(report, "txn_ids", "t8", "sent by " + bob_.user_id)) << Describe(report);

  // A stream position behind the stored events.
  Put(*store().stream, "position", database::KeyBuilder().AppendU64(5).Build());
  report = Verify();
  EXPECT_EQ(report.stream_position, 5u);
  EXPECT_TRUE(Has(report, "timeline", room_, "is beyond the stream position 5"))
      << Describe(report);
  EXPECT_TRUE(Has(report, "receipts", room_, "is beyond the stream position 5"))
      << Describe(report);
}

TEST_F(VerifyTest, AliasesRoomsAndDirectory) {
  const std::string alias = "#lobby:example.org";
  Delete(*store().room_aliases, Pair(room_, alias));
  Put(*store().room_aliases, Pair(other_room_, "#ghost:example.org"), "");
  Put(*store().public_rooms, "!nowhere:example.org", "");
  Delete(*store().rooms, other_room_);
  VerifyReport report = Verify();
  EXPECT_TRUE(Has(report, "aliases", alias, "which has no room_aliases entry")) << Describe(report);
  EXPECT_TRUE(Has(report, "room_aliases", "#ghost:example.org", "the alias does not exist"))
      << Describe(report);
  EXPECT_TRUE(Has(report, "public_rooms", "!nowhere:example.org", "publishes an unknown room"))
      << Describe(report);
  EXPECT_TRUE(Has(report, "timeline", other_room_, "a room with events but no rooms record"))
      << Describe(report);
}

TEST_F(VerifyTest, DevicesAndAccessTokensPointAtEachOther) {
  auto device = db_->Get(*store().devices, Pair(bob_.user_id, bob_.device_id));
  ASSERT_TRUE(device.ok());
  auto digest = DecodeUnpaddedBase64(
      boost::json::parse(*device).as_object().at("token_digest").as_string().c_str());
  ASSERT_TRUE(digest.ok());
  Delete(*store().access_tokens, *digest);
  Put(*store().access_tokens, Sha256("stale"),
      boost::json::serialize(
          boost::json::object{{"user_id", alice_.user_id}, {"device_id", alice_.device_id}}));
  Put(*store().access_tokens, Sha256("orphan"),
      boost::json::serialize(
          boost::json::object{{"user_id", "@ghost:example.org"}, {"device_id", "X"}}));
  VerifyReport report = Verify();
  EXPECT_EQ(report.problem_count, 3u) << Describe(report);
  EXPECT_TRUE(Has(report, "devices", bob_.user_id + " | " + bob_.device_id,
                  "has no access_tokens entry: it cannot authenticate"))
      << Describe(report);
  EXPECT_TRUE(Has(report, "access_tokens", UnpaddedBase64(Sha256("stale")),
                  "whose current token is another"))
      << Describe(report);
  EXPECT_TRUE(Has(report, "access_tokens", UnpaddedBase64(Sha256("orphan")),
                  "belongs to @ghost:example.org, who has no users record"))
      << Describe(report);
}

TEST_F(VerifyTest, UndecodableRecordsAreProblemsAndTheListIsCapped) {
  Put(*store().timeline, "junk", "{}");
  Put(*store().room_members, Pair(room_, "@x:example.org"), "not json");
  Put(*store().users, "@broken:example.org", "[]");
  VerifyReport report = Verify({.max_problems = 2});
  EXPECT_EQ(report.problems.size(), 2u);
  EXPECT_GE(report.problem_count, 3u) << Describe(report);
  report = Verify();
  EXPECT_TRUE(Has(report, "timeline", "(undecodable) junk", "key is not (room id, position)"))
      << Describe(report);
  EXPECT_TRUE(Has(report, "room_members", "@x:example.org", "record is not {membership, pos}"))
      << Describe(report);
  EXPECT_TRUE(Has(report, "users", "@broken:example.org", "record is not a JSON object"))
      << Describe(report);
}

}  // namespace
}  // namespace conclave::service
