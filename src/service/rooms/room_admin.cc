// Rooms: what the server's operators do to rooms through admin commands — listing and inspecting
// rooms, aliases and the directory without membership checks, and banning rooms.
//
// Banned rooms live in their own map, `banned_rooms`: room_id → {banned_by, reason, banned_ts}.
// ChangeMembership (rooms.cc) consults it under the room's lock before any new join.
#include <algorithm>
#include <boost/json/serialize.hpp>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/storage/stored_json.h"
#include "rooms_internal.h"

namespace conclave::service {

using namespace rooms_internal;  // NOLINT: private helpers of this subsystem

namespace {

using schema::kBannedRoomsMap;

boost::json::string_view J(std::string_view s) { return {s.data(), s.size()}; }

// The `banned_rooms` map (created on first use; OpenMap returns the same map every time).
absl::StatusOr<database::Map*> BannedRoomsMap(Store& store) {
  return store.db->OpenMap(kBannedRoomsMap);
}

// Every key of `map` (keys that are plain strings, not KeyBuilder tuples), in order.
absl::StatusOr<std::vector<std::string>> PlainKeys(const database::Database& db,
                                                   const database::Map& map) {
  std::vector<std::string> keys;
  CONCLAVE_RETURN_IF_ERROR(
      db.ForEachWithPrefix(map, "", [&](std::string_view key, std::string_view) {
        keys.emplace_back(key);
        return true;
      }));
  return keys;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> Rooms::AllRoomIds() const {
  Store& store = deps_.store;
  return PlainKeys(*store.db, *store.rooms);
}

absl::StatusOr<Rooms::Summary> Rooms::RoomSummary(std::string_view room_id) {
  Store& store = deps_.store;
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  Summary out;
  out.room_id = std::string(room_id);
  CONCLAVE_ASSIGN_OR_RETURN(auto info, store.Find(*store.rooms, room_id));
  if (info) {
    CONCLAVE_ASSIGN_OR_RETURN(auto record, ParseStored(*info, "room"));
    out.creator = std::string(StringField(record, "creator"));
    out.room_version = std::string(StringField(record, "room_version"));
    out.created_ts = IntField(record, "created_ts").value_or(0);
  }
  {
    std::lock_guard lock(room->mu);
    const StateMap& state = room->state;
    auto text = [&](const char* type, const char* field) {
      const boost::json::object* content = FindStateContent(state, type, "");
      return content == nullptr ? std::string() : std::string(StringField(*content, field));
    };
    out.name = text("m.room.name", "name");
    out.canonical_alias = text("m.room.canonical_alias", "alias");
    out.topic = text("m.room.topic", "topic");
    for (auto it = state.lower_bound(StateKey("m.room.member", ""));
         it != state.end() && it->first.first == "m.room.member"; ++it) {
      std::string_view membership = MembershipOf(state, it->first.second);
      if (membership == "join") ++out.joined_members;
      if (membership == "invite") ++out.invited_members;
    }
    out.events = room->depth;
    out.state_events = state.size();
    out.latest_position = room->latest_position.load();
  }
  CONCLAVE_ASSIGN_OR_RETURN(out.published, IsPublished(room_id));
  absl::Status banned = CheckRoomNotBanned(room_id);
  if (!banned.ok() && ErrcodeOf(banned) != Errcode::kForbidden) return banned;
  out.banned = !banned.ok();
  return out;
}

absl::StatusOr<std::string> Rooms::ResolveRoom(std::string_view room_id_or_alias) {
  std::string room_id(room_id_or_alias);
  if (!room_id_or_alias.empty() && room_id_or_alias[0] == '#') {
    CONCLAVE_ASSIGN_OR_RETURN(room_id, ResolveAlias(room_id_or_alias));
  } else if (!ParseRoomId(room_id_or_alias).ok()) {
    return InvalidParam(core::StrCat("'", room_id_or_alias, "' is neither a room id nor an alias"));
  }
  CONCLAVE_RETURN_IF_ERROR(Load(room_id).status());
  return room_id;
}

absl::StatusOr<StoredEvent> Rooms::EventById(std::string_view event_id) const {
  if (!LooksLikeEventId(event_id)) {
    return InvalidParam(core::StrCat("'", event_id, "' is not an event id"));
  }
  return ReadEvent(event_id);
}

absl::Status Rooms::AdminSetAlias(std::string_view alias, std::string_view room_id,
                                  std::string_view creator) {
  CONCLAVE_RETURN_IF_ERROR(Load(room_id).status());
  return PutAlias(alias, room_id, creator);
}

absl::StatusOr<std::string> Rooms::AdminDeleteAlias(std::string_view alias) {
  if (!ParseRoomAlias(alias).ok()) {
    return InvalidParam(core::StrCat("'", alias, "' is not a room alias"));
  }
  Store& store = deps_.store;
  std::lock_guard lock(alias_mu_);
  CONCLAVE_ASSIGN_OR_RETURN(auto value, store.Find(*store.aliases, alias));
  if (!value) return NotFound(core::StrCat("Room alias ", alias, " not found"));
  CONCLAVE_ASSIGN_OR_RETURN(auto json, ParseObject(*value));
  std::string room_id(StringField(json, "room_id"));
  database::WriteBatch batch;
  batch.Delete(*store.aliases, alias);
  batch.Delete(*store.room_aliases, PairKey(room_id, alias));
  CONCLAVE_RETURN_IF_ERROR(store.db->Write(batch));
  return room_id;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Rooms::AllAliases() const {
  Store& store = deps_.store;
  std::vector<std::pair<std::string, std::string>> out;
  CONCLAVE_RETURN_IF_ERROR(ForEachRecord(
      *store.db, *store.aliases, "", 0, "alias",
      [&](std::vector<std::string>& key, boost::json::object& json) {
        out.emplace_back(std::move(key[0]), std::string(StringField(json, "room_id")));
        return true;
      }));
  return out;
}

absl::StatusOr<std::vector<std::string>> Rooms::RoomAliases(std::string_view room_id) const {
  Store& store = deps_.store;
  std::vector<std::string> out;
  CONCLAVE_RETURN_IF_ERROR(store.db->ForEachWithPrefix(*store.room_aliases, RoomPrefix(room_id),
                                                       [&](std::string_view key, std::string_view) {
                                                         database::KeyReader reader(key);
                                                         auto room = reader.ReadString();
                                                         auto alias = reader.ReadString();
                                                         if (room.ok() && alias.ok())
                                                           out.emplace_back(*alias);
                                                         return true;
                                                       }));
  return out;
}

absl::Status Rooms::SetPublished(std::string_view room_id, bool published) {
  CONCLAVE_RETURN_IF_ERROR(Load(room_id).status());
  Store& store = deps_.store;
  if (published) return store.db->Put(*store.public_rooms, room_id, "");
  return store.db->Delete(*store.public_rooms, room_id);
}

absl::StatusOr<std::vector<std::string>> Rooms::PublishedRooms() const {
  Store& store = deps_.store;
  return PlainKeys(*store.db, *store.public_rooms);
}

absl::Status Rooms::CheckRoomNotBanned(std::string_view room_id) const {
  Store& store = deps_.store;
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * banned, BannedRoomsMap(store));
  CONCLAVE_ASSIGN_OR_RETURN(auto ban, store.Find(*banned, room_id));
  if (ban) return Forbidden("This room is banned on this server");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Rooms::BanRoom(std::string_view room_id,
                                                        std::string_view banned_by,
                                                        std::string_view reason) {
  Store& store = deps_.store;
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * banned, BannedRoomsMap(store));
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::vector<std::string> members;
  {
    // Under the room's lock: a join is either committed before (and its member leaves below)
    // or sees the ban (ChangeMembership checks under the same lock).
    std::lock_guard lock(room->mu);
    CONCLAVE_ASSIGN_OR_RETURN(auto existing, store.Find(*banned, room_id));
    if (existing) {
      return MatrixStatus(absl::StatusCode::kAlreadyExists, Errcode::kUnknown,
                          core::StrCat("Room ", room_id, " is banned already"));
    }
    CONCLAVE_RETURN_IF_ERROR(store.db->Put(
        *banned, room_id,
        boost::json::serialize(boost::json::object{
            {"banned_by", J(banned_by)}, {"reason", J(reason)}, {"banned_ts", NowMs()}})));
    for (auto it = room->state.lower_bound(StateKey("m.room.member", ""));
         it != room->state.end() && it->first.first == "m.room.member"; ++it) {
      std::string_view membership = MembershipOf(room->state, it->first.second);
      if (membership == "join" || membership == "invite" || membership == "knock") {
        members.push_back(it->first.second);
      }
    }
  }
  std::vector<std::string> evicted;
  std::optional<std::string> leave_reason;
  if (!reason.empty()) leave_reason = std::string(reason);
  for (const std::string& user_id : members) {
    // The member leaves on their own behalf: always allowed by the authorization rules.
    absl::Status left = Leave(Session{user_id, ""}, room_id, leave_reason);
    if (!left.ok()) {
      return absl::Status(left.code(),
                          core::StrCat("banned ", room_id, ", but ", user_id,
                                       " could not be made to leave: ", left.message()));
    }
    evicted.push_back(user_id);
  }
  return evicted;
}

absl::Status Rooms::UnbanRoom(std::string_view room_id) {
  Store& store = deps_.store;
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * banned, BannedRoomsMap(store));
  CONCLAVE_ASSIGN_OR_RETURN(auto existing, store.Find(*banned, room_id));
  if (!existing) return NotFound(core::StrCat("Room ", room_id, " is not banned"));
  return store.db->Delete(*banned, room_id);
}

absl::StatusOr<std::vector<Rooms::RoomBan>> Rooms::BannedRooms() const {
  Store& store = deps_.store;
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * banned, BannedRoomsMap(store));
  std::vector<RoomBan> out;
  CONCLAVE_RETURN_IF_ERROR(ForEachRecord(
      *store.db, *banned, "", 0, "room ban",
      [&](std::vector<std::string>& key, boost::json::object& json) {
        out.push_back(RoomBan{std::move(key[0]), std::string(StringField(json, "banned_by")),
                              std::string(StringField(json, "reason")),
                              IntField(json, "banned_ts").value_or(0)});
        return true;
      }));
  return out;
}

}  // namespace conclave::service
