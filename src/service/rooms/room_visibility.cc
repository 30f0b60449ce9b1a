// Rooms::KeepVisible: the history visibility rules (Client-Server API, "Room History
// Visibility"), applied to the events a user reads through /messages, /context, /event and /sync.
//
// Whether a user may see an event depends on the room's m.room.history_visibility and the user's
// membership in the state before the event:
//   1. world_readable: visible;
//   2. the user was joined: visible;
//   3. shared, and the user joined at some point after the event: visible (a current member, or
//      a former one who was joined when they left);
//   4. invited, and the user was invited: visible;
//   5. otherwise hidden.
// As Synapse does, a user always sees their own membership events, and the event that changes
// the visibility counts under the more permissive of the old and the new value.
//
// It also hides the events of the users the reader ignores (m.ignored_user_list, "Ignoring
// Users"), their state events excepted: DropIgnored.
//
// Most rooms never change their visibility from shared (or world_readable): for their current
// members every event is visible, which KeepVisible sees from the cached current state without
// reading anything. Otherwise it reads the state before the first event (StateAt) and walks the
// room's events up to the last one, tracking the visibility and the user's membership.
#include <algorithm>
#include <boost/json/object.hpp>
#include <map>

#include "conclave/core/status_macros.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/storage/stored_json.h"
#include "rooms_internal.h"

namespace conclave::service {

using namespace rooms_internal;  // NOLINT: private helpers of this subsystem

namespace {

constexpr std::string_view kHistoryVisibility = "m.room.history_visibility";

std::string_view ContentString(const boost::json::object& pdu, std::string_view key) {
  const auto* content = pdu.if_contains("content");
  if (content == nullptr || !content->is_object()) return {};
  return StringField(content->get_object(), key);
}

// The spec's default when no (valid) m.room.history_visibility is in force.
std::string VisibilityOf(const boost::json::object* hv_event) {
  if (hv_event == nullptr) return "shared";
  const std::string_view value = ContentString(*hv_event, "history_visibility");
  if (value == "world_readable" || value == "shared" || value == "invited" || value == "joined") {
    return std::string(value);
  }
  return "shared";
}

std::string_view PrevMembership(const boost::json::object& pdu) {
  const auto* unsigned_data = pdu.if_contains("unsigned");
  if (unsigned_data == nullptr || !unsigned_data->is_object()) return {};
  const auto* prev = unsigned_data->get_object().if_contains("prev_content");
  if (prev == nullptr || !prev->is_object()) return {};
  return StringField(prev->get_object(), "membership");
}

bool VisibleUnder(std::string_view visibility, std::string_view membership, bool joined_later) {
  if (visibility == "world_readable" || membership == "join") return true;
  if (visibility == "shared" && joined_later) return true;
  return visibility == "invited" && membership == "invite";
}

}  // namespace

// "Ignoring Users": "Once ignored, the client will no longer receive events sent by that user,
// with the exception of state events." Read at every call, so a change of the list applies to
// the very next request ("the sync API for all clients should immediately start ignoring (or
// un-ignoring) the user").
absl::Status Rooms::DropIgnored(std::string_view user_id, std::vector<StoredEvent>& events) const {
  if (events.empty()) return absl::OkStatus();
  CONCLAVE_ASSIGN_OR_RETURN(auto ignored, deps_.accounts.IgnoredUsers(user_id));
  if (ignored.empty()) return absl::OkStatus();
  std::erase_if(events, [&](const StoredEvent& e) {
    const auto* state_key = e.pdu.if_contains("state_key");
    const bool is_state = state_key != nullptr && state_key->is_string();
    return !is_state && ignored.contains(StringField(e.pdu, "sender"));
  });
  return absl::OkStatus();
}

absl::StatusOr<bool> Rooms::InvitedByIgnored(std::string_view user_id, std::string_view room_id) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::string inviter;
  {
    std::lock_guard lock(room->mu);
    const boost::json::object* member = FindState(room->state, "m.room.member", user_id);
    if (member == nullptr || MembershipOf(room->state, user_id) != "invite") return false;
    inviter = std::string(StringField(*member, "sender"));
  }
  CONCLAVE_ASSIGN_OR_RETURN(auto ignored, deps_.accounts.IgnoredUsers(user_id));
  return ignored.contains(inviter);
}

absl::Status Rooms::KeepVisible(std::string_view user_id, std::string_view room_id,
                                std::vector<StoredEvent>& events) {
  CONCLAVE_RETURN_IF_ERROR(DropIgnored(user_id, events));
  if (events.empty()) return absl::OkStatus();
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  bool joined_later;
  {
    std::lock_guard lock(room->mu);
    const std::string_view membership = MembershipOf(room->state, user_id);
    const boost::json::object* hv = FindState(room->state, kHistoryVisibility, "");
    const std::string visibility = VisibilityOf(hv);
    const bool never_changed = hv == nullptr || ReplacesStateOf(*hv).empty();
    if (membership == "join" && never_changed &&
        (visibility == "shared" || visibility == "world_readable")) {
      return absl::OkStatus();
    }
    // Rule 3's "joined at any point after the event", for the events a user may read at all
    // (VisibleUpTo: up to a former member's leave): a member now, or one who left from a join.
    joined_later = membership == "join";
    if (!joined_later && (membership == "leave" || membership == "ban")) {
      if (const boost::json::object* own = FindState(room->state, "m.room.member", user_id)) {
        joined_later = PrevMembership(*own) == "join";
      }
    }
  }

  std::map<uint64_t, bool> verdicts;  // position → visible
  for (const StoredEvent& e : events) verdicts.emplace(e.position, false);
  const uint64_t first = verdicts.begin()->first;
  const uint64_t last = verdicts.rbegin()->first;
  CONCLAVE_ASSIGN_OR_RETURN(auto before, StateAt(room_id, first - 1));
  std::string visibility = "shared";
  std::string membership = "leave";
  for (const StoredEvent& e : before) {
    const std::string_view type = StringField(e.pdu, "type");
    if (type == kHistoryVisibility && StringField(e.pdu, "state_key").empty()) {
      visibility = VisibilityOf(&e.pdu);
    } else if (type == "m.room.member" && StringField(e.pdu, "state_key") == user_id) {
      membership = std::string(ContentString(e.pdu, "membership"));
    }
  }

  Store& store = deps_.store;
  auto it = store.db->NewIterator(*store.timeline, RoomIteration(room_id));
  for (it->Seek(TimelineKey(room_id, first)); it->Valid(); it->Next()) {
    CONCLAVE_ASSIGN_OR_RETURN(uint64_t position, PositionOfTimelineKey(it->key()));
    if (position > last) break;
    auto verdict = verdicts.find(position);
    const bool maybe_state = it->value().find("\"state_key\"") != std::string_view::npos;
    if (verdict == verdicts.end() && !maybe_state) continue;
    CONCLAVE_ASSIGN_OR_RETURN(auto pdu, ParseObject(it->value()));
    const std::string_view type = StringField(pdu, "type");
    const auto* state_key = pdu.if_contains("state_key");
    const bool is_state = state_key != nullptr && state_key->is_string();
    const bool own_member =
        is_state && type == "m.room.member" && state_key->get_string() == user_id;
    const bool hv_event = is_state && type == kHistoryVisibility && state_key->get_string() == "";
    if (verdict != verdicts.end()) {
      verdict->second = own_member || VisibleUnder(visibility, membership, joined_later) ||
                        (hv_event && VisibleUnder(VisibilityOf(&pdu), membership, joined_later));
    }
    if (own_member) membership = std::string(ContentString(pdu, "membership"));
    if (hv_event) visibility = VisibilityOf(&pdu);
  }
  CONCLAVE_RETURN_IF_ERROR(it->status());
  std::erase_if(events, [&](const StoredEvent& e) { return !verdicts[e.position]; });
  return absl::OkStatus();
}

}  // namespace conclave::service
