// Power levels of a room: the parsed content of m.room.power_levels with the spec's defaults,
// and the content createRoom writes.
//
// Client-Server API, "m.room.power_levels"; Room Versions: v1-v9 accept integers written as
// strings, v1-v5 floats (truncated), v10+ integers only; v12 gives the room's creators infinite
// power. Stateless functions; PowerLevels is a value type (thread-compatible).
#ifndef CONCLAVE_SERVICE_PROTOCOL_POWER_LEVELS_H_
#define CONCLAVE_SERVICE_PROTOCOL_POWER_LEVELS_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "conclave/service/protocol/room_versions.h"

namespace conclave::service {

// Canonical JSON limits every integer to [-(2**53)+1, (2**53)-1]; so does the power levels schema.
inline constexpr int64_t kMaxPowerLevel = (int64_t{1} << 53) - 1;
inline constexpr int64_t kMinPowerLevel = -kMaxPowerLevel;
// The level of a v12 room creator: above every level a power levels event can hold.
inline constexpr int64_t kInfinitePowerLevel = INT64_MAX;

// The effective power levels of a room. Every field holds its spec default until a content says
// otherwise, so readers never deal with absent keys.
struct PowerLevels {
  int64_t ban = 50;
  int64_t kick = 50;
  int64_t redact = 50;
  int64_t invite = 0;
  int64_t events_default = 0;
  int64_t state_default = 50;
  int64_t users_default = 0;
  std::map<std::string, int64_t, std::less<>> events;  // event type → required level
  std::map<std::string, int64_t, std::less<>> users;   // user ID → level
  // Notification key → level required to trigger it; "room" (@room) defaults to 50.
  std::map<std::string, int64_t, std::less<>> notifications;
  // Room version 12 (creators_have_infinite_power): the room's creators, at kInfinitePowerLevel.
  std::vector<std::string> creators;

  // Returns the level of `user_id`: kInfinitePowerLevel for one of `creators`, else its `users`
  // entry, else `users_default`.
  int64_t UserLevel(std::string_view user_id) const;

  // Returns the level required to send an event of `type`: its `events` entry, else
  // `state_default` when `is_state` (the event has a state_key), else `events_default`.
  // Membership changes are governed by invite/kick/ban instead (auth_rules.h).
  int64_t EventLevel(std::string_view type, bool is_state) const;

  // Returns the level required to trigger the notification `key` (e.g. "room" for @room):
  // its `notifications` entry, else 50.
  int64_t NotificationLevel(std::string_view key) const;
};

// Parses the content of an m.room.power_levels event under room version 10's rules (for callers
// that do not know the room's version; the overload below takes it).
//
// `content_or_null` may be null: the room has no m.room.power_levels event, and then every
// default applies and `creator` (the m.room.create `creator`) has level 100, everyone else 0.
// Nothing is kept after the call.
//
// Errors: M_BAD_JSON (kInvalidArgument) naming the offending key when `users_default`,
// `events_default`, `state_default`, `ban`, `kick`, `redact` or `invite` is present and not an
// integer (strings such as "50" included: room version 10), when `events`, `notifications` or
// `users` is not an object of integers, when a `users` key is not a user ID, or when a value lies
// outside [kMinPowerLevel, kMaxPowerLevel].
absl::StatusOr<PowerLevels> ParsePowerLevels(const boost::json::object* content_or_null,
                                             std::string_view creator);

// The same under `version`'s rules, for a room whose creators are `creators` (the create's
// `creator` or sender, plus v12's additional_creators):
//  - !integer_power_levels (v1-v9): a string holding a base-10 integer counts as that integer
//    (leading/trailing whitespace, one sign and leading zeros allowed: "Stringy power levels");
//  - !strict_canonical_json (v1-v5): a float counts truncated toward zero; infinities and NaN
//    cannot occur in JSON, out-of-range values are refused;
//  - creators_have_infinite_power (v12): `creators` are at kInfinitePowerLevel whatever the
//    content says; otherwise, without a content, every creator has 100.
// Errors as above.
absl::StatusOr<PowerLevels> ParsePowerLevels(const boost::json::object* content_or_null,
                                             const RoomVersion& version,
                                             const std::vector<std::string>& creators);

// Returns the m.room.power_levels content createRoom writes for a room made by `creator`, as
// Synapse does: `creator` at 100, users_default 0, events_default 0, state_default 50, ban, kick
// and redact 50, invite 0, notifications.room 50, and `events` raising m.room.power_levels,
// m.room.history_visibility, m.room.tombstone, m.room.server_acl and m.room.encryption to 100
// and m.room.name, m.room.canonical_alias and m.room.avatar to 50. Callers apply a preset's or
// `power_level_content_override`'s changes on top.
boost::json::object DefaultPowerLevelsContent(std::string_view creator);
// The same for `version`: in a creators_have_infinite_power version (v12) `creator` is left out
// of `users` (rule 10.4 refuses creators there) and m.room.tombstone needs 150 (create_room.yaml:
// "MUST explicitly be higher than state_default"); the rest is the same.
boost::json::object DefaultPowerLevelsContent(std::string_view creator, const RoomVersion& version);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_POWER_LEVELS_H_
