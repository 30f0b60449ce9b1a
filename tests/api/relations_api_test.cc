// The relation routes (api/relations.cc) and the bundled aggregations' client shape
// (api/client_event.cc), through the Router (api_harness.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "api_harness.h"

namespace conclave::api::test_util {
namespace {

using service::Errcode;

constexpr char kCreate[] = "/_matrix/client/v3/createRoom";

class RelationsApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    alice_ = Register("alice");
    ApiResponse created = Post(kCreate, {}, alice_);
    room_id_ = std::string(created.json.at("room_id").as_string());
    room_ = "/_matrix/client/v3/rooms/" + room_id_;
    relations_ = "/_matrix/client/v1/rooms/" + room_id_;
  }
  std::string Send(const boost::json::object& content, const std::string& type = "m.room.message") {
    ApiResponse sent =
        Put(room_ + "/send/" + type + "/t" + std::to_string(++txn_), content, alice_);
    EXPECT_EQ(sent.status, 200) << sent.body;
    return sent.status == 200 ? std::string(sent.json.at("event_id").as_string()) : "";
  }
  static boost::json::object RelatesTo(const std::string& rel_type, const std::string& parent) {
    return {{"rel_type", rel_type}, {"event_id", parent}};
  }

  std::string alice_, room_id_, room_, relations_;
  int txn_ = 0;
};

TEST_F(RelationsApiTest, ThreadsEditsAndReactionsAsClientsSeeThem) {
  const std::string root = Send({{"msgtype", "m.text"}, {"body", "root"}});
  const std::string reply = Send(
      {{"msgtype", "m.text"}, {"body", "reply"}, {"m.relates_to", RelatesTo("m.thread", root)}});
  const std::string edit = Send({{"msgtype", "m.text"},
                                 {"body", "* root!"},
                                 {"m.new_content", {{"msgtype", "m.text"}, {"body", "root!"}}},
                                 {"m.relates_to", RelatesTo("m.replace", root)}});
  boost::json::object annotation = RelatesTo("m.annotation", root);
  annotation["key"] = "👍";
  const std::string reaction = Send({{"m.relates_to", annotation}}, "m.reaction");

  ApiResponse event = Get(room_ + "/event/" + root, alice_);
  ASSERT_EQ(event.status, 200) << event.body;
  const auto& bundle = event.json.at("unsigned").at("m.relations").as_object();
  const auto& latest = bundle.at("m.thread").at("latest_event").as_object();
  EXPECT_EQ(latest.at("event_id").as_string(), reply);
  EXPECT_EQ(bundle.at("m.thread").at("count").as_int64(), 1);
  EXPECT_TRUE(bundle.at("m.thread").at("current_user_participated").as_bool());
  // Shaped as a client event: no PDU fields, an age.
  EXPECT_FALSE(latest.contains("hashes"));
  EXPECT_TRUE(latest.at("unsigned").at("age").is_int64());
  EXPECT_EQ(bundle.at("m.replace").at("event_id").as_string(), edit);
  EXPECT_FALSE(bundle.at("m.replace").as_object().contains("prev_events"));
  EXPECT_EQ(event.json.at("content").at("body").as_string(), "root");  // not replaced (v1.7)

  ApiResponse messages = Get(room_ + "/messages?dir=b&limit=10", alice_);
  ASSERT_EQ(messages.status, 200) << messages.body;
  bool bundled = false;
  for (const auto& e : messages.json.at("chunk").as_array()) {
    if (e.at("event_id").as_string() == root) {
      bundled = e.at("unsigned").as_object().contains("m.relations");
    }
  }
  EXPECT_TRUE(bundled) << messages.body;

  ApiResponse all = Get(relations_ + "/relations/" + root, alice_);
  ASSERT_EQ(all.status, 200) << all.body;
  ASSERT_EQ(all.json.at("chunk").as_array().size(), 3u) << all.body;
  EXPECT_EQ(all.json.at("chunk").at(0).at("event_id").as_string(), reaction);  // newest first
  EXPECT_FALSE(all.json.contains("recursion_depth"));
  ApiResponse reactions =
      Get(relations_ + "/relations/" + root + "/m.annotation/m.reaction?recurse=true", alice_);
  ASSERT_EQ(reactions.status, 200) << reactions.body;
  ASSERT_EQ(reactions.json.at("chunk").as_array().size(), 1u);
  EXPECT_EQ(reactions.json.at("chunk").at(0).at("event_id").as_string(), reaction);
  EXPECT_EQ(reactions.json.at("recursion_depth").as_int64(), 3);
  ApiResponse paged = Get(relations_ + "/relations/" + root + "?limit=1&dir=f", alice_);
  ASSERT_EQ(paged.status, 200) << paged.body;
  EXPECT_EQ(paged.json.at("chunk").at(0).at("event_id").as_string(), reply);
  EXPECT_TRUE(paged.json.at("next_batch").is_string());

  ApiResponse threads = Get(relations_ + "/threads?include=participated", alice_);
  ASSERT_EQ(threads.status, 200) << threads.body;
  ASSERT_EQ(threads.json.at("chunk").as_array().size(), 1u);
  EXPECT_EQ(threads.json.at("chunk").at(0).at("event_id").as_string(), root);
}

TEST_F(RelationsApiTest, BadRequestsGetTheirErrcodes) {
  const std::string root = Send({{"msgtype", "m.text"}, {"body", "root"}});
  ApiResponse r = Get(relations_ + "/relations/$unknown", alice_);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.errcode(), Errcode::kNotFound);
  r = Get(relations_ + "/relations/" + root + "?dir=x", alice_);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.errcode(), Errcode::kInvalidParam);
  r = Get(relations_ + "/relations/" + root + "?limit=-1", alice_);
  EXPECT_EQ(r.errcode(), Errcode::kInvalidParam);
  r = Get(relations_ + "/relations/" + root + "?from=nonsense", alice_);
  EXPECT_EQ(r.errcode(), Errcode::kInvalidParam);
  r = Get(relations_ + "/threads?include=some", alice_);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.errcode(), Errcode::kInvalidParam);
  const std::string other = Register("bob");
  r = Get(relations_ + "/relations/" + root, other);
  EXPECT_EQ(r.status, 404);
  // A thread off a thread reply: 400 M_UNKNOWN (threading.md).
  const std::string reply =
      Send({{"body", "reply"}, {"m.relates_to", RelatesTo("m.thread", root)}});
  ApiResponse nested = Put(room_ + "/send/m.room.message/n1",
                           {{"body", "x"}, {"m.relates_to", RelatesTo("m.thread", reply)}}, alice_);
  EXPECT_EQ(nested.status, 400) << nested.body;
  EXPECT_EQ(nested.errcode(), Errcode::kUnknown);
}

TEST_F(RelationsApiTest, ThreadedReceiptsAreCheckedAndSynced) {
  const std::string root = Send({{"msgtype", "m.text"}, {"body", "root"}});
  const std::string reply =
      Send({{"body", "reply"}, {"m.relates_to", RelatesTo("m.thread", root)}});
  const std::string receipt = room_ + "/receipt/m.read/";
  ApiResponse r = Post(receipt + reply, {{"thread_id", ""}}, alice_);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.errcode(), Errcode::kInvalidParam);
  r = Post(receipt + reply, {{"thread_id", 5}}, alice_);
  EXPECT_EQ(r.errcode(), Errcode::kInvalidParam);
  r = Post(receipt + reply, {{"thread_id", "main"}}, alice_);
  EXPECT_EQ(r.errcode(), Errcode::kInvalidParam) << r.body;
  r = Post(room_ + "/receipt/m.fully_read/" + reply, {{"thread_id", root}}, alice_);
  EXPECT_EQ(r.errcode(), Errcode::kInvalidParam);
  r = Post(receipt + reply, {{"thread_id", root}}, alice_);
  ASSERT_EQ(r.status, 200) << r.body;

  ApiResponse sync = Get("/_matrix/client/v3/sync", alice_);
  ASSERT_EQ(sync.status, 200) << sync.body;
  const auto& ephemeral =
      sync.json.at("rooms").at("join").at(room_id_).at("ephemeral").at("events").as_array();
  bool found = false;
  for (const auto& e : ephemeral) {
    if (e.at("type").as_string() != "m.receipt") continue;
    const auto& mine = e.at("content").at(reply).at("m.read").as_object();
    found = mine.at("@alice:example.org").at("thread_id").as_string() == root;
  }
  EXPECT_TRUE(found) << sync.body;
}

// Client-Server API "Threaded read receipts": a receipt in a thread resets that thread's
// unread_thread_notifications only, `main` the main timeline's only.
TEST_F(RelationsApiTest, ThreadedReceiptsResetTheirOwnPartitionInSync) {
  const std::string bob = Register("bob");
  ASSERT_EQ(Post(room_ + "/invite", {{"user_id", "@bob:example.org"}}, alice_).status, 200);
  ASSERT_EQ(Post("/_matrix/client/v3/join/" + room_id_, {}, bob).status, 200);
  const std::string root = Send({{"msgtype", "m.text"}, {"body", "root"}});
  const std::string reply = Send(
      {{"msgtype", "m.text"}, {"body", "reply"}, {"m.relates_to", RelatesTo("m.thread", root)}});
  const std::string later = Send({{"msgtype", "m.text"}, {"body", "later in main"}});
  // {"room":{"timeline":{"unread_thread_notifications":true}}}
  const std::string sync_path =
      "/_matrix/client/v3/sync?filter=%7B%22room%22%3A%7B%22timeline%22%3A%7B%22unread_thread_"
      "notifications%22%3Atrue%7D%7D%7D";
  auto room_of = [&](const ApiResponse& sync) -> const boost::json::object& {
    return sync.json.at("rooms").at("join").at(room_id_).as_object();
  };
  ApiResponse sync = Get(sync_path, bob);
  ASSERT_EQ(sync.status, 200) << sync.body;
  EXPECT_EQ(room_of(sync).at("unread_notifications").at("notification_count"), 2) << sync.body;
  EXPECT_EQ(room_of(sync).at("unread_thread_notifications").at(root).at("notification_count"), 1);

  ASSERT_EQ(Post(room_ + "/receipt/m.read/" + later, {{"thread_id", "main"}}, bob).status, 200);
  sync = Get(sync_path, bob);
  ASSERT_EQ(sync.status, 200) << sync.body;
  EXPECT_EQ(room_of(sync).at("unread_notifications").at("notification_count"), 0) << sync.body;
  EXPECT_EQ(room_of(sync).at("unread_thread_notifications").at(root).at("notification_count"), 1);

  ASSERT_EQ(Post(room_ + "/receipt/m.read/" + reply, {{"thread_id", root}}, bob).status, 200);
  sync = Get(sync_path, bob);
  ASSERT_EQ(sync.status, 200) << sync.body;
  const boost::json::object& joined = room_of(sync);
  EXPECT_TRUE(!joined.contains("unread_thread_notifications") ||
              !joined.at("unread_thread_notifications").as_object().contains(root))
      << sync.body;
}

}  // namespace
}  // namespace conclave::api::test_util
