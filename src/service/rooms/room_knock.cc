// Rooms: knocking (Client-Server API "Knocking on rooms", POST /knock/{roomIdOrAlias}) and
// restricted joins ("Restricted rooms": join rules `restricted` from room version 8 and
// `knock_restricted` from 10), whose join events name a local member who may invite in
// `join_authorised_via_users_server`.
#include <boost/json/value.hpp>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/auth_rules.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/rooms/rooms.h"
#include "rooms_internal.h"

namespace conclave::service {

using namespace rooms_internal;  // NOLINT: private helpers of this subsystem

absl::StatusOr<std::string> Rooms::Knock(const Session& session, std::string_view room_id_or_alias,
                                         std::optional<std::string> reason) {
  CONCLAVE_ASSIGN_OR_RETURN(std::string room_id, ResolveRoom(room_id_or_alias));
  CONCLAVE_RETURN_IF_ERROR(CheckRoomNotBanned(room_id));
  CONCLAVE_RETURN_IF_ERROR(
      ChangeMembership(session, room_id, session.user_id, "knock", std::move(reason)));
  return room_id;
}

absl::StatusOr<bool> Rooms::IsJoinedTo(std::string_view room_id, std::string_view user_id) const {
  Store& store = deps_.store;
  CONCLAVE_ASSIGN_OR_RETURN(auto row, store.Find(*store.room_members, PairKey(room_id, user_id)));
  if (!row) return false;
  CONCLAVE_ASSIGN_OR_RETURN(auto json, ParseObject(*row));
  return StringField(json, "membership") == "join";
}

absl::StatusOr<std::optional<std::string>> Rooms::RestrictedJoinAuthoriser(
    const RoomData& room, std::string_view user_id) const {
  const RoomVersion& version = RoomVersionOrDefault(room.room_version);
  const boost::json::object* rules = FindStateContent(room.state, "m.room.join_rules", "");
  std::string_view join_rule = rules == nullptr ? "" : StringField(*rules, "join_rule");
  const bool restricted = (version.restricted_join && join_rule == "restricted") ||
                          (version.knock_restricted && join_rule == "knock_restricted");
  if (!restricted) return std::nullopt;
  std::string_view current = MembershipOf(room.state, user_id);
  if (current == "join" || current == "invite") return std::nullopt;  // rule 4.3.5.1

  // Rooms in `allow` are read from the membership rows, without their locks: a join into one
  // room may not wait for another room's lock (two such joins could wait on each other).
  bool allowed = false;
  const boost::json::value* allow = rules->if_contains("allow");
  if (allow != nullptr && allow->is_array()) {
    for (const boost::json::value& entry : allow->get_array()) {
      const boost::json::object* condition = entry.if_object();
      if (condition == nullptr || StringField(*condition, "type") != "m.room_membership") continue;
      CONCLAVE_ASSIGN_OR_RETURN(allowed, IsJoinedTo(StringField(*condition, "room_id"), user_id));
      if (allowed) break;
    }
  }
  if (!allowed) {
    return Forbidden(core::StrCat("The join rule is '", join_rule, "' and ", user_id,
                                  " is not joined to any of the rooms it allows",
                                  join_rule == "knock_restricted" ? "; knock instead" : ""));
  }
  CONCLAVE_ASSIGN_OR_RETURN(PowerLevels levels, CurrentPowerLevels(room.state));
  for (auto it = room.state.lower_bound(StateKey("m.room.member", ""));
       it != room.state.end() && it->first.first == "m.room.member"; ++it) {
    const std::string& member = it->first.second;
    auto parsed = ParseUserId(member);
    if (!parsed.ok() || parsed->server_name != deps_.server_name) continue;
    if (MembershipOf(room.state, member) != "join") continue;
    if (levels.UserLevel(member) >= levels.invite) return member;
  }
  return Forbidden("No member of the room has the level to invite, so none can authorise the join");
}

}  // namespace conclave::service
