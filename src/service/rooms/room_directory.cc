// Rooms: aliases (Client-Server API "Room aliases") and the public room directory ("Listing
// rooms").
#include <algorithm>
#include <boost/json/serialize.hpp>

#include "absl/strings/ascii.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/protocol/auth_rules.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/protocol/power_levels.h"
#include "conclave/service/rooms/rooms.h"
#include "rooms_internal.h"

namespace conclave::service {

using namespace rooms_internal;  // NOLINT: private helpers of this subsystem

absl::Status Rooms::PutAlias(std::string_view alias, std::string_view room_id,
                             std::string_view creator) {
  auto parsed = ParseRoomAlias(alias);
  if (!parsed.ok()) return InvalidParam(core::StrCat("'", alias, "' is not a room alias"));
  if (parsed->server_name != deps_.server_name) {
    return InvalidParam(core::StrCat("Aliases must end in :", deps_.server_name));
  }
  Store& store = deps_.store;
  std::lock_guard lock(alias_mu_);
  CONCLAVE_ASSIGN_OR_RETURN(auto existing, store.Find(*store.aliases, alias));
  if (existing) {
    return MatrixStatus(absl::StatusCode::kAlreadyExists, Errcode::kUnknown,
                        core::StrCat("Room alias ", alias, " already exists"));
  }
  database::WriteBatch batch;
  batch.Put(*store.aliases, alias,
            boost::json::serialize(boost::json::object{
                {"room_id", boost::json::string_view(room_id.data(), room_id.size())},
                {"creator", boost::json::string_view(creator.data(), creator.size())}}));
  batch.Put(*store.room_aliases, PairKey(room_id, alias), "");
  return store.db->Write(batch);
}

absl::Status Rooms::SetAlias(const Session& session, std::string_view alias,
                             std::string_view room_id) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  {
    std::lock_guard lock(room->mu);
    if (MembershipOf(room->state, session.user_id) != "join") {
      return Forbidden("You must be joined to the room to give it an alias");
    }
  }
  return PutAlias(alias, room_id, session.user_id);
}

absl::StatusOr<std::string> Rooms::ResolveAlias(std::string_view alias) const {
  if (!ParseRoomAlias(alias).ok()) {
    return InvalidParam(core::StrCat("'", alias, "' is not a room alias"));
  }
  Store& store = deps_.store;
  CONCLAVE_ASSIGN_OR_RETURN(auto value, store.Find(*store.aliases, alias));
  if (!value) return NotFound(core::StrCat("Room alias ", alias, " not found"));
  CONCLAVE_ASSIGN_OR_RETURN(auto json, ParseObject(*value));
  return std::string(StringField(json, "room_id"));
}

absl::Status Rooms::DeleteAlias(const Session& session, std::string_view alias) {
  Store& store = deps_.store;
  std::string room_id;
  {
    std::lock_guard lock(alias_mu_);
    if (!ParseRoomAlias(alias).ok()) {
      return InvalidParam(core::StrCat("'", alias, "' is not a room alias"));
    }
    CONCLAVE_ASSIGN_OR_RETURN(auto value, store.Find(*store.aliases, alias));
    if (!value) return NotFound(core::StrCat("Room alias ", alias, " not found"));
    CONCLAVE_ASSIGN_OR_RETURN(auto json, ParseObject(*value));
    room_id = std::string(StringField(json, "room_id"));
    // The alias's creator may delete it, and so may anyone allowed to change the room's
    // canonical alias (Client-Server API: "servers may choose to allow ... room admins").
    bool allowed = StringField(json, "creator") == session.user_id;
    if (!allowed) {
      if (auto room = Load(room_id); room.ok()) {
        std::lock_guard room_lock((*room)->mu);
        // The room's own rules: a v12 creator has infinite power and no `users` entry.
        auto levels = CurrentPowerLevels((*room)->state);
        allowed = levels.ok() && levels->UserLevel(session.user_id) >=
                                     levels->EventLevel("m.room.canonical_alias", true);
      }
    }
    if (!allowed) return Forbidden("You may not delete this alias");
    database::WriteBatch batch;
    batch.Delete(*store.aliases, alias);
    batch.Delete(*store.room_aliases, PairKey(room_id, alias));
    CONCLAVE_RETURN_IF_ERROR(store.db->Write(batch));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Rooms::Aliases(const Session& session,
                                                        std::string_view room_id) {
  CONCLAVE_RETURN_IF_ERROR(LoadReadable(session.user_id, room_id).status());
  return RoomAliases(room_id);
}

absl::Status Rooms::SetVisibility(const Session& session, std::string_view room_id,
                                  bool published) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  {
    std::lock_guard lock(room->mu);
    auto levels = CurrentPowerLevels(room->state);
    if (!levels.ok() || levels->UserLevel(session.user_id) < levels->state_default) {
      return Forbidden("Publishing a room needs the power to send state events");
    }
  }
  Store& store = deps_.store;
  if (published) return store.db->Put(*store.public_rooms, room_id, "");
  return store.db->Delete(*store.public_rooms, room_id);
}

absl::StatusOr<bool> Rooms::IsPublished(std::string_view room_id) const {
  Store& store = deps_.store;
  CONCLAVE_ASSIGN_OR_RETURN(auto value, store.Find(*store.public_rooms, room_id));
  return value.has_value();
}

absl::StatusOr<PublicRoomsPage> Rooms::PublicRooms(size_t limit, std::string_view since,
                                                   std::string_view term) {
  Store& store = deps_.store;
  std::vector<std::string> room_ids;
  CONCLAVE_RETURN_IF_ERROR(store.db->ForEachWithPrefix(*store.public_rooms, "",
                                                       [&](std::string_view key, std::string_view) {
                                                         room_ids.emplace_back(key);
                                                         return true;
                                                       }));
  size_t offset = 0;
  if (!since.empty()) {
    CONCLAVE_ASSIGN_OR_RETURN(uint64_t parsed, ParsePositionToken(since));
    offset = parsed;
  }
  const std::string needle = absl::AsciiStrToLower(std::string(term));
  std::vector<PublicRoom> matching;
  for (const std::string& room_id : room_ids) {
    auto room = Load(room_id);
    if (!room.ok()) continue;
    std::lock_guard lock((*room)->mu);
    const StateMap& state = (*room)->state;
    PublicRoom entry{.room_id = room_id};
    for (auto it = state.lower_bound(StateKey("m.room.member", ""));
         it != state.end() && it->first.first == "m.room.member"; ++it) {
      if (MembershipOf(state, it->first.second) == "join") ++entry.num_joined_members;
    }
    std::string haystack;
    auto copy = [&](const char* type, const char* field, std::optional<std::string>& out) {
      if (const auto* c = FindStateContent(state, type, "")) {
        if (auto v = StringField(*c, field); !v.empty()) {
          out = std::string(v);
          haystack += absl::AsciiStrToLower(std::string(v)) + "\n";
        }
      }
    };
    copy("m.room.name", "name", entry.name);
    copy("m.room.topic", "topic", entry.topic);
    copy("m.room.canonical_alias", "alias", entry.canonical_alias);
    copy("m.room.avatar", "url", entry.avatar_url);
    copy("m.room.join_rules", "join_rule", entry.join_rule);
    const auto* hv = FindStateContent(state, "m.room.history_visibility", "");
    entry.world_readable =
        hv != nullptr && StringField(*hv, "history_visibility") == "world_readable";
    const auto* ga = FindStateContent(state, "m.room.guest_access", "");
    entry.guest_can_join = ga != nullptr && StringField(*ga, "guest_access") == "can_join";
    if (const auto* create = FindStateContent(state, "m.room.create", "")) {
      if (auto type = StringField(*create, "type"); !type.empty()) entry.room_type = type;
    }
    if (!needle.empty() && haystack.find(needle) == std::string::npos) continue;
    matching.push_back(std::move(entry));
  }
  std::stable_sort(matching.begin(), matching.end(), [](const auto& a, const auto& b) {
    return a.num_joined_members > b.num_joined_members;
  });
  PublicRoomsPage page;
  limit = limit == 0 ? matching.size() : limit;
  for (size_t i = offset; i < matching.size() && page.chunk.size() < limit; ++i) {
    page.chunk.push_back(matching[i]);
  }
  if (offset + page.chunk.size() < matching.size()) {
    page.next_batch = PositionToken(offset + page.chunk.size());
  }
  if (offset > 0) page.prev_batch = PositionToken(offset > limit ? offset - limit : 0);
  page.total_room_count_estimate = matching.size();
  return page;
}

}  // namespace conclave::service
