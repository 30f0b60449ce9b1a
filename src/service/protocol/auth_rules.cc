#include "conclave/service/protocol/auth_rules.h"

#include <algorithm>
#include <array>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/protocol/power_levels.h"

namespace conclave::service {
namespace {

// The rule numbers in messages are those of "Room version 10" → "Authorization rules"; rules
// only some versions have are marked with the version whose numbering they use ("(v1)",
// "(v12)").

// "" when `object` is null or `key` is absent or not a string: the rules treat all as "not
// given".
std::string_view StringField(const boost::json::object* object, std::string_view key) {
  const boost::json::value* value = object == nullptr ? nullptr : object->if_contains(key);
  if (value == nullptr || !value->is_string()) return {};
  return value->get_string();
}
std::string_view StringField(const boost::json::object& object, std::string_view key) {
  return StringField(&object, key);
}

bool HasString(const boost::json::object* object, std::string_view key) {
  const boost::json::value* value = object == nullptr ? nullptr : object->if_contains(key);
  return value != nullptr && value->is_string();
}
bool HasString(const boost::json::object& object, std::string_view key) {
  return HasString(&object, key);
}

// The object under `key`, or null when `object` is null or the value is absent or no object.
const boost::json::object* ObjectField(const boost::json::object* object, std::string_view key) {
  const boost::json::value* value = object == nullptr ? nullptr : object->if_contains(key);
  return value == nullptr ? nullptr : value->if_object();
}
const boost::json::object* ObjectField(const boost::json::object& object, std::string_view key) {
  return ObjectField(&object, key);
}

std::string_view ServerOf(std::string_view id) {
  size_t colon = id.find(':');
  return colon == std::string_view::npos ? std::string_view() : id.substr(colon + 1);
}

std::string_view Shown(std::string_view membership) {
  return membership.empty() ? std::string_view("none") : membership;
}

template <typename... Args>
absl::Status Refuse(const Args&... args) {
  return Forbidden(core::StrCat(args...));
}

// What every rule after the create rule reads from the room.
struct Room {
  const StateMap* state;
  const RoomVersion* version;
  std::string_view creator;           // the create's `creator` (v1-v10) or sender (v11+)
  std::vector<std::string> creators;  // `creator` plus v12's additional_creators
  PowerLevels levels;
};

std::vector<std::string> CreatorsOf(const boost::json::object& create, const RoomVersion& version,
                                    std::string_view creator) {
  std::vector<std::string> creators;
  if (!creator.empty()) creators.emplace_back(creator);
  const boost::json::object* content = ObjectField(create, "content");
  const boost::json::value* more = content == nullptr || !version.additional_creators
                                       ? nullptr
                                       : content->if_contains("additional_creators");
  if (more != nullptr && more->is_array()) {
    for (const boost::json::value& user : more->get_array()) {
      if (user.is_string()) creators.emplace_back(user.get_string());
    }
  }
  return creators;
}

absl::StatusOr<Room> LoadRoom(const boost::json::object& event, const StateMap& state) {
  const boost::json::object* create = FindState(state, "m.room.create", "");
  if (create == nullptr) return Refuse("rule 2.4: the room has no m.room.create event");
  const RoomVersion* version = VersionOf(*create);
  if (version == nullptr) return Refuse("the room's m.room.create names an unknown room version");
  std::string_view room_id = StringField(event, "room_id");
  std::string_view create_room_id = StringField(*create, "room_id");
  std::string_view create_id = StringField(*create, "event_id");
  if (version->room_id_from_create_event && !create_id.empty()) {
    // v12 rule 2: the room id is the create event's id with "!" for "$".
    if (room_id.empty() || room_id.substr(1) != create_id.substr(1)) {
      return Refuse("rule 2: the event's room_id ", room_id, " is not the create event's id ",
                    create_id);
    }
  } else if (!room_id.empty() && !create_room_id.empty() && room_id != create_room_id) {
    return Refuse("the event's room_id ", room_id, " is not the room ", create_room_id);
  }
  const boost::json::object* create_content = ObjectField(*create, "content");
  // Rule 3 can only bite when another server's user appears; kept for the day one does.
  const boost::json::value* federate =
      create_content == nullptr ? nullptr : create_content->if_contains("m.federate");
  if (federate != nullptr && federate->is_bool() && !federate->get_bool() &&
      ServerOf(StringField(event, "sender")) != ServerOf(StringField(*create, "sender"))) {
    return Refuse("rule 3: the room does not federate and the sender is on another server");
  }
  std::string_view creator = version->creator_in_content ? StringField(create_content, "creator")
                                                         : StringField(*create, "sender");
  std::vector<std::string> creators = CreatorsOf(*create, *version, creator);
  absl::StatusOr<PowerLevels> levels =
      ParsePowerLevels(FindStateContent(state, "m.room.power_levels", ""), *version, creators);
  if (!levels.ok()) {
    return Refuse("the room's current m.room.power_levels is invalid: ", levels.status().message());
  }
  return Room{&state, version, creator, std::move(creators), *std::move(levels)};
}

// Rule 1.
absl::Status CheckCreate(const boost::json::object& event, const StateMap& state) {
  if (!state.empty()) {
    return Refuse("rule 1: m.room.create must be the first event; the room already has state");
  }
  if (StringField(event, "state_key") != "" || !HasString(event, "state_key")) {
    return Refuse("rule 1: m.room.create must have an empty state_key");
  }
  const boost::json::value* prev_events = event.if_contains("prev_events");
  if (prev_events != nullptr && !(prev_events->is_array() && prev_events->get_array().empty())) {
    return Refuse("rule 1.1: m.room.create must not have prev_events");
  }
  const boost::json::value* content_value = event.if_contains("content");
  if (content_value == nullptr || !content_value->is_object()) {
    return Refuse("m.room.create: content must be an object");
  }
  const boost::json::object& content = content_value->get_object();
  const boost::json::value* room_version = content.if_contains("room_version");
  if (room_version != nullptr && !room_version->is_string()) {
    return Refuse("rule 1.3: content.room_version must be a string");
  }
  const RoomVersion* version = VersionOf(event);
  if (version == nullptr) {
    return Refuse("rule 1.3: room version '", room_version->get_string(), "' is not known");
  }
  std::string_view sender_server = ServerOf(StringField(event, "sender"));
  if (version->room_id_from_create_event) {
    if (event.contains("room_id")) {
      return Refuse("rule 1.2: in room version ", version->id,
                    " m.room.create has no room_id (its id is the room id)");
    }
    if (sender_server.empty()) return Refuse("rule 1: the sender is not a user id");
  } else if (sender_server.empty() || ServerOf(StringField(event, "room_id")) != sender_server) {
    return Refuse("rule 1.2: the room_id's server is not the sender's server");
  }
  if (version->creator_in_content && !HasString(content, "creator")) {
    return Refuse("rule 1.4: m.room.create content has no creator");
  }
  if (version->additional_creators) {
    if (const boost::json::value* more = content.if_contains("additional_creators")) {
      bool valid = more->is_array();
      for (size_t i = 0; valid && i < more->get_array().size(); ++i) {
        const boost::json::value& user = more->get_array()[i];
        valid = user.is_string() && ParseUserId(user.get_string()).ok();
      }
      if (!valid) return Refuse("rule 1.4: additional_creators must be an array of user ids");
    }
  }
  return absl::OkStatus();
}

// The join rule in force; without an m.room.join_rules event the room admits no one uninvited.
std::string_view JoinRule(const StateMap& state) {
  const boost::json::object* content = FindStateContent(state, "m.room.join_rules", "");
  if (content == nullptr || !HasString(*content, "join_rule")) return "invite";
  return StringField(*content, "join_rule");
}

// Rule 4.3.
absl::Status CheckJoin(const boost::json::object& content, std::string_view sender,
                       std::string_view target, const Room& room) {
  if (room.state->size() == 1 && !room.creator.empty() && target == room.creator) {
    return absl::OkStatus();  // 4.3.1: the creator's own first join.
  }
  if (sender != target) {
    return Refuse("rule 4.3.2: ", sender, " cannot join on behalf of ", target);
  }
  std::string_view current = MembershipOf(*room.state, target);
  if (current == "ban") return Refuse("rule 4.3.3: ", target, " is banned from the room");
  std::string_view join_rule = JoinRule(*room.state);
  bool invited_or_joined = current == "invite" || current == "join";
  const RoomVersion& version = *room.version;
  if ((join_rule == "invite" || (version.knock && join_rule == "knock")) && invited_or_joined) {
    return absl::OkStatus();  // 4.3.4
  }
  if ((version.restricted_join && join_rule == "restricted") ||
      (version.knock_restricted && join_rule == "knock_restricted")) {
    if (invited_or_joined) return absl::OkStatus();  // 4.3.5.1
    std::string_view authoriser = StringField(content, "join_authorised_via_users_server");
    if (authoriser.empty()) {
      return Refuse("rule 4.3.5.2: the join rule is '", join_rule, "' and ", target,
                    " is not invited; the join needs join_authorised_via_users_server");
    }
    if (MembershipOf(*room.state, authoriser) != "join") {
      return Refuse("rule 4.3.5.2: the authorising user ", authoriser, " is not joined");
    }
    int64_t level = room.levels.UserLevel(authoriser);
    if (level < room.levels.invite) {
      return Refuse("rule 4.3.5.2: the authorising user ", authoriser, " has level ", level,
                    ", below the invite level ", room.levels.invite);
    }
    return absl::OkStatus();  // 4.3.5.3
  }
  if (join_rule == "public") return absl::OkStatus();  // 4.3.6
  return Refuse("rule 4.3.7: the join rule is '", join_rule, "' and ", target, " (membership ",
                Shown(current), ") may not join");
}

// Rule 4.4.
absl::Status CheckInvite(const boost::json::object& content, std::string_view sender,
                         std::string_view target, const Room& room) {
  if (content.contains("third_party_invite")) {
    return Refuse("rule 4.4.1: third-party invites are not supported by this server");
  }
  std::string_view sender_membership = MembershipOf(*room.state, sender);
  if (sender_membership != "join") {
    return Refuse("rule 4.4.2: the inviter ", sender, " is not joined (membership ",
                  Shown(sender_membership), ")");
  }
  std::string_view current = MembershipOf(*room.state, target);
  if (current == "join") return Refuse("rule 4.4.3: ", target, " is already joined");
  if (current == "ban") return Refuse("rule 4.4.3: ", target, " is banned from the room");
  int64_t level = room.levels.UserLevel(sender);
  if (level < room.levels.invite) {
    return Refuse("rule 4.4.5: ", sender, " has level ", level, ", below the invite level ",
                  room.levels.invite);
  }
  return absl::OkStatus();
}

// Rule 4.5: leaving, rejecting an invite, retracting a knock, kicking and unbanning.
absl::Status CheckLeave(std::string_view sender, std::string_view target, const Room& room) {
  std::string_view current = MembershipOf(*room.state, target);
  if (sender == target) {
    if (current == "invite" || current == "join" || (room.version->knock && current == "knock")) {
      return absl::OkStatus();
    }
    return Refuse("rule 4.5.1: ", target, " cannot leave with membership ", Shown(current));
  }
  std::string_view sender_membership = MembershipOf(*room.state, sender);
  if (sender_membership != "join") {
    return Refuse("rule 4.5.2: ", sender, " is not joined (membership ", Shown(sender_membership),
                  ") and cannot change ", target, "'s membership");
  }
  int64_t sender_level = room.levels.UserLevel(sender);
  if (current == "ban" && sender_level < room.levels.ban) {
    return Refuse("rule 4.5.3: unbanning needs the ban level ", room.levels.ban, "; ", sender,
                  " has ", sender_level);
  }
  int64_t target_level = room.levels.UserLevel(target);
  if (sender_level < room.levels.kick) {
    return Refuse("rule 4.5.4: kicking needs the kick level ", room.levels.kick, "; ", sender,
                  " has ", sender_level);
  }
  if (target_level >= sender_level) {
    return Refuse("rule 4.5.4: ", target, " has level ", target_level, ", not below ", sender,
                  "'s ", sender_level);
  }
  return absl::OkStatus();
}

// Rule 4.6.
absl::Status CheckBan(std::string_view sender, std::string_view target, const Room& room) {
  std::string_view sender_membership = MembershipOf(*room.state, sender);
  if (sender_membership != "join") {
    return Refuse("rule 4.6.1: ", sender, " is not joined (membership ", Shown(sender_membership),
                  ") and cannot ban");
  }
  int64_t sender_level = room.levels.UserLevel(sender);
  if (sender_level < room.levels.ban) {
    return Refuse("rule 4.6.2: banning needs the ban level ", room.levels.ban, "; ", sender,
                  " has ", sender_level);
  }
  int64_t target_level = room.levels.UserLevel(target);
  if (target_level >= sender_level) {
    return Refuse("rule 4.6.2: ", target, " has level ", target_level, ", not below ", sender,
                  "'s ", sender_level);
  }
  return absl::OkStatus();
}

// Rule 4.7.
absl::Status CheckKnock(std::string_view sender, std::string_view target, const Room& room) {
  std::string_view join_rule = JoinRule(*room.state);
  if (join_rule != "knock" &&
      !(room.version->knock_restricted && join_rule == "knock_restricted")) {
    return Refuse("rule 4.7.1: the join rule is '", join_rule, "', which does not allow knocking");
  }
  if (sender != target) return Refuse("rule 4.7.2: ", sender, " cannot knock for ", target);
  std::string_view current = MembershipOf(*room.state, target);
  if (current == "ban" || current == "invite" || current == "join") {
    return Refuse("rule 4.7.4: ", target, " cannot knock with membership ", current);
  }
  return absl::OkStatus();
}

// Rule 4.
absl::Status CheckMember(const boost::json::object& event, std::string_view sender,
                         const Room& room) {
  const boost::json::object* content_or_null = ObjectField(event, "content");
  if (!HasString(event, "state_key") || !HasString(content_or_null, "membership")) {
    return Refuse("rule 4.1: m.room.member needs a state_key and content.membership");
  }
  const boost::json::object& content = *content_or_null;
  std::string_view target = StringField(event, "state_key");
  std::string_view membership = StringField(content, "membership");
  const boost::json::value* via = content.if_contains("join_authorised_via_users_server");
  if (room.version->restricted_join && via != nullptr) {
    // 4.2 asks for that user's server's signature: CheckPduSignatures (pdu_checks.h) checks it
    // on received events (RequiredSigningServers names that server); events made here are
    // signed by this server, whose users are the only ones it picks as authorisers.
    if (!via->is_string() || ServerOf(via->get_string()).empty()) {
      return Refuse("rule 4.2: join_authorised_via_users_server must be a user id");
    }
  }
  if (membership == "join") return CheckJoin(content, sender, target, room);
  if (membership == "invite") return CheckInvite(content, sender, target, room);
  if (membership == "leave") return CheckLeave(sender, target, room);
  if (membership == "ban") return CheckBan(sender, target, room);
  if (room.version->knock && membership == "knock") return CheckKnock(sender, target, room);
  return Refuse("rule 4.8: unknown membership '", membership, "'");
}

// A top-level level as written in `content` (already validated), absent → nullopt: rule 9.5
// compares what the contents say, not the defaults behind them.
std::optional<int64_t> WrittenLevel(const boost::json::object& content, std::string_view name) {
  const boost::json::value* value = content.if_contains(name);
  if (value == nullptr || !value->is_int64()) return std::nullopt;
  return value->get_int64();
}

using LevelMap = std::map<std::string, int64_t, std::less<>>;

// Rules 9.6 and 9.7 for `events` or `notifications`.
absl::Status CheckMapChange(std::string_view name, const LevelMap& before, const LevelMap& after,
                            int64_t sender_level) {
  for (const auto& [key, old_level] : before) {
    auto it = after.find(key);
    bool changed = it == after.end() || it->second != old_level;
    if (changed && old_level > sender_level) {
      return Refuse("rule 9.6: cannot change ", name, ".", key, ": its level ", old_level,
                    " is above yours (", sender_level, ")");
    }
  }
  for (const auto& [key, new_level] : after) {
    auto it = before.find(key);
    bool changed = it == before.end() || it->second != new_level;
    if (changed && new_level > sender_level) {
      return Refuse("rule 9.7: cannot set ", name, ".", key, " to ", new_level,
                    ", above your level (", sender_level, ")");
    }
  }
  return absl::OkStatus();
}

// Rule 9.
absl::Status CheckPowerLevels(const boost::json::object& event, std::string_view sender,
                              const Room& room) {
  const boost::json::value* content_value = event.if_contains("content");
  if (content_value == nullptr || !content_value->is_object()) {
    return Refuse("rule 9: m.room.power_levels content must be an object");
  }
  const boost::json::object& content = content_value->get_object();
  absl::StatusOr<PowerLevels> after = ParsePowerLevels(&content, *room.version, room.creators);
  if (!after.ok()) return Refuse("rules 9.1-9.3: ", after.status().message());
  if (room.version->creators_have_infinite_power) {
    for (const std::string& creator : room.creators) {
      if (after->users.contains(creator)) {
        return Refuse("rule 10.4 (v12): the creator ", creator, " cannot be given a level");
      }
    }
  }
  const boost::json::object* before_content =
      FindStateContent(*room.state, "m.room.power_levels", "");
  if (before_content == nullptr) return absl::OkStatus();  // 9.4
  const PowerLevels& before = room.levels;
  int64_t sender_level = before.UserLevel(sender);

  static constexpr std::array<std::string_view, 7> kScalars = {
      "users_default", "events_default", "state_default", "ban", "redact", "kick", "invite"};
  for (std::string_view name : kScalars) {
    std::optional<int64_t> old_level = WrittenLevel(*before_content, name);
    std::optional<int64_t> new_level = WrittenLevel(content, name);
    if (old_level == new_level) continue;
    if (old_level.has_value() && *old_level > sender_level) {
      return Refuse("rule 9.5.1: cannot change ", name, ": its level ", *old_level,
                    " is above yours (", sender_level, ")");
    }
    if (new_level.has_value() && *new_level > sender_level) {
      return Refuse("rule 9.5.2: cannot set ", name, " to ", *new_level, ", above your level (",
                    sender_level, ")");
    }
  }
  absl::Status status = CheckMapChange("events", before.events, after->events, sender_level);
  if (status.ok() && room.version->notifications_power_levels) {
    status =
        CheckMapChange("notifications", before.notifications, after->notifications, sender_level);
  }
  if (!status.ok()) return status;

  for (const auto& [user, old_level] : before.users) {
    if (user == sender) continue;
    auto it = after->users.find(user);
    bool changed = it == after->users.end() || it->second != old_level;
    if (changed && old_level >= sender_level) {
      return Refuse("rule 9.8: cannot change the level of ", user, " (", old_level,
                    "), which is not below yours (", sender_level, ")");
    }
  }
  for (const auto& [user, new_level] : after->users) {
    auto it = before.users.find(user);
    bool changed = it == before.users.end() || it->second != new_level;
    if (changed && new_level > sender_level) {
      return Refuse("rule 9.9: cannot give ", user, " level ", new_level, ", above yours (",
                    sender_level, ")");
    }
  }
  return absl::OkStatus();  // 9.10
}

}  // namespace

const RoomVersion* VersionOf(const boost::json::object& create) {
  const boost::json::object* content = ObjectField(create, "content");
  const boost::json::value* id =
      content == nullptr ? nullptr : content->if_contains("room_version");
  if (id == nullptr) return FindRoomVersion("1");
  return id->is_string() ? FindRoomVersion(id->get_string()) : nullptr;
}

std::vector<std::string> RoomCreators(const boost::json::object& create) {
  const RoomVersion& version = VersionOf(create) ? *VersionOf(create) : *FindRoomVersion("1");
  std::string_view creator = version.creator_in_content
                                 ? StringField(ObjectField(create, "content"), "creator")
                                 : StringField(create, "sender");
  return CreatorsOf(create, version, creator);
}

absl::StatusOr<PowerLevels> CurrentPowerLevels(const StateMap& state) {
  const boost::json::object* create = FindState(state, "m.room.create", "");
  if (create == nullptr) return Refuse("the room has no m.room.create event");
  const RoomVersion* version = VersionOf(*create);
  if (version == nullptr) return Refuse("the room's m.room.create names an unknown room version");
  return ParsePowerLevels(FindStateContent(state, "m.room.power_levels", ""), *version,
                          RoomCreators(*create));
}

absl::Status CheckEventAuth(const boost::json::object& event, const StateMap& auth_state) {
  if (!HasString(event, "type")) return Refuse("the event has no type");
  if (!HasString(event, "sender")) return Refuse("the event has no sender");
  std::string_view type = StringField(event, "type");
  std::string_view sender = StringField(event, "sender");
  if (type == "m.room.create") return CheckCreate(event, auth_state);

  absl::StatusOr<Room> room = LoadRoom(event, auth_state);
  if (!room.ok()) return room.status();
  if (room->version->special_case_aliases && type == "m.room.aliases") {
    // v1-v5 rule 4: a server speaks for its own aliases only; membership does not matter.
    if (!HasString(event, "state_key"))
      return Refuse("rule 4.1 (v1): m.room.aliases needs a state_key");
    if (StringField(event, "state_key") != ServerOf(sender)) {
      return Refuse("rule 4.2 (v1): the state_key of m.room.aliases is not the sender's server");
    }
    return absl::OkStatus();
  }
  if (type == "m.room.member") return CheckMember(event, sender, *room);

  std::string_view sender_membership = MembershipOf(auth_state, sender);
  if (sender_membership != "join") {
    return Refuse("rule 5: ", sender, " is not joined to the room (membership ",
                  Shown(sender_membership), ")");
  }
  int64_t sender_level = room->levels.UserLevel(sender);
  if (type == "m.room.third_party_invite") {
    if (sender_level >= room->levels.invite) return absl::OkStatus();
    return Refuse("rule 6.1: ", sender, " has level ", sender_level, ", below the invite level ",
                  room->levels.invite);
  }
  bool is_state = HasString(event, "state_key");
  int64_t required = room->levels.EventLevel(type, is_state);
  if (required > sender_level) {
    return Refuse("rule 7: sending ", type, " needs level ", required, "; ", sender, " has ",
                  sender_level);
  }
  std::string_view state_key = StringField(event, "state_key");
  if (!state_key.empty() && state_key.front() == '@' && state_key != sender) {
    return Refuse("rule 8: the state_key ", state_key, " is a user ID other than the sender's");
  }
  if (type == "m.room.power_levels") return CheckPowerLevels(event, sender, *room);
  if (room->version->redaction_in_auth_rules && type == "m.room.redaction") {
    // v1-v2 rule 11: the redact level, or the redacted event's id has the redaction's domain.
    if (sender_level >= room->levels.redact) return absl::OkStatus();
    std::string_view redacts = StringField(event, "redacts");
    std::string_view domain = ServerOf(StringField(event, "event_id"));
    if (!domain.empty() && ServerOf(redacts) == domain) return absl::OkStatus();
    return Refuse("rule 11 (v1): ", sender, " has level ", sender_level,
                  ", below the redact level ", room->levels.redact,
                  ", and the redacted event is from another server");
  }
  return absl::OkStatus();  // 10
}

absl::Status CheckRedactionAuth(const boost::json::object& redaction,
                                const boost::json::object& redacted, const StateMap& auth_state) {
  std::string_view room_id = StringField(redaction, "room_id");
  if (room_id != StringField(redacted, "room_id")) {
    return Refuse("redaction: the redacted event is in another room");
  }
  std::string_view target_id = StringField(redaction, "redacts");
  if (target_id.empty()) target_id = StringField(ObjectField(redaction, "content"), "redacts");
  std::string_view redacted_id = StringField(redacted, "event_id");
  if (!target_id.empty() && !redacted_id.empty() && target_id != redacted_id) {
    return Refuse("redaction: it redacts ", target_id, ", not ", redacted_id);
  }
  std::string_view sender = StringField(redaction, "sender");
  if (sender.empty()) return Refuse("redaction: no sender");
  if (sender == StringField(redacted, "sender")) return absl::OkStatus();
  absl::StatusOr<Room> room = LoadRoom(redaction, auth_state);
  if (!room.ok()) return room.status();
  int64_t level = room->levels.UserLevel(sender);
  if (level < room->levels.redact) {
    return Refuse("redaction: redacting another user's event needs the redact level ",
                  room->levels.redact, "; ", sender, " has ", level);
  }
  return absl::OkStatus();
}

std::vector<StateKey> AuthStateKeys(const boost::json::object& event, const RoomVersion& version) {
  std::vector<StateKey> keys;
  std::string_view type = StringField(event, "type");
  if (type == "m.room.create") return keys;
  auto add = [&keys](std::string_view key_type, std::string_view state_key) {
    StateKey key(key_type, state_key);
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(std::move(key));
  };
  // v12: the room id stands for the create event, which is not selected.
  if (!version.room_id_from_create_event) add("m.room.create", "");
  add("m.room.power_levels", "");
  std::string_view sender = StringField(event, "sender");
  if (!sender.empty()) add("m.room.member", sender);
  if (type != "m.room.member" || !HasString(event, "state_key")) return keys;

  const boost::json::object* content = ObjectField(event, "content");
  add("m.room.member", StringField(event, "state_key"));
  std::string_view membership = StringField(content, "membership");
  if (membership == "join" || membership == "invite" || (version.knock && membership == "knock")) {
    add("m.room.join_rules", "");
  }
  if (membership == "invite") {
    const boost::json::object* signed_object =
        ObjectField(ObjectField(content, "third_party_invite"), "signed");
    if (HasString(signed_object, "token")) {
      add("m.room.third_party_invite", StringField(signed_object, "token"));
    }
  }
  std::string_view authoriser = StringField(content, "join_authorised_via_users_server");
  if (version.restricted_join && !authoriser.empty()) add("m.room.member", authoriser);
  return keys;
}

}  // namespace conclave::service
