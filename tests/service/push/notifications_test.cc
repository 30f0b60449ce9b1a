// Notification counts and /notifications from push rules evaluated at send time, over a real
// Homeserver and RocksDB (notifications.h).
#include "conclave/service/push/notifications.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <string>

#include "conclave/service/homeserver.h"
#include "conclave/service/push/push_rule_store.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"
#include "conclave/service/sync/sync.h"
#include "service/testing/homeserver_fixture.h"

namespace conclave::service {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class NotificationsTest : public test_util::HomeserverTest {
 protected:
  void SetUp() override {
    HomeserverTest::SetUp();
    alice_ = Register("alice");
    bob_ = Register("bob");
    carol_ = Register("carol");
    room_ = CreateRoom(alice_, {.preset = CreateRoomRequest::Preset::kPublicChat});
    ASSERT_TRUE(rooms().Join(bob_, room_, std::nullopt).ok());
    ASSERT_TRUE(rooms().Join(carol_, room_, std::nullopt).ok());
  }
  Notifications& notifications() { return hs_->notifications(); }
  RoomUnreadCounts Counts(const Session& who) {
    auto counts = notifications().Counts(who.user_id, room_);
    EXPECT_TRUE(counts.ok()) << counts.status();
    return counts.ok() ? *counts : RoomUnreadCounts{};
  }
  std::string SendContent(const Session& who, std::string_view content, const std::string& txn) {
    auto r =
        rooms().Send(who, room_, "m.room.message", txn, boost::json::parse(content).as_object());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : "";
  }
  // Sends a message from `who` in the thread of `root`.
  std::string SendInThread(const Session& who, const std::string& root, std::string_view body,
                           const std::string& txn) {
    return SendContent(who,
                       std::string(R"({"msgtype":"m.text","body":")") + std::string(body) +
                           R"(","m.relates_to":{"rel_type":"m.thread","event_id":")" + root +
                           R"("}})",
                       txn);
  }
  Session alice_, bob_, carol_;
  std::string room_;
};

TEST_F(NotificationsTest, MessagesFromOthersCountUntilTheReadReceipt) {
  SendText(alice_, room_, "1", "u1");
  std::string second = SendText(alice_, room_, "2", "u2");
  SendText(alice_, room_, "3", "u3");
  // Not a message: .m.rule.message does not match a topic, no rule notifies.
  ASSERT_TRUE(rooms().SendState(alice_, room_, "m.room.topic", "", {{"topic", "t"}}).ok());
  EXPECT_EQ(Counts(bob_).total.notification_count, 3);
  EXPECT_EQ(Counts(bob_).total.highlight_count, 0);
  EXPECT_EQ(Counts(alice_).total.notification_count, 0);  // own messages never notify
  ASSERT_TRUE(rooms().SetReceipt(bob_, room_, "m.read", second).ok());
  EXPECT_EQ(Counts(bob_).total.notification_count, 1);
  EXPECT_EQ(Counts(carol_).total.notification_count, 3);
}

TEST_F(NotificationsTest, PrivateReceiptsResetTooAndTheNewerOneWins) {
  std::string first = SendText(alice_, room_, "1", "u1");
  std::string second = SendText(alice_, room_, "2", "u2");
  ASSERT_TRUE(rooms().SetReceipt(bob_, room_, "m.read.private", second).ok());
  EXPECT_EQ(Counts(bob_).total.notification_count, 0);
  ASSERT_TRUE(rooms().SetReceipt(bob_, room_, "m.read", first).ok());
  EXPECT_EQ(Counts(bob_).total.notification_count, 0);  // m.read.private is ahead
}

TEST_F(NotificationsTest, SendingAnEventMarksTheRoomRead) {
  SendText(alice_, room_, "1", "u1");
  SendText(alice_, room_, "2", "u2");
  SendText(bob_, room_, "mine", "b1");
  EXPECT_EQ(Counts(bob_).total.notification_count, 0);
  SendText(alice_, room_, "3", "u3");
  EXPECT_EQ(Counts(bob_).total.notification_count, 1);
}

TEST_F(NotificationsTest, MentionsHighlight) {
  SendText(alice_, room_, "hey bob, lunch?", "u1");  // .m.rule.contains_user_name
  SendContent(alice_, R"({"msgtype":"m.text","body":"hi",
                          "m.mentions":{"user_ids":["@carol:example.org"]}})",
              "u2");
  EXPECT_EQ(Counts(bob_).total.highlight_count, 1);
  EXPECT_EQ(Counts(bob_).total.notification_count, 2);
  EXPECT_EQ(Counts(carol_).total.highlight_count, 1);
}

TEST_F(NotificationsTest, UserRulesChangeWhatCounts) {
  ASSERT_TRUE(hs_->push_rules()
                  .Put(bob_.user_id, "room", room_,
                       boost::json::parse(R"({"actions":[]})").as_object(), std::nullopt,
                       std::nullopt)
                  .ok());
  SendText(alice_, room_, "muted", "u1");
  EXPECT_EQ(Counts(bob_).total.notification_count, 0);
  EXPECT_EQ(Counts(carol_).total.notification_count, 1);
  ASSERT_TRUE(hs_->push_rules().SetEnabled(bob_.user_id, "room", room_, false).ok());
  SendText(alice_, room_, "heard again", "u2");
  EXPECT_EQ(Counts(bob_).total.notification_count, 1);
}

TEST_F(NotificationsTest, ThreadsAreCountedApart) {
  std::string root = SendText(alice_, room_, "root", "u1");
  SendInThread(alice_, root, "in thread", "u2");
  RoomUnreadCounts counts = Counts(bob_);
  EXPECT_EQ(counts.total.notification_count, 2);
  EXPECT_EQ(counts.main.notification_count, 1);
  ASSERT_EQ(counts.threads.size(), 1u);
  EXPECT_EQ(counts.threads.at(root).notification_count, 1);
}

// Client-Server API "Threaded read receipts": a receipt with a thread_id reads its own
// partition only, `main` the main timeline only, an unthreaded one everything before it.
class ThreadedReceiptsTest : public NotificationsTest {
 protected:
  void SetUp() override {
    NotificationsTest::SetUp();
    root_ = SendText(alice_, room_, "root", "r");
    main_ = SendText(alice_, room_, "main after the root", "m1");
    reply_ = InThread("reply", "t1");
  }
  std::string InThread(std::string_view body, const std::string& txn) {
    return SendInThread(alice_, root_, body, txn);
  }
  std::string root_, main_, reply_;
};

TEST_F(ThreadedReceiptsTest, AThreadReceiptResetsOnlyThatThread) {
  ASSERT_EQ(Counts(bob_).main.notification_count, 2);
  ASSERT_EQ(Counts(bob_).threads[root_].notification_count, 1);
  ASSERT_TRUE(rooms().SetReceipt(bob_, room_, "m.read", reply_, root_).ok());
  RoomUnreadCounts counts = Counts(bob_);
  EXPECT_EQ(counts.main.notification_count, 2);
  EXPECT_EQ(counts.threads.count(root_), 0u);
  EXPECT_EQ(counts.total.notification_count, 2);
  // A later reply in the thread is unread again; the main timeline is untouched.
  InThread("second reply", "t2");
  counts = Counts(bob_);
  EXPECT_EQ(counts.threads[root_].notification_count, 1);
  EXPECT_EQ(counts.main.notification_count, 2);
}

TEST_F(ThreadedReceiptsTest, AMainReceiptResetsOnlyTheMainTimeline) {
  // The receipt is on an event after the reply in the stream, yet the thread stays unread.
  ASSERT_TRUE(rooms().SetReceipt(bob_, room_, "m.read.private", main_, "main").ok());
  std::string later = SendText(alice_, room_, "later", "m2");
  ASSERT_TRUE(rooms().SetReceipt(bob_, room_, "m.read", later, "main").ok());
  RoomUnreadCounts counts = Counts(bob_);
  EXPECT_EQ(counts.main.notification_count, 0);
  EXPECT_EQ(counts.threads[root_].notification_count, 1);
  EXPECT_EQ(counts.total.notification_count, 1);
  auto total = notifications().TotalUnread(bob_.user_id);
  ASSERT_TRUE(total.ok()) << total.status();
  EXPECT_EQ(*total, 1);
  // GET /notifications' `read` follows the partition too.
  auto page = notifications().List(bob_.user_id, std::nullopt, 10, false);
  ASSERT_TRUE(page.ok()) << page.status();
  for (const NotificationEntry& e : page->notifications) {
    const bool in_thread = StringField(e.event, "event_id") == reply_;
    EXPECT_EQ(e.read, !in_thread) << StringField(e.event, "event_id");
  }
}

TEST_F(ThreadedReceiptsTest, AnUnthreadedReceiptResetsEveryPartitionBeforeIt) {
  ASSERT_TRUE(rooms().SetReceipt(bob_, room_, "m.read", reply_).ok());
  EXPECT_EQ(Counts(bob_).total.notification_count, 0);
  EXPECT_TRUE(Counts(bob_).threads.empty());
  // An older threaded receipt does not rewind it.
  ASSERT_TRUE(rooms().SetReceipt(bob_, room_, "m.read", root_, "main").ok());
  EXPECT_EQ(Counts(bob_).total.notification_count, 0);
}

TEST_F(ThreadedReceiptsTest, AReplyInAThreadReadsThatThreadOnly) {
  SendInThread(bob_, root_, "bob replies", "b1");
  RoomUnreadCounts counts = Counts(bob_);
  EXPECT_EQ(counts.threads.count(root_), 0u);
  EXPECT_EQ(counts.main.notification_count, 2);
  SendText(bob_, room_, "bob in main", "b2");
  EXPECT_EQ(Counts(bob_).total.notification_count, 0);
}

TEST_F(ThreadedReceiptsTest, AnOwnEventRowFromBeforeThreadsReadsEveryPartition) {
  // push_read rows written before threads were told apart: PairKey(user, room).
  auto map = db_->OpenMap(schema::kPushReadMap);
  ASSERT_TRUE(map.ok());
  ASSERT_TRUE(db_->Put(**map, schema::PairKey(bob_.user_id, room_),
                       schema::EncodePosition(hs_->stream().current()))
                  .ok());
  EXPECT_EQ(Counts(bob_).total.notification_count, 0);
  InThread("after it", "t2");
  EXPECT_EQ(Counts(bob_).threads[root_].notification_count, 1);
}

TEST_F(ThreadedReceiptsTest, SyncShowsTheThreadedReceiptAndItsCounts) {
  SyncRequest request;
  request.filter.room.timeline.unread_thread_notifications = true;
  auto initial = hs_->sync().Run(bob_, request);
  ASSERT_TRUE(initial.ok() && initial->response);
  ASSERT_TRUE(rooms().SetReceipt(bob_, room_, "m.read", reply_, root_).ok());
  request.since = initial->response->next_batch;
  auto next = hs_->sync().Run(bob_, request);
  ASSERT_TRUE(next.ok() && next->response);
  ASSERT_EQ(next->response->join.size(), 1u);
  const JoinedRoomSync& joined = next->response->join[0];
  EXPECT_EQ(joined.notification_count, 2);
  ASSERT_TRUE(joined.thread_counts);
  EXPECT_THAT(*joined.thread_counts, IsEmpty());
  // The ephemeral m.receipt content carries the thread_id.
  const boost::json::value* by_event = joined.receipts.if_contains(reply_);
  ASSERT_NE(by_event, nullptr) << boost::json::serialize(joined.receipts);
  EXPECT_EQ(by_event->at("m.read").at(bob_.user_id).at("thread_id"), boost::json::value(root_));
}

TEST_F(NotificationsTest, SyncCarriesTheCountsWithTheEvent) {
  SyncRequest request;
  auto initial = hs_->sync().Run(bob_, request);
  ASSERT_TRUE(initial.ok() && initial->response);
  SendText(alice_, room_, "hey bob", "u1");
  request.since = initial->response->next_batch;
  request.filter.room.timeline.unread_thread_notifications = true;
  auto next = hs_->sync().Run(bob_, request);
  ASSERT_TRUE(next.ok() && next->response);
  ASSERT_EQ(next->response->join.size(), 1u);
  const JoinedRoomSync& joined = next->response->join[0];
  EXPECT_EQ(joined.timeline.events.size(), 1u);
  EXPECT_EQ(joined.notification_count, 1);
  EXPECT_EQ(joined.highlight_count, 1);
  ASSERT_TRUE(joined.thread_counts);
  EXPECT_THAT(*joined.thread_counts, IsEmpty());
}

TEST_F(NotificationsTest, ListIsNewestFirstWithReadStateAndPages) {
  std::string first = SendText(alice_, room_, "one", "u1");
  SendText(alice_, room_, "two, bob", "u2");
  SendText(alice_, room_, "three", "u3");
  ASSERT_TRUE(rooms().SetReceipt(bob_, room_, "m.read", first).ok());
  auto page = notifications().List(bob_.user_id, std::nullopt, 2, false);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->notifications.size(), 2u);
  auto body = [](const NotificationEntry& e) {
    return std::string(e.event.at("content").as_object().at("body").as_string());
  };
  EXPECT_EQ(body(page->notifications[0]), "three");
  EXPECT_EQ(body(page->notifications[1]), "two, bob");
  EXPECT_FALSE(page->notifications[0].read);
  EXPECT_EQ(page->notifications[0].room_id, room_);
  EXPECT_FALSE(page->notifications[0].actions.empty());
  ASSERT_TRUE(page->next_from);
  auto rest = notifications().List(bob_.user_id, page->next_from, 2, false);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->notifications.size(), 1u);
  EXPECT_EQ(body(rest->notifications[0]), "one");
  EXPECT_TRUE(rest->notifications[0].read);
  EXPECT_FALSE(rest->next_from);
  auto highlights = notifications().List(bob_.user_id, std::nullopt, 10, true);
  ASSERT_TRUE(highlights.ok());
  ASSERT_EQ(highlights->notifications.size(), 1u);
  EXPECT_EQ(body(highlights->notifications[0]), "two, bob");
}

TEST_F(ThreadedReceiptsTest, ThreadOfFollowsRelationsUpToThreeHops) {
  auto thread_of = [&](const std::string& content) {
    auto thread =
        ThreadOf(hs_->store(), boost::json::parse(R"({"content":)" + content + "}").as_object());
    EXPECT_TRUE(thread.ok()) << thread.status();
    return thread.ok() ? *thread : "error";
  };
  auto relates = [](std::string_view rel_type, const std::string& parent) {
    return std::string(R"({"m.relates_to":{"rel_type":")") + std::string(rel_type) +
           R"(","event_id":")" + parent + R"("}})";
  };
  EXPECT_EQ(thread_of(relates("m.thread", "$anything")), "$anything");
  EXPECT_EQ(thread_of("{}"), "");
  EXPECT_EQ(thread_of(relates("m.annotation", root_)), "");  // related to a root: main
  EXPECT_EQ(thread_of(relates("m.annotation", reply_)), root_);
  EXPECT_EQ(thread_of(relates("m.annotation", "$unknown")), "");
  // A reaction to an edit of a reply: three hops.
  const std::string edit = SendContent(
      alice_,
      R"({"msgtype":"m.text","body":"* reply","m.new_content":{"msgtype":"m.text","body":"r"},)"
      R"("m.relates_to":{"rel_type":"m.replace","event_id":")" +
          reply_ + R"("}})",
      "e1");
  auto reaction = rooms().Send(alice_, room_, "m.reaction", "e2",
                               boost::json::parse(relates("m.annotation", edit)).as_object());
  ASSERT_TRUE(reaction.ok()) << reaction.status();
  EXPECT_EQ(thread_of(relates("m.annotation", edit)), root_);
  EXPECT_EQ(thread_of(relates("m.annotation", *reaction)), "");  // four: too far
  // A message referencing the reply notifies in the thread, not in the main timeline.
  SendContent(alice_,
              std::string(R"({"msgtype":"m.text","body":"see above","m.relates_to":)") +
                  R"({"rel_type":"m.reference","event_id":")" + reply_ + R"("}})",
              "e3");
  RoomUnreadCounts counts = Counts(bob_);
  EXPECT_EQ(counts.main.notification_count, 2);
  EXPECT_EQ(counts.threads[root_].notification_count, 2);
}

}  // namespace
}  // namespace conclave::service
