// The push rule routes (pushrules.yaml) end to end through the router, their m.push_rules
// account data in /sync, and GET /notifications (notifications.yaml).
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <vector>

#include "api_harness.h"

namespace conclave::api {
namespace {

using boost::json::object;
using service::Errcode;
using test_util::ApiResponse;

constexpr char kRules[] = "/_matrix/client/v3/pushrules/global/";

class PushRulesApiTest : public test_util::ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    token_ = Register("alice");
  }
  ApiResponse Delete(const std::string& target) { return Call("DELETE", target, nullptr, token_); }
  std::vector<std::string> Ids(std::string_view kind) {
    ApiResponse r = Get(kRules, token_);
    std::vector<std::string> ids;
    for (const auto& rule : r.json.at(kind).as_array()) {
      ids.emplace_back(rule.as_object().at("rule_id").as_string());
    }
    return ids;
  }
  // The m.push_rules content in a /sync `since` (initial when empty), or an empty object.
  object SyncedRules(const std::string& since, std::string* next_batch = nullptr) {
    ApiResponse r =
        Get("/_matrix/client/v3/sync?timeout=0" + (since.empty() ? "" : "&since=" + since), token_);
    if (next_batch != nullptr) *next_batch = std::string(r.json.at("next_batch").as_string());
    const auto* account_data = r.json.if_contains("account_data");
    if (account_data == nullptr) return {};
    for (const auto& event : account_data->as_object().at("events").as_array()) {
      if (event.as_object().at("type") == "m.push_rules") {
        return event.as_object().at("content").as_object();
      }
    }
    return {};
  }
  std::string token_;
};

TEST_F(PushRulesApiTest, PutCreatesAndGetReadsBack) {
  ApiResponse put = Put(std::string(kRules) + "content/cake",
                        {{"pattern", "cake*lie"}, {"actions", {"notify"}}}, token_);
  ASSERT_EQ(put.status, 200) << put.body;
  ApiResponse rule = Get(std::string(kRules) + "content/cake", token_);
  ASSERT_EQ(rule.status, 200);
  EXPECT_EQ(rule.json.at("pattern"), "cake*lie");
  EXPECT_EQ(rule.json.at("enabled"), true);
  EXPECT_EQ(rule.json.at("default"), false);
  EXPECT_EQ(Ids("content").front(), "cake");
}

TEST_F(PushRulesApiTest, BeforeAndAfterOrderUserRules) {
  const object body{{"actions", boost::json::array()}};
  ASSERT_EQ(Put(std::string(kRules) + "override/a", body, token_).status, 200);
  ASSERT_EQ(Put(std::string(kRules) + "override/b?after=a", body, token_).status, 200);
  ASSERT_EQ(Put(std::string(kRules) + "override/c?before=a", body, token_).status, 200);
  std::vector<std::string> ids = Ids("override");
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(ids.begin(), ids.begin() + 4),
            (std::vector<std::string>{".m.rule.master", "c", "a", "b"}));
  ApiResponse missing = Put(std::string(kRules) + "override/d?before=nope", body, token_);
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.errcode(), Errcode::kUnknown);
}

TEST_F(PushRulesApiTest, BadRequestsAnswerTheSpecsErrors) {
  const object body{{"actions", boost::json::array()}};
  EXPECT_EQ(Put(std::string(kRules) + "override/.mine", body, token_).errcode(),
            Errcode::kInvalidParam);
  EXPECT_EQ(Put(std::string(kRules) + "nonsense/x", body, token_).errcode(),
            Errcode::kInvalidParam);
  EXPECT_EQ(Put("/_matrix/client/v3/pushrules/device/override/x", body, token_).errcode(),
            Errcode::kInvalidParam);
  EXPECT_EQ(Put(std::string(kRules) + "override/x", {{"actions", 3}}, token_).errcode(),
            Errcode::kInvalidParam);
  EXPECT_EQ(Get(std::string(kRules) + "override/nope", token_).status, 404);
  EXPECT_EQ(Delete(std::string(kRules) + "override/nope").errcode(), Errcode::kNotFound);
  ApiResponse master = Delete(std::string(kRules) + "override/.m.rule.master");
  EXPECT_EQ(master.status, 400);
  EXPECT_EQ(master.errcode(), Errcode::kInvalidParam);
  EXPECT_EQ(
      Put(std::string(kRules) + "override/.m.rule.master/enabled", {{"enabled", "yes"}}, token_)
          .errcode(),
      Errcode::kInvalidParam);
  EXPECT_EQ(
      Put(std::string(kRules) + "override/nope/enabled", {{"enabled", true}}, token_).errcode(),
      Errcode::kNotFound);
}

TEST_F(PushRulesApiTest, DefaultRulesCanBeDisabledAndGivenActions) {
  ASSERT_EQ(
      Put(std::string(kRules) + "override/.m.rule.master/enabled", {{"enabled", true}}, token_)
          .status,
      200);
  EXPECT_EQ(Get(std::string(kRules) + "override/.m.rule.master/enabled", token_).json.at("enabled"),
            true);
  ASSERT_EQ(Put(std::string(kRules) + "underride/.m.rule.message/actions",
                {{"actions", boost::json::array()}}, token_)
                .status,
            200);
  EXPECT_TRUE(Get(std::string(kRules) + "underride/.m.rule.message/actions", token_)
                  .json.at("actions")
                  .as_array()
                  .empty());
}

TEST_F(PushRulesApiTest, DeleteRemovesTheRule) {
  ASSERT_EQ(Put(std::string(kRules) + "sender/@bob:example.org",
                {{"actions", boost::json::array()}}, token_)
                .status,
            200);
  EXPECT_EQ(Delete(std::string(kRules) + "sender/@bob:example.org").status, 200);
  EXPECT_EQ(Get(std::string(kRules) + "sender/@bob:example.org", token_).status, 404);
}

TEST_F(PushRulesApiTest, ChangesReachSyncAsAccountData) {
  std::string next;
  object initial = SyncedRules("", &next);
  ASSERT_FALSE(initial.empty());
  EXPECT_TRUE(SyncedRules(next).empty());  // nothing changed: not sent again
  ASSERT_EQ(
      Put(std::string(kRules) + "room/!r:example.org", {{"actions", {"notify"}}}, token_).status,
      200);
  object changed = SyncedRules(next);
  ASSERT_FALSE(changed.empty());
  const auto& room_rules = changed.at("global").as_object().at("room").as_array();
  ASSERT_EQ(room_rules.size(), 1u);
  EXPECT_EQ(room_rules[0].as_object().at("rule_id"), "!r:example.org");
  // The whole ruleset, not only the change.
  EXPECT_FALSE(changed.at("global").as_object().at("underride").as_array().empty());
  // And account data GET answers the same ruleset.
  ApiResponse direct =
      Get("/_matrix/client/v3/user/@alice:example.org/account_data/m.push_rules", token_);
  EXPECT_EQ(direct.json, changed);
}

class NotificationsApiTest : public test_util::ApiTest {};

TEST_F(NotificationsApiTest, ListsNotifiedEventsWithPagesAndHighlightsOnly) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  ApiResponse created = Post("/_matrix/client/v3/createRoom", {{"preset", "public_chat"}}, alice);
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string room_id(created.json.at("room_id").as_string());
  ASSERT_EQ(Post("/_matrix/client/v3/join/" + room_id, {}, bob).status, 200);
  std::vector<std::string> sent;
  for (const char* body : {"one", "hello bob", "three"}) {
    ApiResponse r = Put("/_matrix/client/v3/rooms/" + room_id + "/send/m.room.message/" + body,
                        {{"msgtype", "m.text"}, {"body", body}}, alice);
    ASSERT_EQ(r.status, 200) << r.body;
    sent.emplace_back(r.json.at("event_id").as_string());
  }
  ApiResponse first = Get("/_matrix/client/v3/notifications?limit=2", bob);
  ASSERT_EQ(first.status, 200) << first.body;
  const auto& page = first.json.at("notifications").as_array();
  ASSERT_EQ(page.size(), 2u);
  const object& newest = page[0].as_object();
  EXPECT_EQ(newest.at("event").as_object().at("event_id").as_string(), sent[2]);
  EXPECT_EQ(newest.at("room_id").as_string(), room_id);
  EXPECT_EQ(newest.at("read"), false);
  EXPECT_TRUE(newest.at("ts").is_int64());
  EXPECT_FALSE(newest.at("actions").as_array().empty());
  ASSERT_TRUE(first.json.contains("next_token"));
  ApiResponse second = Get("/_matrix/client/v3/notifications?limit=2&from=" +
                               std::string(first.json.at("next_token").as_string()),
                           bob);
  ASSERT_EQ(second.json.at("notifications").as_array().size(), 1u);
  EXPECT_FALSE(second.json.contains("next_token"));
  ApiResponse highlights = Get("/_matrix/client/v3/notifications?only=highlight", bob);
  ASSERT_EQ(highlights.json.at("notifications").as_array().size(), 1u);
  EXPECT_EQ(
      highlights.json.at("notifications").as_array()[0].at("event").at("event_id").as_string(),
      sent[1]);
  // The sender is never notified of its own events (alice, the first user, has the admin room's
  // invite).
  const ApiResponse own = Get("/_matrix/client/v3/notifications", alice);
  for (const auto& n : own.json.at("notifications").as_array()) {
    EXPECT_NE(n.at("room_id").as_string(), room_id);
  }
  EXPECT_EQ(Get("/_matrix/client/v3/notifications?from=abc", bob).errcode(),
            Errcode::kInvalidParam);
  EXPECT_EQ(Get("/_matrix/client/v3/notifications?limit=-1", bob).errcode(),
            Errcode::kInvalidParam);
}

}  // namespace
}  // namespace conclave::api
