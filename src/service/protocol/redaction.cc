#include "conclave/service/protocol/redaction.h"

#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <initializer_list>
#include <string_view>

namespace conclave::service {
namespace {

bool IsOneOf(std::string_view key, std::initializer_list<std::string_view> keys) {
  for (std::string_view k : keys) {
    if (k == key) return true;
  }
  return false;
}

bool KeepTopLevel(std::string_view key, const RoomVersion& version) {
  if (IsOneOf(key, {"event_id", "type", "room_id", "sender", "state_key", "content", "hashes",
                    "signatures", "depth", "prev_events", "auth_events", "origin_server_ts"})) {
    return true;
  }
  // Version 11 stopped protecting these.
  return !version.redaction_v11 && IsOneOf(key, {"origin", "prev_state", "membership"});
}

bool KeepContentKey(std::string_view type, std::string_view key, const RoomVersion& version) {
  if (type == "m.room.member") {
    return key == "membership" ||
           (version.redaction_keeps_authorised && key == "join_authorised_via_users_server");
  }
  if (type == "m.room.create") return version.redaction_v11 || key == "creator";
  if (type == "m.room.join_rules") {
    return key == "join_rule" || (version.redaction_keeps_allow && key == "allow");
  }
  if (type == "m.room.power_levels") {
    return IsOneOf(key, {"ban", "events", "events_default", "kick", "redact", "state_default",
                         "users", "users_default"}) ||
           (version.redaction_v11 && key == "invite");
  }
  if (type == "m.room.history_visibility") return key == "history_visibility";
  if (type == "m.room.aliases") return version.redaction_keeps_aliases && key == "aliases";
  if (type == "m.room.redaction") return version.redaction_v11 && key == "redacts";
  return false;
}

boost::json::object RedactContent(const boost::json::object& event, const RoomVersion& version) {
  boost::json::object redacted;
  const boost::json::value* content = event.if_contains("content");
  const boost::json::value* type = event.if_contains("type");
  if (content == nullptr || !content->is_object() || type == nullptr || !type->is_string()) {
    return redacted;
  }
  std::string_view type_name = type->get_string();
  for (const boost::json::key_value_pair& member : content->get_object()) {
    if (KeepContentKey(type_name, member.key(), version)) {
      redacted.emplace(member.key(), member.value());
    }
  }
  // Version 11 also keeps content.third_party_invite.signed of a membership event, and only
  // that part of third_party_invite.
  if (version.redaction_v11 && type_name == "m.room.member") {
    const boost::json::value* invite = content->get_object().if_contains("third_party_invite");
    const boost::json::value* signed_part = invite != nullptr && invite->is_object()
                                                ? invite->get_object().if_contains("signed")
                                                : nullptr;
    if (signed_part != nullptr) {
      redacted["third_party_invite"] = boost::json::object{{"signed", *signed_part}};
    }
  }
  return redacted;
}

}  // namespace

boost::json::object RedactEvent(const boost::json::object& event, std::string_view room_version) {
  return RedactEvent(event, RoomVersionOrDefault(room_version));
}

boost::json::object RedactEvent(const boost::json::object& event, const RoomVersion& version) {
  boost::json::object redacted;
  for (const boost::json::key_value_pair& member : event) {
    if (member.key() != "content" && KeepTopLevel(member.key(), version)) {
      redacted.emplace(member.key(), member.value());
    }
  }
  redacted["content"] = RedactContent(event, version);
  return redacted;
}

}  // namespace conclave::service
