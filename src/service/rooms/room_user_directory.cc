// Rooms::DirectoryVisible: which users a user-directory search may show (users.yaml, POST
// /user_directory/search: at a minimum "users that share a room with the requesting user",
// "users who are joined to rooms known to the homeserver that have a `public` join rule" and
// those joined to rooms with `world_readable` history visibility). conclave shows exactly
// those: a server's whole user list is not every user's to enumerate.
#include <boost/json/object.hpp>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "conclave/core/status_macros.h"
#include "conclave/service/protocol/state_map.h"
#include "conclave/service/rooms/rooms.h"
#include "rooms_internal.h"

namespace conclave::service {

using namespace rooms_internal;  // NOLINT: private helpers of this subsystem

namespace {

// Whether the room's current join rule is `public` or its history visibility `world_readable`.
bool IsOpenRoom(const StateMap& state) {
  const boost::json::object* rules = FindStateContent(state, "m.room.join_rules", "");
  if (rules != nullptr && StringField(*rules, "join_rule") == "public") return true;
  const boost::json::object* hv = FindStateContent(state, "m.room.history_visibility", "");
  return hv != nullptr && StringField(*hv, "history_visibility") == "world_readable";
}

}  // namespace

absl::StatusOr<std::vector<size_t>> Rooms::DirectoryVisible(
    std::string_view searcher, const std::vector<std::string>& candidates, size_t max) {
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> own, JoinedRooms(searcher));
  const absl::flat_hash_set<std::string> shared(own.begin(), own.end());
  absl::flat_hash_map<std::string, bool> open;  // room_id → IsOpenRoom, once per room
  std::vector<size_t> out;
  for (size_t i = 0; i < candidates.size() && out.size() < max; ++i) {
    CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> rooms, JoinedRooms(candidates[i]));
    bool visible = false;
    for (const std::string& room_id : rooms) {
      if (shared.contains(room_id)) {
        visible = true;
        break;
      }
      auto [it, fresh] = open.try_emplace(room_id, false);
      if (fresh) {
        CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
        std::lock_guard lock(room->mu);
        it->second = IsOpenRoom(room->state);
      }
      if (it->second) {
        visible = true;
        break;
      }
    }
    if (visible) out.push_back(i);
  }
  return out;
}

}  // namespace conclave::service
