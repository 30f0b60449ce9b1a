// The search index and room_events search over a real RocksDB and a real Xapian index: what is
// indexed, redactions, access (rooms not joined, history visibility, leaving), ordering and
// paging, crash recovery (an index behind or ahead of the database) and rebuilds.
#include "conclave/service/search/search.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/search/indexer.h"
#include "conclave/service/storage/stored_json.h"
#include "service/testing/homeserver_fixture.h"
#include "service/testing/status_matchers.h"

namespace conclave::service {
namespace {

using test_util::HasErrcode;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

class SearchTest : public test_util::HomeserverTest {
 protected:
  void SetUp() override {
    HomeserverTest::SetUp();
    alice_ = Register("alice");
    bob_ = Register("bob");
    carol_ = Register("carol");
  }

  SearchPage Find(const Session& who, SearchRequest request) {
    auto page = hs_->search().RoomEvents(who, request);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? *std::move(page) : SearchPage{};
  }
  SearchPage Find(const Session& who, const std::string& term) {
    return Find(who, SearchRequest{.search_term = term});
  }
  static std::vector<std::string> Ids(const SearchPage& page) {
    std::vector<std::string> out;
    for (const auto& r : page.results) out.emplace_back(StringField(r.event.pdu, "event_id"));
    return out;
  }
  std::string SharedRoom() {
    std::string room = CreateRoom(alice_, {.preset = CreateRoomRequest::Preset::kPublicChat});
    EXPECT_TRUE(rooms().Join(bob_, room, std::nullopt).ok());
    return room;
  }

  Session alice_, bob_, carol_;
};

TEST(ToIndexedEvent, TakesTheSpecsKeysOnly) {
  auto message = ToIndexedEvent(
      {{"type", "m.room.message"}, {"event_id", "$a"}, {"content", {{"body", "hi there"}}}}, 7);
  EXPECT_EQ(message.body, "hi there");
  EXPECT_EQ(message.position, 7u);
  auto topic = ToIndexedEvent(
      {{"type", "m.room.topic"},
       {"content",
        {{"topic", "plain"},
         {"m.topic",
          {{"m.text",
            {{{"mimetype", "text/html"}, {"body", "<b>rich</b>"}}, {{"body", "textual"}}}}}}}}},
      1);
  EXPECT_EQ(topic.topic, "plain\ntextual");
  auto name = ToIndexedEvent({{"type", "m.room.name"}, {"content", {{"name", "Lounge"}}}}, 1);
  EXPECT_EQ(name.name, "Lounge");
  auto other = ToIndexedEvent({{"type", "m.custom"}, {"content", {{"body", "secret"}}}}, 1);
  EXPECT_TRUE(other.body.empty());
}

TEST_F(SearchTest, FindsMessagesNamesAndTopicsWithHighlights) {
  std::string room = CreateRoom(alice_, {.name = "Gardening club", .topic = "tomatoes"});
  std::string hit = SendText(alice_, room, "The tomatoes are ripening nicely", "t1");
  SendText(alice_, room, "nothing to see", "t2");

  SearchPage page = Find(alice_, "ripening");
  EXPECT_THAT(Ids(page), ElementsAre(hit));
  EXPECT_EQ(page.count, 1u);
  EXPECT_THAT(page.highlights, ElementsAre("ripening"));

  // Stemming: "tomato" finds "tomatoes" in the topic and the message.
  page = Find(alice_, "tomato");
  EXPECT_EQ(page.count, 2u);
  page = Find(alice_, SearchRequest{.search_term = "tomatoes", .keys = {SearchKey::kTopic}});
  ASSERT_EQ(page.results.size(), 1u);
  EXPECT_EQ(StringField(page.results[0].event.pdu, "type"), "m.room.topic");
  page = Find(alice_, SearchRequest{.search_term = "gardening", .keys = {SearchKey::kName}});
  ASSERT_EQ(page.results.size(), 1u);
  EXPECT_EQ(StringField(page.results[0].event.pdu, "type"), "m.room.name");
  EXPECT_GT(page.results[0].rank, 0);
}

TEST_F(SearchTest, RoomsTheUserIsNotInAreNeverSearched) {
  std::string room = CreateRoom(alice_, {});
  SendText(alice_, room, "confidential plans", "t1");
  SearchPage page = Find(carol_, "confidential");
  EXPECT_THAT(page.results, IsEmpty());
  EXPECT_EQ(page.count, 0u);
  EXPECT_EQ(Find(alice_, "confidential").count, 1u);
}

TEST_F(SearchTest, RedactedEventsLeaveTheIndex) {
  std::string room = CreateRoom(alice_, {});
  std::string id = SendText(alice_, room, "oops a password", "t1");
  EXPECT_EQ(Find(alice_, "password").count, 1u);
  ASSERT_TRUE(rooms().Redact(alice_, room, id, "r1", std::nullopt).ok());
  EXPECT_EQ(Find(alice_, "password").count, 0u);
  // And stays out after a rebuild, which reads the pruned stored event.
  ASSERT_TRUE(hs_->search_indexer().Rebuild().ok());
  EXPECT_EQ(Find(alice_, "password").count, 0u);
}

TEST_F(SearchTest, HistoryVisibilityHidesEventsBeforeJoinAndAfterLeave) {
  std::string room = CreateRoom(alice_, {.preset = CreateRoomRequest::Preset::kPublicChat});
  ASSERT_TRUE(rooms()
                  .SendState(alice_, room, "m.room.history_visibility", "",
                             {{"history_visibility", "joined"}})
                  .ok());
  SendText(alice_, room, "before bob joined", "t1");
  ASSERT_TRUE(rooms().Join(bob_, room, std::nullopt).ok());
  std::string seen = SendText(alice_, room, "while bob joined", "t2");
  ASSERT_TRUE(rooms().Leave(bob_, room, std::nullopt).ok());
  SendText(alice_, room, "after bob joined and left", "t3");

  SearchPage page = Find(bob_, "joined");
  EXPECT_THAT(Ids(page), ElementsAre(seen));
  EXPECT_EQ(page.count, 1u);  // the hidden ones are not counted either
  EXPECT_EQ(Find(alice_, "joined").count, 3u);
}

TEST_F(SearchTest, FiltersOrdersAndPages) {
  std::string room = SharedRoom();
  std::string other = CreateRoom(alice_, {});
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(SendText(i % 2 == 0 ? alice_ : bob_, room, "apple " + std::to_string(i),
                           "a" + std::to_string(i)));
  }
  std::string elsewhere = SendText(alice_, other, "apple pie", "o1");

  RoomEventFilter by_bob;
  by_bob.senders = std::vector<std::string>{bob_.user_id};
  EXPECT_THAT(Ids(Find(alice_, {.search_term = "apple", .filter = by_bob})),
              UnorderedElementsAre(ids[1], ids[3]));
  RoomEventFilter not_other;
  not_other.not_rooms = std::vector<std::string>{other};
  EXPECT_EQ(Find(alice_, {.search_term = "apple", .filter = not_other}).count, 5u);

  RoomEventFilter two;
  two.limit = 2;
  SearchRequest request{.search_term = "apple", .filter = two, .order_by_recent = true};
  SearchPage first = Find(alice_, request);
  EXPECT_EQ(first.count, 6u);
  EXPECT_THAT(Ids(first), ElementsAre(elsewhere, ids[4]));
  ASSERT_TRUE(first.next_batch.has_value());
  request.next_batch = *first.next_batch;
  SearchPage second = Find(alice_, request);
  EXPECT_THAT(Ids(second), ElementsAre(ids[3], ids[2]));
  request.next_batch = "bogus";
  EXPECT_THAT(hs_->search().RoomEvents(alice_, request), HasErrcode(Errcode::kInvalidParam));
}

TEST_F(SearchTest, ContextProfilesAndState) {
  std::string room = SharedRoom();
  std::string before = SendText(alice_, room, "one", "t1");
  std::string hit = SendText(bob_, room, "needle", "t2");
  std::string after = SendText(alice_, room, "three", "t3");
  SearchPage page = Find(
      alice_, SearchRequest{.search_term = "needle",
                            .event_context =
                                SearchRequest::ContextRequest{
                                    .before_limit = 1, .after_limit = 1, .include_profile = true},
                            .include_state = true});
  ASSERT_EQ(page.results.size(), 1u);
  const SearchResult& r = page.results[0];
  ASSERT_EQ(r.events_before.size(), 1u);
  EXPECT_EQ(StringField(r.events_before[0].pdu, "event_id"), before);
  ASSERT_EQ(r.events_after.size(), 1u);
  EXPECT_EQ(StringField(r.events_after[0].pdu, "event_id"), after);
  EXPECT_TRUE(r.profile_info.contains(bob_.user_id));
  EXPECT_TRUE(r.profile_info.contains(alice_.user_id));
  ASSERT_TRUE(page.state.contains(room));
  EXPECT_FALSE(page.state[room].empty());
}

TEST_F(SearchTest, CatchUpResumesFromTheIndexedPositionAfterAReopen) {
  std::string room = CreateRoom(alice_, {});
  SendText(alice_, room, "first words", "t1");
  ASSERT_TRUE(hs_->search_indexer().CatchUp().ok());
  EXPECT_EQ(*hs_->search_indexer().CatchUp(), 0u);  // nothing new
  Reopen();  // the index is closed and opened again, as at a reload or restart
  EXPECT_EQ(*hs_->search_indexer().CatchUp(), 0u);
  SendText(alice_, room, "second words", "t2");
  EXPECT_EQ(*hs_->search_indexer().CatchUp(), 1u);  // only the new event is read
  EXPECT_EQ(Find(alice_, "words").count, 2u);
}

TEST_F(SearchTest, AnIndexBehindOrAheadOfTheDatabaseCatchesUp) {
  std::string room = CreateRoom(alice_, {});
  SendText(alice_, room, "survivor", "t1");
  // A crash that lost the index's tail: its position is older than the stream's.
  ASSERT_TRUE(hs_->search_indexer().index().Clear().ok());
  EXPECT_EQ(Find(alice_, "survivor").count, 1u);
  // An index ahead of the database (a restored backup) is rebuilt.
  ASSERT_TRUE(hs_->search_indexer().index().Commit(1'000'000).ok());
  EXPECT_EQ(Find(alice_, "survivor").count, 1u);
  EXPECT_EQ(*hs_->search_indexer().index().LastPosition(), hs_->stream().current());
}

TEST_F(SearchTest, TheBackgroundThreadIndexesSendsAndStopLeavesTheIndexCurrent) {
  ASSERT_TRUE(hs_->Start().ok());
  std::string room = CreateRoom(alice_, {});
  SendText(alice_, room, "background", "t1");
  hs_->Stop();  // joins the indexer after its last pass
  // No CatchUp here: the thread indexed everything.
  EXPECT_EQ(*hs_->search_indexer().index().LastPosition(), hs_->stream().current());
  auto found = hs_->search_indexer().index().Search({.text = "background", .room_ids = {room}});
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->hits.size(), 1u);
}

TEST(XapianIndex, OneWriterPerDirectory) {
  database::test_util::TempDir dir;
  auto first = XapianIndex::Open(dir.Sub("index"));
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = XapianIndex::Open(dir.Sub("index"));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  first->reset();
  EXPECT_TRUE(XapianIndex::Open(dir.Sub("index")).ok());
}

}  // namespace
}  // namespace conclave::service
