// The two-layer push ruleset and its edits (pushrules.yaml).
#include "conclave/service/protocol/push_rule_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <vector>

#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/push_rules.h"

namespace conclave::service {
namespace {

using boost::json::object;
using ::testing::ElementsAre;

object Json(std::string_view text) { return boost::json::parse(text).as_object(); }

class PushRuleSetTest : public ::testing::Test {
 protected:
  std::vector<std::string> Ids(std::string_view kind) {
    object merged = MergePushRules(defaults_, &stored_);
    std::vector<std::string> ids;
    for (const auto& rule : merged["global"].as_object()[kind].as_array()) {
      ids.emplace_back(rule.as_object().at("rule_id").as_string());
    }
    return ids;
  }
  object Rule(std::string_view kind, std::string_view id) {
    return *FindPushRule(MergePushRules(defaults_, &stored_), kind, id);
  }
  absl::Status Put(std::string_view kind, std::string_view id, std::string_view body,
                   std::optional<std::string_view> before = std::nullopt,
                   std::optional<std::string_view> after = std::nullopt) {
    return PutPushRule(stored_, kind, id, Json(body), before, after);
  }
  object defaults_ = DefaultPushRules("@alice:example.org", "alice");
  object stored_;
};

TEST_F(PushRuleSetTest, NothingStoredIsTheDefaults) {
  EXPECT_EQ(MergePushRules(defaults_, nullptr), defaults_);
  EXPECT_EQ(MergePushRules(defaults_, &stored_), defaults_);
}

TEST_F(PushRuleSetTest, UserRulesComeBeforeDefaultsButAfterMaster) {
  ASSERT_TRUE(Put("override", "a", R"({"actions":["notify"]})").ok());
  ASSERT_TRUE(Put("override", "b", R"({"actions":[]})").ok());
  std::vector<std::string> ids = Ids("override");
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(ids[0], ".m.rule.master");
  EXPECT_EQ(ids[1], "b");  // a new rule is the most important user rule
  EXPECT_EQ(ids[2], "a");
  EXPECT_EQ(ids[3], ".m.rule.suppress_notices");
  object a = Rule("override", "a");
  EXPECT_EQ(a.at("enabled"), true);
  EXPECT_EQ(a.at("default"), false);
  EXPECT_TRUE(a.at("conditions").as_array().empty());
}

TEST_F(PushRuleSetTest, BeforeAndAfterPlaceTheRule) {
  ASSERT_TRUE(Put("room", "!a:x", R"({"actions":[]})").ok());
  ASSERT_TRUE(Put("room", "!b:x", R"({"actions":[]})", std::nullopt, "!a:x").ok());
  EXPECT_THAT(Ids("room"), ElementsAre("!a:x", "!b:x"));
  ASSERT_TRUE(Put("room", "!c:x", R"({"actions":[]})", "!b:x").ok());
  EXPECT_THAT(Ids("room"), ElementsAre("!a:x", "!c:x", "!b:x"));
  absl::Status missing = Put("room", "!d:x", R"({"actions":[]})", "!nope:x");
  EXPECT_EQ(missing.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrcodeOf(missing), Errcode::kUnknown);
  EXPECT_EQ(ErrcodeOf(Put("override", "e", R"({"actions":[]})", ".m.rule.master")),
            Errcode::kInvalidParam);
  EXPECT_THAT(Ids("room"), ElementsAre("!a:x", "!c:x", "!b:x"));  // failures changed nothing
}

TEST_F(PushRuleSetTest, UpdateKeepsPlaceAndEnabled) {
  ASSERT_TRUE(Put("sender", "@x:x", R"({"actions":[]})").ok());
  ASSERT_TRUE(Put("sender", "@y:x", R"({"actions":[]})").ok());
  ASSERT_TRUE(SetPushRuleEnabled(stored_, defaults_, "sender", "@x:x", false).ok());
  ASSERT_TRUE(Put("sender", "@x:x", R"({"actions":["notify"]})").ok());
  EXPECT_THAT(Ids("sender"), ElementsAre("@y:x", "@x:x"));
  EXPECT_EQ(Rule("sender", "@x:x").at("enabled"), false);
  EXPECT_EQ(Rule("sender", "@x:x").at("actions"), boost::json::parse(R"(["notify"])"));
}

TEST_F(PushRuleSetTest, BadRulesAreRefused) {
  EXPECT_EQ(ErrcodeOf(Put("override", ".mine", R"({"actions":[]})")), Errcode::kInvalidParam);
  EXPECT_EQ(ErrcodeOf(Put("override", "a/b", R"({"actions":[]})")), Errcode::kInvalidParam);
  EXPECT_EQ(ErrcodeOf(Put("override", "a\\b", R"({"actions":[]})")), Errcode::kInvalidParam);
  EXPECT_EQ(ErrcodeOf(Put("bogus", "a", R"({"actions":[]})")), Errcode::kInvalidParam);
  EXPECT_EQ(ErrcodeOf(Put("override", "a", R"({})")), Errcode::kMissingParam);
  EXPECT_EQ(ErrcodeOf(Put("override", "a", R"({"actions":"notify"})")), Errcode::kInvalidParam);
  EXPECT_EQ(ErrcodeOf(Put("override", "a", R"({"actions":[1]})")), Errcode::kInvalidParam);
  EXPECT_EQ(ErrcodeOf(Put("override", "a", R"({"actions":[],"conditions":[{}]})")),
            Errcode::kInvalidParam);
  EXPECT_EQ(ErrcodeOf(Put("content", "a", R"({"actions":[]})")), Errcode::kMissingParam);
  EXPECT_EQ(MergePushRules(defaults_, &stored_), defaults_);
}

TEST_F(PushRuleSetTest, ContentRulesKeepTheirPattern) {
  ASSERT_TRUE(Put("content", "cake", R"({"actions":["notify"],"pattern":"cake*lie"})").ok());
  EXPECT_THAT(Ids("content"), ElementsAre("cake", ".m.rule.contains_user_name"));
  EXPECT_EQ(Rule("content", "cake").at("pattern"), "cake*lie");
}

TEST_F(PushRuleSetTest, DefaultRulesChangeButCannotBeDeleted) {
  ASSERT_TRUE(SetPushRuleEnabled(stored_, defaults_, "override", ".m.rule.master", true).ok());
  ASSERT_TRUE(SetPushRuleActions(stored_, defaults_, "underride", ".m.rule.message",
                                 boost::json::parse(R"(["dont_notify"])").as_array())
                  .ok());
  EXPECT_EQ(Rule("override", ".m.rule.master").at("enabled"), true);
  EXPECT_EQ(Rule("underride", ".m.rule.message").at("actions"),
            boost::json::parse(R"(["dont_notify"])"));
  EXPECT_EQ(Rule("underride", ".m.rule.message").at("default"), true);
  EXPECT_EQ(ErrcodeOf(DeletePushRule(stored_, defaults_, "override", ".m.rule.master")),
            Errcode::kInvalidParam);
  EXPECT_EQ(ErrcodeOf(SetPushRuleEnabled(stored_, defaults_, "override", ".m.rule.nope", true)),
            Errcode::kNotFound);
  EXPECT_EQ(ErrcodeOf(SetPushRuleActions(stored_, defaults_, "underride", ".m.rule.message",
                                         boost::json::parse(R"([2])").as_array())),
            Errcode::kInvalidParam);
}

TEST_F(PushRuleSetTest, DeleteRemovesUserRules) {
  ASSERT_TRUE(Put("underride", "u", R"({"actions":[]})").ok());
  ASSERT_TRUE(DeletePushRule(stored_, defaults_, "underride", "u").ok());
  EXPECT_EQ(ErrcodeOf(DeletePushRule(stored_, defaults_, "underride", "u")), Errcode::kNotFound);
  EXPECT_EQ(ErrcodeOf(FindPushRule(MergePushRules(defaults_, &stored_), "underride", "u").status()),
            Errcode::kNotFound);
}

TEST_F(PushRuleSetTest, MalformedStoredPartsAreIgnored) {
  stored_ = Json(R"({"global":{"override":[1,{"no_id":true},{"rule_id":""}],"room":"x"}})");
  EXPECT_EQ(MergePushRules(defaults_, &stored_), defaults_);
}

}  // namespace
}  // namespace conclave::service
