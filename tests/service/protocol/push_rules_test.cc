#include "conclave/service/protocol/push_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <vector>

namespace conclave::service {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kUser[] = "@alice:example.org";

const boost::json::array& Kind(const boost::json::object& rules, std::string_view kind) {
  return rules.at("global").as_object().at(kind).as_array();
}

std::vector<std::string> RuleIds(const boost::json::array& rules) {
  std::vector<std::string> ids;
  for (const boost::json::value& rule : rules) {
    ids.emplace_back(rule.as_object().at("rule_id").as_string());
  }
  return ids;
}

const boost::json::object& FindRule(const boost::json::object& rules, std::string_view kind,
                                    std::string_view rule_id) {
  for (const boost::json::value& rule : Kind(rules, kind)) {
    if (rule.as_object().at("rule_id").as_string() == rule_id) return rule.as_object();
  }
  ADD_FAILURE() << "no rule " << rule_id;
  static const boost::json::object kNone;
  return kNone;
}

TEST(PushRulesTest, HasTheFiveKindsUnderGlobal) {
  boost::json::object rules = DefaultPushRules(kUser, "alice");
  ASSERT_EQ(rules.size(), 1u);
  const boost::json::object& global = rules.at("global").as_object();
  EXPECT_EQ(global.size(), 5u);
  for (std::string_view kind : {"override", "content", "room", "sender", "underride"}) {
    ASSERT_TRUE(global.contains(kind)) << kind;
    EXPECT_TRUE(global.at(kind).is_array()) << kind;
  }
  EXPECT_TRUE(Kind(rules, "room").empty());
  EXPECT_TRUE(Kind(rules, "sender").empty());
}

TEST(PushRulesTest, PredefinedRulesInSpecOrder) {
  boost::json::object rules = DefaultPushRules(kUser, "alice");
  EXPECT_THAT(RuleIds(Kind(rules, "override")),
              ElementsAre(".m.rule.master", ".m.rule.suppress_notices", ".m.rule.invite_for_me",
                          ".m.rule.member_event", ".m.rule.is_user_mention",
                          ".m.rule.contains_display_name", ".m.rule.is_room_mention",
                          ".m.rule.roomnotif", ".m.rule.tombstone", ".m.rule.reaction",
                          ".m.rule.room.server_acl", ".m.rule.suppress_edits"));
  EXPECT_THAT(RuleIds(Kind(rules, "content")), ElementsAre(".m.rule.contains_user_name"));
  EXPECT_THAT(RuleIds(Kind(rules, "underride")),
              ElementsAre(".m.rule.call", ".m.rule.encrypted_room_one_to_one",
                          ".m.rule.room_one_to_one", ".m.rule.message", ".m.rule.encrypted"));
}

TEST(PushRulesTest, EveryRuleIsADefaultWithTheRequiredFields) {
  boost::json::object rules = DefaultPushRules(kUser, "alice");
  for (std::string_view kind : {"override", "content", "underride"}) {
    for (const boost::json::value& value : Kind(rules, kind)) {
      const boost::json::object& rule = value.as_object();
      std::string text = boost::json::serialize(rule);
      ASSERT_TRUE(rule.contains("rule_id")) << text;
      EXPECT_EQ(rule.at("rule_id").as_string()[0], '.') << text;
      EXPECT_EQ(rule.at("default"), true) << text;
      EXPECT_TRUE(rule.at("enabled").is_bool()) << text;
      EXPECT_TRUE(rule.at("actions").is_array()) << text;
      if (kind == "content") {
        EXPECT_TRUE(rule.at("pattern").is_string()) << text;
        EXPECT_FALSE(rule.contains("conditions")) << text;
      } else {
        EXPECT_TRUE(rule.at("conditions").is_array()) << text;
      }
      bool master = rule.at("rule_id") == ".m.rule.master";
      EXPECT_EQ(rule.at("enabled"), !master) << text;
    }
  }
}

TEST(PushRulesTest, UserSpecificRulesNameTheUser) {
  boost::json::object rules = DefaultPushRules(kUser, "alice");
  const boost::json::object& invite = FindRule(rules, "override", ".m.rule.invite_for_me");
  EXPECT_EQ(invite.at("conditions"), boost::json::parse(R"([
      {"kind": "event_match", "key": "type", "pattern": "m.room.member"},
      {"kind": "event_match", "key": "content.membership", "pattern": "invite"},
      {"kind": "event_match", "key": "state_key", "pattern": "@alice:example.org"}])"));
  const boost::json::object& mention = FindRule(rules, "override", ".m.rule.is_user_mention");
  EXPECT_EQ(mention.at("conditions"), boost::json::parse(R"([
      {"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids",
       "value": "@alice:example.org"}])"));
  EXPECT_EQ(FindRule(rules, "content", ".m.rule.contains_user_name").at("pattern"), "alice");

  boost::json::object bob = DefaultPushRules("@bob:example.org", "bob");
  EXPECT_THAT(boost::json::serialize(bob), ::testing::Not(HasSubstr("alice")));
  EXPECT_THAT(boost::json::serialize(bob), HasSubstr("@bob:example.org"));
}

TEST(PushRulesTest, ActionsAndConditionsMatchTheSpecDefinitions) {
  boost::json::object rules = DefaultPushRules(kUser, "alice");
  EXPECT_EQ(boost::json::value(FindRule(rules, "override", ".m.rule.master")),
            boost::json::parse(R"({"rule_id": ".m.rule.master", "default": true,
                "enabled": false, "conditions": [], "actions": []})"));
  EXPECT_EQ(FindRule(rules, "override", ".m.rule.is_room_mention").at("conditions"),
            boost::json::parse(R"([
                {"kind": "event_property_is", "key": "content.m\\.mentions.room", "value": true},
                {"kind": "sender_notification_permission", "key": "room"}])"));
  EXPECT_EQ(FindRule(rules, "override", ".m.rule.roomnotif").at("actions"),
            boost::json::parse(R"(["notify", {"set_tweak": "highlight"}])"));
  EXPECT_EQ(FindRule(rules, "override", ".m.rule.suppress_edits").at("conditions"),
            boost::json::parse(R"([{"kind": "event_property_is",
                "key": "content.m\\.relates_to.rel_type", "value": "m.replace"}])"));
  EXPECT_EQ(FindRule(rules, "override", ".m.rule.contains_display_name").at("actions"),
            boost::json::parse(R"(["notify", {"set_tweak": "sound", "value": "default"},
                {"set_tweak": "highlight"}])"));
  EXPECT_EQ(FindRule(rules, "underride", ".m.rule.call").at("actions"),
            boost::json::parse(R"(["notify", {"set_tweak": "sound", "value": "ring"}])"));
  EXPECT_EQ(FindRule(rules, "underride", ".m.rule.encrypted_room_one_to_one").at("conditions"),
            boost::json::parse(R"([{"kind": "room_member_count", "is": "2"},
                {"kind": "event_match", "key": "type", "pattern": "m.room.encrypted"}])"));
  EXPECT_EQ(FindRule(rules, "underride", ".m.rule.message").at("actions"),
            boost::json::parse(R"(["notify"])"));
  EXPECT_EQ(FindRule(rules, "override", ".m.rule.reaction").at("actions"), boost::json::array());
}

}  // namespace
}  // namespace conclave::service
