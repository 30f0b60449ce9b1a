// The user's server-side room list and the list filters of simplified sliding sync (MSC4186
// "Lists", "Activity ordering", SlidingRoomFilter).
#include <algorithm>

#include "conclave/core/status_macros.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/storage/stored_json.h"
#include "sliding_internal.h"

namespace conclave::service::sync_internal {
namespace {

// The membership `unsigned.prev_content` of a member event says the user had before it.
std::string_view PreviousMembership(const boost::json::object& pdu) {
  const auto* unsigned_data = pdu.if_contains("unsigned");
  if (unsigned_data == nullptr || !unsigned_data->is_object()) return {};
  const auto* prev = unsigned_data->get_object().if_contains("prev_content");
  if (prev == nullptr || !prev->is_object()) return {};
  return StringField(prev->get_object(), "membership");
}

// Whether a leave or ban belongs in the list: kicks and bans always (the user may not have seen
// them), except bans of users who were never in the room; leaves by the user only when this
// connection was sent the room before (the MSC: the user knows they left).
absl::StatusOr<bool> ListsFormerRoom(Rooms& rooms, const SlidingPass& pass,
                                     const UserRoom& membership) {
  const std::string& user = pass.session.user_id;
  CONCLAVE_ASSIGN_OR_RETURN(auto event,
                            rooms.CurrentStateEvent(membership.room_id, "m.room.member", user));
  if (!event) return false;
  const bool by_self = StringField(event->pdu, "sender") == user;
  const bool sent_before =
      pass.previous != nullptr && pass.previous->rooms.contains(membership.room_id);
  if (membership.membership == "ban") {
    const std::string_view before = PreviousMembership(event->pdu);
    return sent_before || before == "join" || before == "invite" || before == "knock";
  }
  return !by_self || sent_before;
}

std::string_view MembershipOf(const boost::json::object& member_event) {
  const auto* content = member_event.if_contains("content");
  return content != nullptr && content->is_object()
             ? StringField(content->get_object(), "membership")
             : std::string_view();
}

bool ElementMatches(const RequiredStateElement& e, std::string_view type,
                    std::string_view state_key, std::string_view user_id) {
  if (e.type && *e.type != type) return false;
  if (!e.state_key) return true;
  if (*e.state_key == "$ME") return state_key == user_id;
  return *e.state_key == state_key;
}

// Whether `values` (room types, nullopt for none) holds `type` (nullopt: the room has none).
bool HasType(const std::vector<std::optional<std::string>>& values,
             const std::optional<std::string>& type) {
  return std::find(values.begin(), values.end(), type) != values.end();
}

}  // namespace

bool WantsState(const RequiredState& required, std::string_view type, std::string_view state_key,
                std::string_view user_id) {
  auto matches = [&](const RequiredStateElement& e) {
    return ElementMatches(e, type, state_key, user_id);
  };
  return std::any_of(required.include.begin(), required.include.end(), matches) &&
         std::none_of(required.exclude.begin(), required.exclude.end(), matches);
}

absl::StatusOr<std::vector<ListedRoom>> ServerRoomList(const Sync::Deps& deps,
                                                       const SlidingPass& pass,
                                                       const std::vector<UserRoom>& memberships) {
  std::vector<ListedRoom> out;
  out.reserve(memberships.size());
  for (const UserRoom& m : memberships) {
    if (m.position > pass.upto) continue;  // in flight: the next response has it
    uint64_t bump = m.position;
    if (m.membership == "join") {
      bump = std::max(bump, deps.rooms.BumpPosition(m.room_id));
    } else if (m.membership == "leave" || m.membership == "ban") {
      CONCLAVE_ASSIGN_OR_RETURN(bool listed, ListsFormerRoom(deps.rooms, pass, m));
      if (!listed) continue;
    } else if (m.membership == "invite") {
      // "Ignoring Users": "Servers must not send room invites from ignored users to clients."
      CONCLAVE_ASSIGN_OR_RETURN(bool ignored,
                                deps.rooms.InvitedByIgnored(pass.session.user_id, m.room_id));
      if (ignored) continue;
    } else if (m.membership != "knock") {
      continue;
    }
    out.push_back(ListedRoom{.membership = m, .bump_stamp = bump});
  }
  std::sort(out.begin(), out.end(), [](const ListedRoom& a, const ListedRoom& b) {
    if (a.bump_stamp != b.bump_stamp) return a.bump_stamp > b.bump_stamp;
    return a.membership.room_id < b.membership.room_id;
  });
  return out;
}

absl::StatusOr<const std::set<std::string>*> ListFilter::SpaceChildren(
    const std::string& space_id) {
  auto it = space_children_.find(space_id);
  if (it != space_children_.end()) return &it->second;
  std::set<std::string> children;
  // "Unknown spaces or spaces the user is not joined to will be ignored"; subspaces are not
  // walked.
  auto member = deps_.rooms.CurrentStateEvent(space_id, "m.room.member", pass_.session.user_id);
  if (member.ok() && *member && MembershipOf((*member)->pdu) == "join") {
    CONCLAVE_ASSIGN_OR_RETURN(
        auto events,
        deps_.rooms.CurrentStateWhere(space_id, [](std::string_view type, std::string_view,
                                                   uint64_t) { return type == "m.space.child"; }));
    for (const StoredEvent& e : events) {
      // Client-Server API "Spaces": a child without a valid `via` is not a child.
      const auto* content = e.pdu.if_contains("content");
      const auto* via = content != nullptr && content->is_object()
                            ? content->get_object().if_contains("via")
                            : nullptr;
      if (via != nullptr && via->is_array() && !via->get_array().empty()) {
        children.emplace(StringField(e.pdu, "state_key"));
      }
    }
  }
  return &space_children_.emplace(space_id, std::move(children)).first->second;
}

absl::StatusOr<const std::map<std::string, std::set<std::string>>*> ListFilter::Tags() {
  if (tags_) return &*tags_;
  tags_.emplace();
  CONCLAVE_ASSIGN_OR_RETURN(auto entries,
                            deps_.accounts.AccountDataSince(pass_.session.user_id, 0));
  for (const AccountDataEntry& entry : entries) {
    if (entry.room_id.empty() || entry.type != "m.tag") continue;
    const auto* tags = entry.content.if_contains("tags");
    if (tags == nullptr || !tags->is_object()) continue;
    auto& names = (*tags_)[entry.room_id];
    for (const auto& [name, unused] : tags->get_object()) names.emplace(name);
  }
  return &*tags_;
}

absl::StatusOr<bool> ListFilter::Passes(const SlidingRoomFilter& f, const ListedRoom& listed) {
  const std::string& room_id = listed.membership.room_id;
  Rooms& rooms = deps_.rooms;
  if (f.is_dm && *f.is_dm != pass_.dm_rooms.contains(room_id)) return false;
  if (f.is_invite && *f.is_invite != (listed.membership.membership == "invite")) return false;
  if (f.is_encrypted) {
    CONCLAVE_ASSIGN_OR_RETURN(auto encryption,
                              rooms.CurrentStateEvent(room_id, "m.room.encryption", ""));
    if (*f.is_encrypted != encryption.has_value()) return false;
  }
  if (f.room_types || f.not_room_types) {
    CONCLAVE_ASSIGN_OR_RETURN(auto create, rooms.CurrentStateEvent(room_id, "m.room.create", ""));
    std::optional<std::string> type;
    if (create) {
      const auto* content = create->pdu.if_contains("content");
      const auto* t = content != nullptr && content->is_object()
                          ? content->get_object().if_contains("type")
                          : nullptr;
      if (t != nullptr && t->is_string()) type = std::string(t->get_string());
    }
    // "If a type is in both room_types and not_room_types, then not_room_types wins".
    if (f.not_room_types && HasType(*f.not_room_types, type)) return false;
    if (f.room_types && !HasType(*f.room_types, type)) return false;
  }
  if (f.spaces) {
    bool in_space = false;
    for (const std::string& space : *f.spaces) {
      CONCLAVE_ASSIGN_OR_RETURN(const auto* children, SpaceChildren(space));
      if (children->contains(room_id)) {
        in_space = true;
        break;
      }
    }
    if (!in_space) return false;
  }
  if (f.tags || f.not_tags) {
    CONCLAVE_ASSIGN_OR_RETURN(const auto* all_tags, Tags());
    static const std::set<std::string> kNone;
    auto it = all_tags->find(room_id);
    const std::set<std::string>& tags = it == all_tags->end() ? kNone : it->second;
    auto has_any = [&](const std::vector<std::string>& names) {
      return std::any_of(names.begin(), names.end(),
                         [&](const std::string& n) { return tags.contains(n); });
    };
    // "not_tags takes priority over tags".
    if (f.not_tags && has_any(*f.not_tags)) return false;
    if (f.tags && !has_any(*f.tags)) return false;
  }
  return true;
}

}  // namespace conclave::service::sync_internal
