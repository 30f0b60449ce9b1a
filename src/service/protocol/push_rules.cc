#include "conclave/service/protocol/push_rules.h"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <utility>

namespace conclave::service {
namespace {

using boost::json::array;
using boost::json::object;

// Each rule below is the spec's "Definition" block for it, in the spec's order.

object EventMatch(std::string_view key, std::string_view pattern) {
  object condition;
  condition["kind"] = "event_match";
  condition["key"] = key;
  condition["pattern"] = pattern;
  return condition;
}

object EventPropertyIs(std::string_view key, boost::json::value value) {
  object condition;
  condition["kind"] = "event_property_is";
  condition["key"] = key;
  condition["value"] = std::move(value);
  return condition;
}

object SenderNotificationPermission(std::string_view key) {
  object condition;
  condition["kind"] = "sender_notification_permission";
  condition["key"] = key;
  return condition;
}

object RoomMemberCount(std::string_view is) {
  object condition;
  condition["kind"] = "room_member_count";
  condition["is"] = is;
  return condition;
}

object Sound(std::string_view sound) {
  object tweak;
  tweak["set_tweak"] = "sound";
  tweak["value"] = sound;
  return tweak;
}

// A highlight tweak without a value means true.
object Highlight() {
  object tweak;
  tweak["set_tweak"] = "highlight";
  return tweak;
}

object Rule(std::string_view rule_id, bool enabled, array conditions, array actions) {
  object rule;
  rule["rule_id"] = rule_id;
  rule["default"] = true;
  rule["enabled"] = enabled;
  rule["conditions"] = std::move(conditions);
  rule["actions"] = std::move(actions);
  return rule;
}

array NotifySoundHighlight() { return array{"notify", Sound("default"), Highlight()}; }

array OverrideRules(std::string_view user_id) {
  object contains_display_name;
  contains_display_name["kind"] = "contains_display_name";
  object is_user_mention;
  is_user_mention["kind"] = "event_property_contains";
  // Dots inside a key segment are escaped: "m.mentions" is one property.
  is_user_mention["key"] = "content.m\\.mentions.user_ids";
  is_user_mention["value"] = user_id;

  array rules;
  rules.emplace_back(Rule(".m.rule.master", false, {}, {}));
  rules.emplace_back(
      Rule(".m.rule.suppress_notices", true, {EventMatch("content.msgtype", "m.notice")}, {}));
  rules.emplace_back(
      Rule(".m.rule.invite_for_me", true,
           {EventMatch("type", "m.room.member"), EventMatch("content.membership", "invite"),
            EventMatch("state_key", user_id)},
           {"notify", Sound("default")}));
  rules.emplace_back(Rule(".m.rule.member_event", true, {EventMatch("type", "m.room.member")}, {}));
  rules.emplace_back(
      Rule(".m.rule.is_user_mention", true, {std::move(is_user_mention)}, NotifySoundHighlight()));
  rules.emplace_back(Rule(".m.rule.contains_display_name", true, {std::move(contains_display_name)},
                          NotifySoundHighlight()));
  rules.emplace_back(Rule(
      ".m.rule.is_room_mention", true,
      {EventPropertyIs("content.m\\.mentions.room", true), SenderNotificationPermission("room")},
      {"notify", Highlight()}));
  rules.emplace_back(
      Rule(".m.rule.roomnotif", true,
           {EventMatch("content.body", "@room"), SenderNotificationPermission("room")},
           {"notify", Highlight()}));
  rules.emplace_back(Rule(".m.rule.tombstone", true,
                          {EventMatch("type", "m.room.tombstone"), EventMatch("state_key", "")},
                          {"notify", Highlight()}));
  rules.emplace_back(Rule(".m.rule.reaction", true, {EventMatch("type", "m.reaction")}, {}));
  rules.emplace_back(Rule(".m.rule.room.server_acl", true,
                          {EventMatch("type", "m.room.server_acl"), EventMatch("state_key", "")},
                          {}));
  rules.emplace_back(Rule(".m.rule.suppress_edits", true,
                          {EventPropertyIs("content.m\\.relates_to.rel_type", "m.replace")}, {}));
  return rules;
}

array ContentRules(std::string_view localpart) {
  // Content rules carry a pattern instead of conditions.
  object rule;
  rule["rule_id"] = ".m.rule.contains_user_name";
  rule["default"] = true;
  rule["enabled"] = true;
  rule["pattern"] = localpart;
  rule["actions"] = NotifySoundHighlight();
  array rules;
  rules.emplace_back(std::move(rule));
  return rules;
}

array UnderrideRules() {
  array rules;
  rules.emplace_back(
      Rule(".m.rule.call", true, {EventMatch("type", "m.call.invite")}, {"notify", Sound("ring")}));
  rules.emplace_back(Rule(".m.rule.encrypted_room_one_to_one", true,
                          {RoomMemberCount("2"), EventMatch("type", "m.room.encrypted")},
                          {"notify", Sound("default")}));
  rules.emplace_back(Rule(".m.rule.room_one_to_one", true,
                          {RoomMemberCount("2"), EventMatch("type", "m.room.message")},
                          {"notify", Sound("default")}));
  rules.emplace_back(
      Rule(".m.rule.message", true, {EventMatch("type", "m.room.message")}, {"notify"}));
  rules.emplace_back(
      Rule(".m.rule.encrypted", true, {EventMatch("type", "m.room.encrypted")}, {"notify"}));
  return rules;
}

}  // namespace

boost::json::object DefaultPushRules(std::string_view user_id, std::string_view display_localpart) {
  object global;
  global["override"] = OverrideRules(user_id);
  global["content"] = ContentRules(display_localpart);
  global["room"] = array();
  global["sender"] = array();
  global["underride"] = UnderrideRules();
  object rules;
  rules["global"] = std::move(global);
  return rules;
}

}  // namespace conclave::service
