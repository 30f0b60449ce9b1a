#include "conclave/service/protocol/power_levels.h"

#include <array>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <utility>

#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"

namespace conclave::service {
namespace {

constexpr int64_t kDefaultNotificationLevel = 50;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// "Stringy power levels" (v1-v9): whitespace, an optional sign, then base-10 digits only.
std::optional<int64_t> StringLevel(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  bool negative = false;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) return std::nullopt;
  int64_t level = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    level = level * 10 + (c - '0');
    if (level > kMaxPowerLevel) return kMaxPowerLevel + 1;  // out of range, refused below
  }
  return negative ? -level : level;
}

// Room versions 10+ accept JSON integers only; older ones also strings holding integers and
// (before v6) floats. Anything canonical JSON could not carry is refused.
absl::StatusOr<int64_t> ParseLevel(const boost::json::value& value, std::string_view name,
                                   const RoomVersion& version) {
  std::optional<int64_t> parsed;
  if (value.is_int64()) {
    parsed = value.get_int64();
  } else if (value.is_uint64()) {
    return BadJson(core::StrCat(name, " is outside the canonical JSON integer range"));
  } else if (value.is_string() && !version.integer_power_levels) {
    parsed = StringLevel(value.get_string());
  } else if (value.is_double() && !version.strict_canonical_json) {
    double d = value.get_double();
    if (d > static_cast<double>(kMaxPowerLevel) || d < static_cast<double>(kMinPowerLevel)) {
      return BadJson(core::StrCat(name, " is outside the canonical JSON integer range"));
    }
    parsed = static_cast<int64_t>(d);
  }
  if (!parsed.has_value()) {
    return BadJson(core::StrCat(name, " must be an integer (room version ", version.id, ")"));
  }
  int64_t level = *parsed;
  if (level < kMinPowerLevel || level > kMaxPowerLevel) {
    return BadJson(core::StrCat(name, " is outside the canonical JSON integer range"));
  }
  return level;
}

// The grammar's shape only ("@localpart:server"): the auth rules want "valid user IDs" as keys,
// and a key that cannot name a user would only waste a slot.
bool LooksLikeUserId(std::string_view id) {
  if (id.size() < 4 || id.size() > 255 || id.front() != '@') return false;
  size_t colon = id.find(':');
  return colon != std::string_view::npos && colon > 1 && colon + 1 < id.size();
}

absl::Status ParseLevelMap(const boost::json::object& content, std::string_view name,
                           bool keys_are_users, const RoomVersion& version,
                           std::map<std::string, int64_t, std::less<>>* out) {
  const boost::json::value* value = content.if_contains(name);
  if (value == nullptr) return absl::OkStatus();
  const boost::json::object* map = value->if_object();
  if (map == nullptr) return BadJson(core::StrCat(name, " must be an object"));
  for (const auto& [key, level_value] : *map) {
    std::string_view key_view = key;
    if (keys_are_users && !LooksLikeUserId(key_view)) {
      return BadJson(core::StrCat(name, " key '", key_view, "' is not a user ID"));
    }
    absl::StatusOr<int64_t> level =
        ParseLevel(level_value, core::StrCat(name, ".", key_view), version);
    if (!level.ok()) return level.status();
    (*out)[std::string(key_view)] = *level;
  }
  return absl::OkStatus();
}

}  // namespace

int64_t PowerLevels::UserLevel(std::string_view user_id) const {
  for (const std::string& creator : creators) {
    if (creator == user_id) return kInfinitePowerLevel;
  }
  auto it = users.find(user_id);
  return it == users.end() ? users_default : it->second;
}

int64_t PowerLevels::EventLevel(std::string_view type, bool is_state) const {
  auto it = events.find(type);
  if (it != events.end()) return it->second;
  return is_state ? state_default : events_default;
}

int64_t PowerLevels::NotificationLevel(std::string_view key) const {
  auto it = notifications.find(key);
  return it == notifications.end() ? kDefaultNotificationLevel : it->second;
}

absl::StatusOr<PowerLevels> ParsePowerLevels(const boost::json::object* content_or_null,
                                             std::string_view creator) {
  std::vector<std::string> creators;
  if (!creator.empty()) creators.emplace_back(creator);
  return ParsePowerLevels(content_or_null, *FindRoomVersion("10"), creators);
}

absl::StatusOr<PowerLevels> ParsePowerLevels(const boost::json::object* content_or_null,
                                             const RoomVersion& version,
                                             const std::vector<std::string>& creators) {
  PowerLevels levels;
  if (version.creators_have_infinite_power) levels.creators = creators;
  if (content_or_null == nullptr) {
    // Room versions 1-11: without the event the creators hold 100.
    if (!version.creators_have_infinite_power) {
      for (const std::string& creator : creators) levels.users[creator] = 100;
    }
    return levels;
  }
  const boost::json::object& content = *content_or_null;
  const std::array<std::pair<std::string_view, int64_t*>, 7> scalars = {{
      {"ban", &levels.ban},
      {"kick", &levels.kick},
      {"redact", &levels.redact},
      {"invite", &levels.invite},
      {"events_default", &levels.events_default},
      {"state_default", &levels.state_default},
      {"users_default", &levels.users_default},
  }};
  for (const auto& [name, field] : scalars) {
    const boost::json::value* value = content.if_contains(name);
    if (value == nullptr) continue;
    absl::StatusOr<int64_t> level = ParseLevel(*value, name, version);
    if (!level.ok()) return level.status();
    *field = *level;
  }
  absl::Status status = ParseLevelMap(content, "events", false, version, &levels.events);
  if (status.ok()) status = ParseLevelMap(content, "users", true, version, &levels.users);
  if (status.ok()) {
    status = ParseLevelMap(content, "notifications", false, version, &levels.notifications);
  }
  if (!status.ok()) return status;
  return levels;
}

boost::json::object DefaultPowerLevelsContent(std::string_view creator) {
  return DefaultPowerLevelsContent(creator, *FindRoomVersion("10"));
}

boost::json::object DefaultPowerLevelsContent(std::string_view creator,
                                              const RoomVersion& version) {
  boost::json::object users;
  if (!version.creators_have_infinite_power) users[creator] = 100;
  boost::json::object events;
  events["m.room.name"] = 50;
  events["m.room.power_levels"] = 100;
  events["m.room.history_visibility"] = 100;
  events["m.room.canonical_alias"] = 50;
  events["m.room.avatar"] = 50;
  // create_room.yaml: from v12 the tombstone level must be above state_default and
  // every admin's 100, so that only creators can tombstone the room.
  events["m.room.tombstone"] = version.creators_have_infinite_power ? 150 : 100;
  events["m.room.server_acl"] = 100;
  events["m.room.encryption"] = 100;
  boost::json::object notifications;
  notifications["room"] = 50;

  boost::json::object content;
  content["users"] = std::move(users);
  content["users_default"] = 0;
  content["events"] = std::move(events);
  content["events_default"] = 0;
  content["state_default"] = 50;
  content["ban"] = 50;
  content["kick"] = 50;
  content["redact"] = 50;
  content["invite"] = 0;
  content["notifications"] = std::move(notifications);
  return content;
}

}  // namespace conclave::service
