// Relations over a real RocksDB: the relation index written with each event, GET /relations
// (pagination, recursion, filters, errors), bundled aggregations (m.replace, m.thread,
// m.reference), GET /threads, `database verify` of the index and its rebuild at start.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "conclave/database/key.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/storage/globals.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/verify.h"
#include "conclave/service/sync/sync.h"
#include "service/testing/homeserver_fixture.h"
#include "service/testing/status_matchers.h"

namespace conclave::service {
namespace {

using test_util::HasErrcode;
using ::testing::ElementsAre;

using object = boost::json::object;

std::string Str(const boost::json::value* v) {
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::vector<std::string> Ids(const std::vector<StoredEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(Str(e.pdu.if_contains("event_id")));
  return out;
}

// unsigned.m.relations of `event`, or null.
const object* Relations(const StoredEvent& event) {
  const auto* u = event.pdu.if_contains("unsigned");
  if (u == nullptr || !u->is_object()) return nullptr;
  const auto* r = u->get_object().if_contains("m.relations");
  return r != nullptr && r->is_object() ? &r->get_object() : nullptr;
}

class RelationsTest : public test_util::HomeserverTest {
 protected:
  void SetUp() override {
    HomeserverTest::SetUp();
    alice_ = Register("alice");
    bob_ = Register("bob");
    carol_ = Register("carol");
    room_ = CreateRoom(alice_, {.preset = CreateRoomRequest::Preset::kPublicChat});
    ASSERT_TRUE(rooms().Join(bob_, room_, std::nullopt).ok());
  }

  // Sends `content` with an m.relates_to of `rel_type` to `parent`.
  absl::StatusOr<std::string> Relate(const Session& who, const std::string& parent,
                                     const std::string& rel_type, object content = {},
                                     const std::string& type = "m.room.message") {
    content["m.relates_to"] = object{{"rel_type", rel_type}, {"event_id", parent}};
    if (!content.contains("body")) content["body"] = "x";
    return rooms().Send(who, room_, type, "txn" + std::to_string(++txn_), content);
  }
  std::string MustRelate(const Session& who, const std::string& parent, const std::string& rel_type,
                         object content = {}, const std::string& type = "m.room.message") {
    auto r = Relate(who, parent, rel_type, std::move(content), type);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : "";
  }
  std::string Edit(const Session& who, const std::string& original, const std::string& body) {
    return MustRelate(who, original, "m.replace",
                      object{{"body", "* " + body},
                             {"m.new_content", object{{"msgtype", "m.text"}, {"body", body}}}});
  }
  StoredEvent Get(const Session& who, const std::string& event_id) {
    auto e = rooms().Event(who, room_, event_id);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *std::move(e) : StoredEvent{};
  }
  RelationsPage Page(const Session& who, RelationsRequest request) {
    auto page = rooms().Relations(who, room_, request);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? *std::move(page) : RelationsPage{};
  }
  bool VerifiesClean() {
    auto report = VerifyDatabase(hs_->store(), {});
    EXPECT_TRUE(report.ok()) << report.status();
    if (!report.ok()) return false;
    for (const auto& p : report->problems)
      ADD_FAILURE() << p.map << " [" << p.key << "] " << p.problem;
    return report->ok();
  }

  Session alice_, bob_, carol_;
  std::string room_;
  int txn_ = 0;
};

TEST_F(RelationsTest, ThreadSummaryCountsRepliesAndNamesTheLatest) {
  const std::string root = SendText(alice_, room_, "root", "r");
  const std::string first = MustRelate(bob_, root, "m.thread");
  const std::string second = MustRelate(alice_, root, "m.thread");
  const std::string latest_edit = Edit(alice_, second, "edited reply");

  StoredEvent seen_by_bob = Get(bob_, root);
  const object* relations = Relations(seen_by_bob);
  ASSERT_NE(relations, nullptr);
  const object& thread = relations->at("m.thread").as_object();
  EXPECT_EQ(thread.at("count").as_int64(), 2);
  EXPECT_TRUE(thread.at("current_user_participated").as_bool());
  StoredEvent latest{thread.at("latest_event").as_object(), 0};
  EXPECT_EQ(Str(latest.pdu.if_contains("event_id")), second);
  // The latest reply carries its own aggregations: its edit.
  ASSERT_NE(Relations(latest), nullptr);
  EXPECT_EQ(Str(Relations(latest)->at("m.replace").as_object().if_contains("event_id")),
            latest_edit);

  ASSERT_TRUE(rooms().Join(carol_, room_, std::nullopt).ok());
  const StoredEvent root_for_carol = Get(carol_, root);
  const object* for_carol = Relations(root_for_carol);
  ASSERT_NE(for_carol, nullptr);
  EXPECT_FALSE(for_carol->at("m.thread").at("current_user_participated").as_bool());
  (void)first;
}

TEST_F(RelationsTest, AThreadCannotStartFromAnEventWithARelation) {
  const std::string root = SendText(alice_, room_, "root", "r");
  const std::string reply = MustRelate(bob_, root, "m.thread");
  EXPECT_THAT(Relate(alice_, reply, "m.thread").status(), HasErrcode(Errcode::kUnknown));
}

TEST_F(RelationsTest, TheLatestValidEditIsBundledAndTheContentStays) {
  const std::string original = SendText(alice_, room_, "cake", "o");
  const std::string first = Edit(alice_, original, "chocolate cake");
  const std::string second = Edit(alice_, original, "lemon cake");
  Edit(bob_, original, "not yours");  // another sender's edit is ignored
  // An edit without m.new_content is invalid.
  MustRelate(alice_, original, "m.replace", object{{"body", "* nothing new"}});

  StoredEvent event = Get(bob_, original);
  EXPECT_EQ(Str(event.pdu.at("content").as_object().if_contains("body")), "cake");
  ASSERT_NE(Relations(event), nullptr);
  // The most recent by origin_server_ts, then the larger event id (both may share a ms here).
  auto ts = [&](const std::string& id) {
    return rooms().EventById(id)->pdu.at("origin_server_ts").as_int64();
  };
  const std::string latest =
      std::make_tuple(ts(second), second) > std::make_tuple(ts(first), first) ? second : first;
  const std::string previous = latest == second ? first : second;
  EXPECT_EQ(Str(Relations(event)->at("m.replace").as_object().if_contains("event_id")), latest);

  // Redacting the latest edit reverts to the one before it.
  ASSERT_TRUE(rooms().Redact(alice_, room_, latest, "red1", std::nullopt).ok());
  EXPECT_EQ(
      Str(Relations(Get(bob_, original))->at("m.replace").as_object().if_contains("event_id")),
      previous);
  // Redacting the original drops the m.replace bundle.
  ASSERT_TRUE(rooms().Redact(alice_, room_, original, "red2", std::nullopt).ok());
  const StoredEvent redacted = Get(bob_, original);
  const object* after = Relations(redacted);
  EXPECT_TRUE(after == nullptr || !after->contains("m.replace"));
  EXPECT_TRUE(VerifiesClean());
}

TEST_F(RelationsTest, ReferencesAreBundledAndAnnotationsListedNotBundled) {
  const std::string parent = SendText(alice_, room_, "vote?", "p");
  const std::string ref1 = MustRelate(bob_, parent, "m.reference");
  const std::string ref2 = MustRelate(alice_, parent, "m.reference");
  const std::string reaction =
      MustRelate(bob_, parent, "m.annotation", object{{"m.relates_to", object{}}}, "m.reaction");

  const StoredEvent event = Get(alice_, parent);
  const object* relations = Relations(event);
  ASSERT_NE(relations, nullptr);
  const auto& chunk = relations->at("m.reference").at("chunk").as_array();
  ASSERT_EQ(chunk.size(), 2u);
  EXPECT_EQ(Str(chunk[0].as_object().if_contains("event_id")), ref1);
  EXPECT_EQ(Str(chunk[1].as_object().if_contains("event_id")), ref2);
  EXPECT_FALSE(relations->contains("m.annotation"));

  RelationsPage page = Page(alice_, {.event_id = parent, .rel_type = "m.annotation"});
  EXPECT_THAT(Ids(page.chunk), ElementsAre(reaction));
  page = Page(alice_,
              {.event_id = parent, .rel_type = "m.annotation", .event_type = "m.room.message"});
  EXPECT_TRUE(page.chunk.empty());
}

TEST_F(RelationsTest, PaginatesBothWaysAndRecurses) {
  const std::string root = SendText(alice_, room_, "root", "r");
  std::vector<std::string> children;
  for (int i = 0; i < 3; ++i) children.push_back(MustRelate(bob_, root, "m.reference"));
  const std::string grandchild = MustRelate(alice_, children[0], "m.reference");

  RelationsPage first = Page(alice_, {.event_id = root, .limit = 2});
  EXPECT_THAT(Ids(first.chunk), ElementsAre(children[2], children[1]));
  ASSERT_TRUE(first.next_batch.has_value());
  EXPECT_FALSE(first.prev_batch.has_value());
  EXPECT_FALSE(first.recursion_depth.has_value());
  RelationsPage second = Page(alice_, {.event_id = root, .from = *first.next_batch, .limit = 2});
  EXPECT_THAT(Ids(second.chunk), ElementsAre(children[0]));
  EXPECT_FALSE(second.next_batch.has_value());
  EXPECT_EQ(second.prev_batch, first.next_batch);

  RelationsPage forward = Page(alice_, {.event_id = root, .dir = 'f', .limit = 2});
  EXPECT_THAT(Ids(forward.chunk), ElementsAre(children[0], children[1]));
  ASSERT_TRUE(forward.next_batch.has_value());
  forward = Page(alice_, {.event_id = root, .from = *forward.next_batch, .dir = 'f', .limit = 2});
  EXPECT_THAT(Ids(forward.chunk), ElementsAre(children[2]));

  RelationsPage deep = Page(alice_, {.event_id = root, .limit = 10, .recurse = true});
  EXPECT_THAT(Ids(deep.chunk), ElementsAre(grandchild, children[2], children[1], children[0]));
  EXPECT_EQ(deep.recursion_depth, Rooms::kMaxRelationDepth);
  RelationsPage flat = Page(alice_, {.event_id = root, .limit = 10, .recurse = false});
  EXPECT_EQ(flat.chunk.size(), 3u);
  EXPECT_EQ(flat.recursion_depth, 1);
}

TEST_F(RelationsTest, ErrorsForUnknownOrHiddenParentsAndBadParameters) {
  const std::string parent = SendText(alice_, room_, "p", "p");
  EXPECT_THAT(rooms().Relations(alice_, room_, {.event_id = "$nope"}).status(),
              HasErrcode(Errcode::kNotFound));
  EXPECT_THAT(rooms().Relations(carol_, room_, {.event_id = parent}).status(),
              HasErrcode(Errcode::kNotFound));
  EXPECT_THAT(rooms().Relations(alice_, room_, {.event_id = parent, .from = "bogus"}).status(),
              HasErrcode(Errcode::kInvalidParam));
  EXPECT_THAT(rooms().Relations(alice_, room_, {.event_id = parent, .dir = 'x'}).status(),
              HasErrcode(Errcode::kInvalidParam));
}

TEST_F(RelationsTest, ThreadsListTheMostRecentlyActiveFirst) {
  const std::string older = SendText(alice_, room_, "older", "a");
  const std::string newer = SendText(bob_, room_, "newer", "b");
  MustRelate(alice_, older, "m.thread");
  MustRelate(bob_, newer, "m.thread");
  auto page = rooms().Threads(alice_, room_, false, "", 10);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(Ids(page->chunk), ElementsAre(newer, older));
  // A reply in the older thread makes it the most recent.
  const std::string reply = MustRelate(bob_, older, "m.thread");
  page = rooms().Threads(alice_, room_, false, "", 1);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(Ids(page->chunk), ElementsAre(older));
  ASSERT_TRUE(page->next_batch.has_value());
  auto rest = rooms().Threads(alice_, room_, false, *page->next_batch, 10);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_THAT(Ids(rest->chunk), ElementsAre(newer));
  ASSERT_NE(Relations(rest->chunk[0]), nullptr);  // roots come with their thread summary

  // Participated: alice started `older` and replied to it; `newer` is bob's alone.
  page = rooms().Threads(alice_, room_, true, "", 10);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(Ids(page->chunk), ElementsAre(older));

  // Redacting the latest reply moves its thread back to the reply before it.
  ASSERT_TRUE(rooms().Redact(bob_, room_, reply, "red", std::nullopt).ok());
  page = rooms().Threads(alice_, room_, false, "", 10);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(Ids(page->chunk), ElementsAre(newer, older));
  EXPECT_TRUE(VerifiesClean());
  EXPECT_THAT(rooms().Threads(carol_, room_, false, "", 10).status(),
              HasErrcode(Errcode::kForbidden));
}

TEST_F(RelationsTest, ThreadedReceiptsMustNameTheEventsThread) {
  const std::string root = SendText(alice_, room_, "root", "r");
  const std::string reply = MustRelate(bob_, root, "m.thread");
  const std::string reply_edit = Edit(bob_, reply, "reply!");
  EXPECT_THAT(rooms().SetReceipt(alice_, room_, "m.read", reply, "main"),
              HasErrcode(Errcode::kInvalidParam));
  EXPECT_THAT(rooms().SetReceipt(alice_, room_, "m.read", root, root),
              HasErrcode(Errcode::kInvalidParam));  // a root is in the main timeline
  EXPECT_THAT(rooms().SetReceipt(alice_, room_, "m.read", root, ""),
              HasErrcode(Errcode::kInvalidParam));
  ASSERT_TRUE(rooms().SetReceipt(alice_, room_, "m.read", reply_edit, root).ok());
  ASSERT_TRUE(rooms().SetReceipt(alice_, room_, "m.read", root, "main").ok());
  ASSERT_TRUE(rooms().SetReceipt(alice_, room_, "m.read", root).ok());  // unthreaded

  auto receipts = rooms().ReceiptsSince(room_, 0, alice_.user_id);
  ASSERT_TRUE(receipts.ok()) << receipts.status();
  const auto& in_thread = receipts->at(reply_edit).at("m.read").at(alice_.user_id).as_object();
  EXPECT_EQ(Str(in_thread.if_contains("thread_id")), root);
  EXPECT_TRUE(receipts->at(root).at("m.read").as_object().contains(alice_.user_id));
  EXPECT_TRUE(VerifiesClean());
}

TEST_F(RelationsTest, FiltersKeepEventsWithMatchingChildren) {
  const std::string threaded = SendText(alice_, room_, "threaded", "a");
  const std::string referenced = SendText(alice_, room_, "referenced", "b");
  SendText(alice_, room_, "plain", "c");
  MustRelate(bob_, threaded, "m.thread");
  MustRelate(alice_, referenced, "m.reference");
  RoomEventFilter by_type;
  by_type.related_by_rel_types = std::vector<std::string>{"m.thread"};
  auto page = rooms().Messages(alice_, room_, "", "", 'b', 50, by_type);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(Ids(page->chunk), ElementsAre(threaded));
  RoomEventFilter by_sender;
  by_sender.related_by_senders = std::vector<std::string>{alice_.user_id};
  bool limited = false;
  auto timeline = rooms().Timeline(room_, 0, UINT64_MAX, 50, by_sender, &limited);
  ASSERT_TRUE(timeline.ok()) << timeline.status();
  EXPECT_THAT(Ids(*timeline), ElementsAre(referenced));
  // Both at once: a child of that type and one from that sender.
  by_type.related_by_senders = std::vector<std::string>{alice_.user_id};
  page = rooms().Messages(alice_, room_, "", "", 'b', 50, by_type);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->chunk.empty());
  auto parsed = ParseFilter(boost::json::object{
      {"room",
       boost::json::object{{"timeline", boost::json::object{{"related_by_rel_types",
                                                             boost::json::array{"m.thread"}}}}}}});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->room.timeline.related_by_rel_types, std::vector<std::string>{"m.thread"});
}

TEST_F(RelationsTest, SyncBundlesLimitedTimelinesOnly) {
  const std::string root = SendText(alice_, room_, "root", "r");
  MustRelate(bob_, root, "m.reference");
  SendText(alice_, room_, "after", "a");
  auto root_in = [&](const SyncResponse& response) -> const StoredEvent* {
    for (const auto& room : response.join) {
      for (const auto& e : room.timeline.events) {
        if (Str(e.pdu.if_contains("event_id")) == root) return &e;
      }
    }
    return nullptr;
  };
  SyncRequest request;
  request.filter.room.timeline.limit = 3;  // limited: the room has more events
  auto initial = hs_->sync().Run(bob_, request);
  ASSERT_TRUE(initial.ok() && initial->response) << initial.status();
  const StoredEvent* bundled = root_in(*initial->response);
  ASSERT_NE(bundled, nullptr);
  ASSERT_NE(Relations(*bundled), nullptr);
  EXPECT_TRUE(Relations(*bundled)->contains("m.reference"));

  // An incremental sync that is not limited leaves aggregation to the client.
  request.since = initial->response->next_batch;
  request.filter.room.timeline.limit = 50;
  // The parent and its child arrive together; the client aggregates them itself.
  const std::string late = SendText(alice_, room_, "late", "l");
  MustRelate(bob_, late, "m.reference");
  auto next = hs_->sync().Run(bob_, request);
  ASSERT_TRUE(next.ok() && next->response);
  ASSERT_EQ(next->response->join.size(), 1u);
  const SyncTimeline& timeline = next->response->join[0].timeline;
  EXPECT_FALSE(timeline.limited);
  ASSERT_EQ(timeline.events.size(), 2u);
  EXPECT_EQ(Str(timeline.events[0].pdu.if_contains("event_id")), late);
  EXPECT_EQ(Relations(timeline.events[0]), nullptr);
}

TEST_F(RelationsTest, VerifyReportsAStaleRowAndStartRebuildsTheIndex) {
  const std::string root = SendText(alice_, room_, "root", "r");
  const std::string reply = MustRelate(bob_, root, "m.thread");
  Edit(alice_, root, "edited");
  Store& store = hs_->store();
  ASSERT_TRUE(VerifiesClean());

  // A row for a child that is no relation.
  ASSERT_TRUE(db_->Put(*store.relations, schema::RelationKey(room_, root, "m.reference", 1),
                       "{\"event_id\":\"$ghost\"}")
                  .ok());
  auto report = VerifyDatabase(store, {});
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ok());
  bool found = false;
  for (const auto& p : report->problems) found = found || p.map == "relations";
  EXPECT_TRUE(found);

  // A database from before the index: no rows, schema version 1. The migration at the service
  // module's load rebuilds them from the timeline.
  for (database::Map* map : {store.relations, store.threads}) {
    std::vector<std::string> keys;
    ASSERT_TRUE(db_->ForEachWithPrefix(*map, "",
                                       [&](std::string_view k, std::string_view) {
                                         keys.emplace_back(k);
                                         return true;
                                       })
                    .ok());
    for (const auto& k : keys) ASSERT_TRUE(db_->Delete(*map, k).ok());
  }
  ASSERT_TRUE(Globals::Open(*db_, "example.org").ok());  // a database the module has opened
  auto globals = db_->OpenMap("globals");
  ASSERT_TRUE(globals.ok());
  ASSERT_TRUE(
      db_->Put(**globals, "schema_version", database::KeyBuilder().AppendU64(1).Build()).ok());
  // What the service module's load does first (module.cc).
  auto migrated = Globals::Open(*db_, "example.org");
  ASSERT_TRUE(migrated.ok()) << migrated.status();
  EXPECT_EQ((*migrated)->schema_version(), 2u);
  Reopen();
  EXPECT_TRUE(VerifiesClean());
  const StoredEvent rebuilt = Get(bob_, root);
  const object* relations = Relations(rebuilt);
  ASSERT_NE(relations, nullptr);
  EXPECT_EQ(Str(relations->at("m.thread").at("latest_event").as_object().if_contains("event_id")),
            reply);
  EXPECT_TRUE(relations->contains("m.replace"));
}

}  // namespace
}  // namespace conclave::service
