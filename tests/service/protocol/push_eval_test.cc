// Push rule evaluation, case by case from the Client-Server API's "Push Rules" section and its
// examples.
#include "conclave/service/protocol/push_eval.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "conclave/service/protocol/push_rules.h"

namespace conclave::service {
namespace {

using boost::json::object;
using ::testing::ElementsAre;

constexpr char kUser[] = "@alice:example.org";

object Json(std::string_view text) { return boost::json::parse(text).as_object(); }

object Message(std::string_view body, std::string_view sender = "@bob:example.org") {
  object event = Json(R"({"type":"m.room.message","room_id":"!r:example.org",
                          "content":{"msgtype":"m.text"}})");
  event["sender"] = sender;
  event["content"].as_object()["body"] = body;
  return event;
}

bool Holds(std::string_view condition, const object& event, const PushContext& context = {}) {
  return ConditionMatches(Json(condition), event, context);
}

TEST(SplitPropertyPath, UnescapesDotsAndBackslashesOnly) {
  EXPECT_THAT(SplitPropertyPath("content.body"), ElementsAre("content", "body"));
  EXPECT_THAT(SplitPropertyPath(R"(content.m\.relates_to)"),
              ElementsAre("content", "m.relates_to"));
  EXPECT_THAT(SplitPropertyPath(R"(content.m\\foo)"), ElementsAre("content", R"(m\foo)"));
  EXPECT_THAT(SplitPropertyPath(R"(a\x.b)"), ElementsAre(R"(a\x)", "b"));
}

TEST(GlobMatches, WholeValueCaseInsensitive) {
  // The spec's example: `lunc?*` against content.topic.
  EXPECT_TRUE(GlobMatches("lunc?*", "Lunch plans", false));
  EXPECT_TRUE(GlobMatches("lunc?*", "LUNCH", false));
  EXPECT_FALSE(GlobMatches("lunc?*", " lunch", false));
  EXPECT_FALSE(GlobMatches("lunc?*", "lunc", false));
  EXPECT_TRUE(GlobMatches("*", "", false));
  EXPECT_FALSE(GlobMatches("a", "ab", false));
}

TEST(GlobMatches, QuestionMarkIsOneCodePoint) {
  EXPECT_TRUE(GlobMatches("caf?", "café", false));
  EXPECT_FALSE(GlobMatches("caf??", "café", false));
}

TEST(GlobMatches, BodyMatchesWordBoundedSubstrings) {
  // The spec's example: `ex*ple` against content.body.
  EXPECT_TRUE(GlobMatches("ex*ple", "An example event.", true));
  EXPECT_TRUE(GlobMatches("ex*ple", "exple", true));
  EXPECT_TRUE(GlobMatches("ex*ple", "An exciting triple-whammy", true));
  EXPECT_FALSE(GlobMatches("ex*ple", "examples", true));
  EXPECT_FALSE(GlobMatches("alice", "malice in wonderland", true));
  EXPECT_FALSE(GlobMatches("alice", "hi alice_", true));  // '_' is a word character
  EXPECT_TRUE(GlobMatches("alice", "hi, Alice!", true));
}

TEST(GlobMatches, LiteralTreatsWildcardsAsCharacters) {
  EXPECT_TRUE(GlobMatches("a*b", "say a*b now", true, /*literal=*/true));
  EXPECT_FALSE(GlobMatches("a*b", "say axxb now", true, /*literal=*/true));
}

TEST(GlobMatches, LongBodyStaysLinear) {
  // A pathological body for a substring-trying matcher: it must answer, and correctly.
  const std::string body(60000, 'a');
  EXPECT_FALSE(GlobMatches("a*b", body, true));
  EXPECT_FALSE(GlobMatches("a*b", body, false));
}

TEST(ConditionMatches, EventMatchNeedsAStringProperty) {
  object event = Json(R"({"type":"m.room.topic","state_key":"","content":{"topic":null}})");
  EXPECT_FALSE(Holds(R"({"kind":"event_match","key":"content.topic","pattern":"*"})", event));
  EXPECT_FALSE(Holds(R"({"kind":"event_match","key":"content.absent","pattern":"*"})", event));
  EXPECT_TRUE(Holds(R"({"kind":"event_match","key":"state_key","pattern":""})", event));
  EXPECT_FALSE(Holds(R"({"kind":"event_match","key":"type"})", event));  // malformed
}

TEST(ConditionMatches, EventPropertyIsComparesExactly) {
  // The spec's example: content.m\.federate is true.
  object event = Json(R"({"type":"m.room.create","content":{"m.federate":true,"n":1}})");
  EXPECT_TRUE(
      Holds(R"({"kind":"event_property_is","key":"content.m\\.federate","value":true})", event));
  EXPECT_FALSE(
      Holds(R"({"kind":"event_property_is","key":"content.m\\.federate","value":"true"})", event));
  EXPECT_FALSE(
      Holds(R"({"kind":"event_property_is","key":"content.m\\.federate","value":1})", event));
  EXPECT_TRUE(Holds(R"({"kind":"event_property_is","key":"content.n","value":1})", event));
  EXPECT_FALSE(Holds(R"({"kind":"event_property_is","key":"content.n","value":true})", event));
  EXPECT_FALSE(
      Holds(R"({"kind":"event_property_is","key":"content.federate","value":true})", event));
}

TEST(ConditionMatches, EventPropertyContainsMatchesWholeElements) {
  object event = Json(R"({"content":{"alt_aliases":["#somewhere:example.org",
                          "#myroom:example.com"],"s":"#myroom:example.com"}})");
  EXPECT_TRUE(Holds(R"({"kind":"event_property_contains","key":"content.alt_aliases",
                        "value":"#myroom:example.com"})",
                    event));
  EXPECT_FALSE(Holds(R"({"kind":"event_property_contains","key":"content.alt_aliases",
                         "value":":example.com"})",
                     event));
  // Not an array.
  EXPECT_FALSE(Holds(R"({"kind":"event_property_contains","key":"content.s",
                         "value":"#myroom:example.com"})",
                     event));
}

TEST(ConditionMatches, ContainsDisplayNameUsesWordBoundaries) {
  PushContext context{.user_id = kUser, .display_name = "Alice Smith"};
  constexpr char kCondition[] = R"({"kind":"contains_display_name"})";
  EXPECT_TRUE(Holds(kCondition, Message("hey alice smith, lunch?"), context));
  EXPECT_FALSE(Holds(kCondition, Message("hey alice smithers"), context));
  EXPECT_FALSE(Holds(kCondition, Message("hey alice"), context));
  EXPECT_FALSE(Holds(kCondition, Message("hey alice smith"), PushContext{.user_id = kUser}));
}

TEST(ConditionMatches, RoomMemberCountOperators) {
  const object event = Message("x");
  PushContext context{.member_count = 2};
  EXPECT_TRUE(Holds(R"({"kind":"room_member_count","is":"2"})", event, context));
  EXPECT_TRUE(Holds(R"({"kind":"room_member_count","is":"==2"})", event, context));
  EXPECT_FALSE(Holds(R"({"kind":"room_member_count","is":"<2"})", event, context));
  EXPECT_TRUE(Holds(R"({"kind":"room_member_count","is":"<=2"})", event, context));
  EXPECT_TRUE(Holds(R"({"kind":"room_member_count","is":">1"})", event, context));
  EXPECT_FALSE(Holds(R"({"kind":"room_member_count","is":">=3"})", event, context));
  EXPECT_FALSE(Holds(R"({"kind":"room_member_count","is":"two"})", event, context));
  EXPECT_FALSE(Holds(R"({"kind":"room_member_count","is":"=2"})", event, context));
  EXPECT_FALSE(Holds(R"({"kind":"room_member_count"})", event, context));
}

TEST(ConditionMatches, SenderNotificationPermissionReadsPowerLevels) {
  PowerLevels levels;
  levels.users["@mod:example.org"] = 50;
  PushContext context{.power_levels = &levels};
  constexpr char kCondition[] = R"({"kind":"sender_notification_permission","key":"room"})";
  EXPECT_TRUE(Holds(kCondition, Message("@room", "@mod:example.org"), context));
  EXPECT_FALSE(Holds(kCondition, Message("@room", "@bob:example.org"), context));
  levels.notifications["room"] = 0;
  EXPECT_TRUE(Holds(kCondition, Message("@room", "@bob:example.org"), context));
  EXPECT_FALSE(Holds(kCondition, Message("@room", "@bob:example.org"), PushContext{}));
}

TEST(ConditionMatches, UnknownKindsNeverMatch) {
  EXPECT_FALSE(Holds(R"({"kind":"org.example.always"})", Message("x")));
  EXPECT_FALSE(Holds(R"({})", Message("x")));
}

TEST(DecideActions, TweaksAndHistoricalActions) {
  PushDecision d =
      DecideActions(boost::json::parse(R"(["notify",{"set_tweak":"sound","value":"default"},
                             {"set_tweak":"highlight"},"coalesce"])")
                        .as_array());
  EXPECT_TRUE(d.notify);
  EXPECT_TRUE(d.highlight);
  EXPECT_EQ(d.actions.size(), 3u);
  d = DecideActions(boost::json::parse(R"(["dont_notify"])").as_array());
  EXPECT_FALSE(d.notify);
  EXPECT_TRUE(d.actions.empty());
  d = DecideActions(
      boost::json::parse(R"(["notify",{"set_tweak":"highlight","value":false}])").as_array());
  EXPECT_TRUE(d.notify);
  EXPECT_FALSE(d.highlight);
}

class DefaultRulesTest : public ::testing::Test {
 protected:
  std::optional<PushDecision> Evaluate(const object& event) {
    return EvaluatePushRules(rules_, event, context_);
  }
  object rules_ = DefaultPushRules(kUser, "alice");
  PowerLevels levels_;
  PushContext context_{.user_id = kUser,
                       .display_name = "Alice Liddell",
                       .member_count = 3,
                       .power_levels = &levels_};
};

TEST_F(DefaultRulesTest, PlainMessageNotifiesWithoutHighlight) {
  auto decision = Evaluate(Message("hello there"));
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->rule_id, ".m.rule.message");
  EXPECT_TRUE(decision->notify);
  EXPECT_FALSE(decision->highlight);
}

TEST_F(DefaultRulesTest, OneToOneRoomPlaysASound) {
  context_.member_count = 2;
  auto decision = Evaluate(Message("hello there"));
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->rule_id, ".m.rule.room_one_to_one");
}

TEST_F(DefaultRulesTest, DisplayNameHighlights) {
  auto decision = Evaluate(Message("Alice Liddell: are you there?"));
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->rule_id, ".m.rule.contains_display_name");
  EXPECT_TRUE(decision->highlight);
}

TEST_F(DefaultRulesTest, UserNameIsAContentRule) {
  auto decision = Evaluate(Message("ping alice"));
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->kind, "content");
  EXPECT_TRUE(decision->highlight);
}

TEST_F(DefaultRulesTest, IntentionalMentionHighlights) {
  object event = Message("hi");
  event["content"].as_object()["m.mentions"] = Json(R"({"user_ids":["@alice:example.org"]})");
  auto decision = Evaluate(event);
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->rule_id, ".m.rule.is_user_mention");
}

TEST_F(DefaultRulesTest, RoomMentionNeedsPower) {
  EXPECT_EQ(Evaluate(Message("@room lunch"))->rule_id, ".m.rule.message");
  levels_.users["@bob:example.org"] = 50;
  auto decision = Evaluate(Message("@room lunch"));
  EXPECT_EQ(decision->rule_id, ".m.rule.roomnotif");
  EXPECT_TRUE(decision->highlight);
}

TEST_F(DefaultRulesTest, NoticesAndEditsAreSuppressed) {
  object notice = Message("alice");
  notice["content"].as_object()["msgtype"] = "m.notice";
  auto decision = Evaluate(notice);
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->rule_id, ".m.rule.suppress_notices");
  EXPECT_FALSE(decision->notify);
  object edit = Message("* hello");
  edit["content"].as_object()["m.relates_to"] = Json(R"({"rel_type":"m.replace","event_id":"$x"})");
  EXPECT_FALSE(Evaluate(edit)->notify);
}

TEST_F(DefaultRulesTest, InviteForMeNotifies) {
  object invite = Json(R"({"type":"m.room.member","sender":"@bob:example.org",
                           "state_key":"@alice:example.org","content":{"membership":"invite"}})");
  EXPECT_EQ(Evaluate(invite)->rule_id, ".m.rule.invite_for_me");
  invite["state_key"] = "@carol:example.org";
  auto decision = Evaluate(invite);
  EXPECT_EQ(decision->rule_id, ".m.rule.member_event");
  EXPECT_FALSE(decision->notify);
}

TEST_F(DefaultRulesTest, MasterRuleSilencesEverything) {
  rules_["global"].as_object()["override"].as_array()[0].as_object()["enabled"] = true;
  auto decision = Evaluate(Message("Alice Liddell"));
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->rule_id, ".m.rule.master");
  EXPECT_FALSE(decision->notify);
}

TEST_F(DefaultRulesTest, RoomAndSenderRulesUseTheirRuleId) {
  auto& global = rules_["global"].as_object();
  global["sender"].as_array().push_back(
      Json(R"({"rule_id":"@bob:example.org","enabled":true,"actions":[]})"));
  EXPECT_EQ(Evaluate(Message("hi"))->rule_id, "@bob:example.org");
  global["room"].as_array().push_back(
      Json(R"({"rule_id":"!r:example.org","enabled":true,"actions":["notify"]})"));
  EXPECT_EQ(Evaluate(Message("hi"))->rule_id, "!r:example.org");  // room before sender
  EXPECT_EQ(Evaluate(Message("hi", "@carol:example.org"))->kind, "room");
}

TEST_F(DefaultRulesTest, UnmatchedStateEventGivesNothing) {
  EXPECT_FALSE(Evaluate(Json(R"({"type":"m.room.topic","state_key":"","sender":"@bob:x",
                                 "content":{"topic":"t"}})")));
}

}  // namespace
}  // namespace conclave::service
