// E2ee::Changes: whose device lists a user must refetch (Client-Server API "Tracking the device
// list for a user"; /sync device_lists and GET /keys/changes).
#include "conclave/core/status_macros.h"
#include "conclave/database/key.h"
#include "conclave/service/e2ee/e2ee.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::service {
namespace {

bool InWindow(uint64_t position, uint64_t after, uint64_t upto) {
  return position > after && position <= upto;
}

}  // namespace

absl::StatusOr<DeviceListChanges> E2ee::Changes(std::string_view user_id, uint64_t after,
                                                uint64_t upto,
                                                const std::vector<UserRoom>& memberships) const {
  DeviceListChanges out;
  if (upto <= after) return out;
  const database::Database& db = *deps_.store.db;
  std::vector<std::string> joined_rooms;
  for (const UserRoom& m : memberships) {
    if (m.membership == "join" && m.position <= upto) joined_rooms.push_back(m.room_id);
  }
  // Whether `other` is joined to one of the user's joined rooms now.
  auto shares_room = [&](std::string_view other) -> absl::StatusOr<bool> {
    for (const std::string& room_id : joined_rooms) {
      CONCLAVE_ASSIGN_OR_RETURN(auto record, deps_.store.Find(*deps_.store.room_members,
                                                              schema::PairKey(room_id, other)));
      if (!record) continue;
      auto json = ParseStored(*record, "room member");
      if (json.ok() && StringField(*json, "membership") == "join") return true;
    }
    return false;
  };
  std::set<std::string> left_candidates;
  // Membership changes: only rooms with an event in the window can have one.
  for (const UserRoom& m : memberships) {
    if (m.position > upto || deps_.rooms.LatestPosition(m.room_id) <= after) continue;
    const bool self_changed = InWindow(m.position, after, upto);
    const bool self_joined = m.membership == "join";
    const bool self_left = m.membership == "leave" || m.membership == "ban";
    CONCLAVE_RETURN_IF_ERROR(ForEachRecord(
        db, *deps_.store.room_members, schema::RoomPrefix(m.room_id), 2, "room member",
        [&](std::vector<std::string>& key, boost::json::object& record) {
          const std::string& member = key[1];
          if (member == user_id) return true;
          const bool joined = StringField(record, "membership") == "join";
          const bool moved = InWindow(PositionField(record), after, upto);
          if (self_joined && joined && (self_changed || moved)) out.changed.insert(member);
          if ((self_left && self_changed && joined) || (self_joined && moved && !joined)) {
            left_candidates.insert(member);
          }
          return true;
        }));
  }
  // Key changes in the window, of the user or of users sharing a room.
  auto iterator = db.NewIterator(*maps_.key_changes);
  for (iterator->Seek(schema::KeyChangeKey(after + 1, "")); iterator->Valid(); iterator->Next()) {
    database::KeyReader reader(iterator->key());
    auto position = reader.ReadU64();
    auto changed_user = reader.ReadString();
    if (!position.ok() || !changed_user.ok()) {
      return absl::DataLossError("corrupt e2ee_key_changes key");
    }
    if (*position > upto) break;
    if (out.changed.count(*changed_user) > 0) continue;
    if (*changed_user == user_id) {
      out.changed.insert(*changed_user);
      continue;
    }
    CONCLAVE_ASSIGN_OR_RETURN(bool shares, shares_room(*changed_user));
    if (shares) out.changed.insert(*changed_user);
  }
  CONCLAVE_RETURN_IF_ERROR(iterator->status());
  for (const std::string& candidate : left_candidates) {
    CONCLAVE_ASSIGN_OR_RETURN(bool shares, shares_room(candidate));
    if (!shares) {
      out.left.insert(candidate);
      out.changed.erase(candidate);
    }
  }
  return out;
}

}  // namespace conclave::service
