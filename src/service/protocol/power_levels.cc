#include "conclave/service/protocol/power_levels.h"

#include <array>
#include <boost/json/value.hpp>
#include <string>
#include <utility>

#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"

namespace conclave::service {
namespace {

constexpr int64_t kDefaultNotificationLevel = 50;

// Room version 10 accepts JSON integers only: a string "50" or a float 50.0 is refused, as is
// anything canonical JSON could not carry.
absl::StatusOr<int64_t> ParseLevel(const boost::json::value& value, std::string_view name) {
  if (!value.is_int64()) {
    if (value.is_uint64()) {
      return BadJson(core::StrCat(name, " is outside the canonical JSON integer range"));
    }
    return BadJson(core::StrCat(name, " must be an integer (room version 10)"));
  }
  int64_t level = value.get_int64();
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
                           bool keys_are_users, std::map<std::string, int64_t, std::less<>>* out) {
  const boost::json::value* value = content.if_contains(name);
  if (value == nullptr) return absl::OkStatus();
  const boost::json::object* map = value->if_object();
  if (map == nullptr) return BadJson(core::StrCat(name, " must be an object"));
  for (const auto& [key, level_value] : *map) {
    std::string_view key_view = key;
    if (keys_are_users && !LooksLikeUserId(key_view)) {
      return BadJson(core::StrCat(name, " key '", key_view, "' is not a user ID"));
    }
    absl::StatusOr<int64_t> level = ParseLevel(level_value, core::StrCat(name, ".", key_view));
    if (!level.ok()) return level.status();
    (*out)[std::string(key_view)] = *level;
  }
  return absl::OkStatus();
}

}  // namespace

int64_t PowerLevels::UserLevel(std::string_view user_id) const {
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
  PowerLevels levels;
  if (content_or_null == nullptr) {
    // Room versions 1-10: without the event the creator alone holds 100.
    if (!creator.empty()) levels.users[std::string(creator)] = 100;
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
    absl::StatusOr<int64_t> level = ParseLevel(*value, name);
    if (!level.ok()) return level.status();
    *field = *level;
  }
  absl::Status status = ParseLevelMap(content, "events", false, &levels.events);
  if (status.ok()) status = ParseLevelMap(content, "users", true, &levels.users);
  if (status.ok()) status = ParseLevelMap(content, "notifications", false, &levels.notifications);
  if (!status.ok()) return status;
  return levels;
}

boost::json::object DefaultPowerLevelsContent(std::string_view creator) {
  boost::json::object users;
  users[creator] = 100;
  boost::json::object events;
  events["m.room.name"] = 50;
  events["m.room.power_levels"] = 100;
  events["m.room.history_visibility"] = 100;
  events["m.room.canonical_alias"] = 50;
  events["m.room.avatar"] = 50;
  events["m.room.tombstone"] = 100;
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
