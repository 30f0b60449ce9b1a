// Rooms::UpgradeRoom: POST /rooms/{roomId}/upgrade (Client-Server API "Room upgrades", "Server
// behaviour"), in the spec's order: permission to send m.room.tombstone, the replacement room
// (create with `predecessor`, the upgrader's join, power levels raised for the upgrader, the
// transferable state, the power levels restored), local aliases and the canonical alias moved,
// the directory listing moved, the tombstone, and the old room's power levels restricted.
#include <algorithm>
#include <boost/json/serialize.hpp>

#include "conclave/core/log.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/auth_rules.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/protocol/power_levels.h"
#include "conclave/service/rooms/rooms.h"
#include "rooms_internal.h"

namespace conclave::service {

using namespace rooms_internal;  // NOLINT: private helpers of this subsystem

namespace {

// "the recommended state events to transfer" (room_upgrades.md), m.room.power_levels aside: it
// is written first (raised) and last (restored).
constexpr std::string_view kTransferredState[] = {"m.room.server_acl",
                                                  "m.room.encryption",
                                                  "m.room.name",
                                                  "m.room.avatar",
                                                  "m.room.topic",
                                                  "m.room.guest_access",
                                                  "m.room.history_visibility",
                                                  "m.room.join_rules"};

// The highest level any event or action needs under `content` (an m.room.power_levels content).
int64_t HighestRequiredLevel(const PowerLevels& levels) {
  int64_t highest = std::max({levels.ban, levels.kick, levels.redact, levels.invite,
                              levels.events_default, levels.state_default});
  for (const auto& [type, level] : levels.events) highest = std::max(highest, level);
  return highest;
}

// The power levels the new room ends with: the old room's content, minus (v12) the new room's
// creators, whom rule 10.4 keeps out of `users`; plus (v1-v11) the upgrader, who may have been
// an infinitely powerful creator of a v12 room and so have no entry to copy.
boost::json::object NewRoomPowerLevels(boost::json::object content, const RoomVersion& version,
                                       const std::vector<std::string>& creators,
                                       std::string_view upgrader, int64_t upgrader_level) {
  boost::json::value& users_value = content["users"];
  if (!users_value.is_object()) users_value = boost::json::object();
  boost::json::object& users = users_value.get_object();
  if (version.creators_have_infinite_power) {
    for (const std::string& creator : creators) users.erase(creator);
  } else if (!users.contains(upgrader)) {
    users[upgrader] = std::min(upgrader_level, int64_t{100});
  }
  return content;
}

}  // namespace

absl::Status Rooms::MoveAlias(std::string_view alias, std::string_view from_room,
                              std::string_view to_room) {
  Store& store = deps_.store;
  std::lock_guard lock(alias_mu_);
  CONCLAVE_ASSIGN_OR_RETURN(auto value, store.Find(*store.aliases, alias));
  if (!value) return absl::OkStatus();  // deleted meanwhile
  CONCLAVE_ASSIGN_OR_RETURN(auto json, ParseObject(*value));
  if (StringField(json, "room_id") != from_room) return absl::OkStatus();
  json["room_id"] = to_room;
  database::WriteBatch batch;
  batch.Put(*store.aliases, alias, boost::json::serialize(json));
  batch.Delete(*store.room_aliases, PairKey(from_room, alias));
  batch.Put(*store.room_aliases, PairKey(to_room, alias), "");
  return store.db->Write(batch);
}

absl::StatusOr<std::string> Rooms::UpgradeRoom(
    const Session& session, std::string_view room_id, std::string_view new_version,
    const std::vector<std::string>& additional_creators) {
  const RoomVersion* version = FindRoomVersion(new_version);
  if (version == nullptr) {
    return MatrixStatus(Errcode::kUnsupportedRoomVersion,
                        core::StrCat("Room version ", new_version, " is not supported"));
  }
  for (const std::string& user : additional_creators) {
    if (!ParseUserId(user).ok()) {
      return InvalidParam("'additional_creators' must hold user ids");
    }
  }
  CONCLAVE_ASSIGN_OR_RETURN(auto old_room, Load(room_id));
  std::lock_guard old_lock(old_room->mu);
  if (MembershipOf(old_room->state, session.user_id) != "join") {
    return Forbidden("You must be joined to the room to upgrade it");
  }
  CONCLAVE_ASSIGN_OR_RETURN(PowerLevels old_levels, CurrentPowerLevels(old_room->state));
  const int64_t upgrader_level = old_levels.UserLevel(session.user_id);
  if (upgrader_level < old_levels.EventLevel("m.room.tombstone", true)) {
    return Forbidden(core::StrCat("Upgrading needs the level to send m.room.tombstone (",
                                  old_levels.EventLevel("m.room.tombstone", true), "); you have ",
                                  upgrader_level));
  }
  if (FindState(old_room->state, "m.room.tombstone", "") != nullptr) {
    return Forbidden("The room has been upgraded already");
  }

  // The replacement room, registered once its create event gives it its id (room_create.cc).
  auto room = std::make_shared<RoomData>();
  room->room_version = std::string(version->id);
  if (!version->room_id_from_create_event) room->room_id = NewRoomId(deps_.server_name);
  std::lock_guard lock(room->mu);
  auto send = [&](RoomData& target, std::string_view type, std::string_view state_key,
                  boost::json::object content) -> absl::StatusOr<std::string> {
    Draft draft{.type = std::string(type),
                .state_key = std::string(state_key),
                .sender = session.user_id,
                .content = std::move(content)};
    CONCLAVE_ASSIGN_OR_RETURN(StoredEvent event, Commit(target, std::move(draft)));
    return std::string(StringField(event.pdu, "event_id"));
  };

  const boost::json::object* old_create = FindStateContent(old_room->state, "m.room.create", "");
  boost::json::object create;
  create["room_version"] = version->id;
  if (version->creator_in_content) create["creator"] = session.user_id;
  create["predecessor"] =
      boost::json::object{{"room_id", room_id}, {"event_id", old_room->last_event_id}};
  if (old_create != nullptr) {
    if (const auto* type = old_create->if_contains("type")) create["type"] = *type;
    if (const auto* federate = old_create->if_contains("m.federate")) {
      create["m.federate"] = *federate;
    }
  }
  if (version->additional_creators && !additional_creators.empty()) {
    boost::json::array more;
    for (const std::string& user : additional_creators) {
      if (user != session.user_id) more.emplace_back(user);
    }
    create["additional_creators"] = std::move(more);
  }
  CONCLAVE_RETURN_IF_ERROR(send(*room, "m.room.create", "", std::move(create)).status());
  const std::string new_room_id = room->room_id;
  {
    std::lock_guard rooms_lock(rooms_mu_);
    rooms_[new_room_id] = room;
  }
  CONCLAVE_RETURN_IF_ERROR(send(*room, "m.room.member", session.user_id,
                                MemberContent(deps_.accounts, session.user_id, "join"))
                               .status());

  // Power levels: raised for the upgrader while the state is copied, then as they were.
  const std::vector<std::string> creators =
      RoomCreators(*FindState(room->state, "m.room.create", ""));
  boost::json::object levels_content = DefaultPowerLevelsContent(session.user_id, *version);
  if (const auto* old = FindStateContent(old_room->state, "m.room.power_levels", "")) {
    levels_content = *old;
  }
  levels_content = NewRoomPowerLevels(std::move(levels_content), *version, creators,
                                      session.user_id, upgrader_level);
  const bool is_creator =
      std::find(creators.begin(), creators.end(), session.user_id) != creators.end();
  absl::StatusOr<PowerLevels> new_levels = ParsePowerLevels(&levels_content, *version, creators);
  if (!new_levels.ok()) return new_levels.status();
  const int64_t needed = HighestRequiredLevel(*new_levels);
  const bool raise = !(is_creator && version->creators_have_infinite_power) &&
                     new_levels->UserLevel(session.user_id) < needed;
  if (raise) {
    boost::json::object raised = levels_content;
    raised["users"].as_object()[session.user_id] = needed;
    CONCLAVE_RETURN_IF_ERROR(send(*room, "m.room.power_levels", "", std::move(raised)).status());
  } else {
    CONCLAVE_RETURN_IF_ERROR(send(*room, "m.room.power_levels", "", levels_content).status());
  }
  for (std::string_view type : kTransferredState) {
    if (const auto* content = FindStateContent(old_room->state, type, "")) {
      CONCLAVE_RETURN_IF_ERROR(send(*room, type, "", *content).status());
    }
  }
  if (raise) {
    CONCLAVE_RETURN_IF_ERROR(send(*room, "m.room.power_levels", "", levels_content).status());
  }

  // Local aliases and the canonical alias move; so does the directory listing.
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> aliases, RoomAliases(room_id));
  for (const std::string& alias : aliases) {
    CONCLAVE_RETURN_IF_ERROR(MoveAlias(alias, room_id, new_room_id));
  }
  if (const auto* canonical = FindStateContent(old_room->state, "m.room.canonical_alias", "")) {
    CONCLAVE_RETURN_IF_ERROR(send(*room, "m.room.canonical_alias", "", *canonical).status());
    CONCLAVE_RETURN_IF_ERROR(
        send(*old_room, "m.room.canonical_alias", "", boost::json::object()).status());
  }
  CONCLAVE_ASSIGN_OR_RETURN(bool published, IsPublished(room_id));
  if (published) {
    CONCLAVE_RETURN_IF_ERROR(deps_.store.db->Put(*deps_.store.public_rooms, new_room_id, ""));
    CONCLAVE_RETURN_IF_ERROR(deps_.store.db->Delete(*deps_.store.public_rooms, room_id));
  }

  CONCLAVE_RETURN_IF_ERROR(send(*old_room, "m.room.tombstone", "",
                                boost::json::object{{"body", "This room has been replaced"},
                                                    {"replacement_room", new_room_id}})
                               .status());
  // "If possible": events_default and invite to max(50, users_default + 1). The upgrader may
  // lack the level to change them; the upgrade stands regardless.
  if (const auto* old = FindStateContent(old_room->state, "m.room.power_levels", "")) {
    boost::json::object restricted = *old;
    const int64_t level = std::max<int64_t>(50, old_levels.users_default + 1);
    restricted["events_default"] = level;
    restricted["invite"] = level;
    if (auto s = send(*old_room, "m.room.power_levels", "", std::move(restricted)); !s.ok()) {
      CONCLAVE_LOG(kInfo, "rooms", "upgrade of {}: old power levels left as they were: {}", room_id,
                   s.status().message());
    }
  }
  return new_room_id;
}

}  // namespace conclave::service
