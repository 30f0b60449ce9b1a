// Rooms::StateAt: the state of a room at a past stream position, for former members (the state
// at their leave), /context (the state at its last event) and /sync's rooms.leave.
//
// There is no state history index: the state at `position` is the current state with every
// later state event undone, newest first, through the `unsigned.replaces_state` each event
// carries (the event it replaced). A state event without it either was the first of its
// (type, state_key) — undoing it removes the key — or was redacted by a build that dropped its
// `unsigned`; keys of the latter are looked up by walking back from `position`. Cost: one pass
// over the room's events after `position`, plus, rarely, one before it.
#include <boost/json/object.hpp>
#include <map>
#include <set>

#include "conclave/core/status_macros.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/storage/stored_json.h"
#include "rooms_internal.h"

namespace conclave::service {

using namespace rooms_internal;  // NOLINT: private helpers of this subsystem

namespace {

bool WasRedacted(const boost::json::object& pdu) {
  const auto* unsigned_data = pdu.if_contains("unsigned");
  return unsigned_data != nullptr && unsigned_data->is_object() &&
         unsigned_data->get_object().contains("redacted_because");
}

}  // namespace

absl::StatusOr<std::vector<StoredEvent>> Rooms::StateAt(std::string_view room_id,
                                                        uint64_t position) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::map<StateKey, StoredEvent> state;
  uint64_t latest;
  {
    std::lock_guard lock(room->mu);
    latest = room->latest_position.load();
    for (const auto& [key, pdu] : room->state) {
      state.emplace(key, StoredEvent{pdu, room->state_positions[key]});
    }
  }
  Store& store = deps_.store;
  std::set<StateKey> unresolved;
  if (latest > position) {
    auto it = store.db->NewIterator(*store.timeline, RoomIteration(room_id));
    for (it->SeekForPrev(TimelineKey(room_id, latest)); it->Valid(); it->Prev()) {
      CONCLAVE_ASSIGN_OR_RETURN(uint64_t at, PositionOfTimelineKey(it->key()));
      if (at <= position) break;
      // Most events are not state: skip them without parsing.
      if (it->value().find("\"state_key\"") == std::string_view::npos) continue;
      CONCLAVE_ASSIGN_OR_RETURN(auto pdu, ParseObject(it->value()));
      const auto* state_key = pdu.if_contains("state_key");
      if (state_key == nullptr || !state_key->is_string()) continue;
      const StateKey key(StringField(pdu, "type"), std::string(state_key->get_string()));
      const std::string_view replaced = ReplacesStateOf(pdu);
      if (!replaced.empty()) {
        CONCLAVE_ASSIGN_OR_RETURN(StoredEvent previous, ReadEvent(replaced));
        state.insert_or_assign(key, std::move(previous));
        unresolved.erase(key);
      } else {
        state.erase(key);
        if (WasRedacted(pdu)) {
          unresolved.insert(key);
        } else {
          unresolved.erase(key);
        }
      }
    }
    CONCLAVE_RETURN_IF_ERROR(it->status());
  }
  if (!unresolved.empty()) {
    auto it = store.db->NewIterator(*store.timeline, RoomIteration(room_id));
    for (it->SeekForPrev(TimelineKey(room_id, position)); it->Valid() && !unresolved.empty();
         it->Prev()) {
      if (it->value().find("\"state_key\"") == std::string_view::npos) continue;
      CONCLAVE_ASSIGN_OR_RETURN(uint64_t at, PositionOfTimelineKey(it->key()));
      CONCLAVE_ASSIGN_OR_RETURN(auto pdu, ParseObject(it->value()));
      const auto* state_key = pdu.if_contains("state_key");
      if (state_key == nullptr || !state_key->is_string()) continue;
      const StateKey key(StringField(pdu, "type"), std::string(state_key->get_string()));
      if (unresolved.erase(key) > 0) state.insert_or_assign(key, StoredEvent{std::move(pdu), at});
    }
    CONCLAVE_RETURN_IF_ERROR(it->status());
  }
  std::vector<StoredEvent> out;
  out.reserve(state.size());
  for (auto& [key, event] : state) out.push_back(std::move(event));
  return out;
}

}  // namespace conclave::service
