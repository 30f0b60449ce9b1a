// Rooms: reading state, events, history and memberships.
#include <algorithm>
#include <boost/json/serialize.hpp>
#include <set>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/storage/stored_json.h"
#include "rooms_internal.h"

namespace conclave::service {

using namespace rooms_internal;  // NOLINT: private helpers of this subsystem

absl::StatusOr<std::shared_ptr<Rooms::RoomData>> Rooms::LoadReadable(std::string_view user_id,
                                                                     std::string_view room_id) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  CONCLAVE_RETURN_IF_ERROR(VisibleUpTo(user_id, *room).status());
  return room;
}

absl::StatusOr<uint64_t> Rooms::VisibleUpTo(std::string_view user_id, RoomData& room) {
  std::lock_guard lock(room.mu);
  std::string_view membership = MembershipOf(room.state, user_id);
  if (membership == "join") return UINT64_MAX;
  if (const auto* hv = FindStateContent(room.state, "m.room.history_visibility", "")) {
    if (StringField(*hv, "history_visibility") == "world_readable") return UINT64_MAX;
  }
  if (membership == "leave" || membership == "ban") {
    auto it = room.state_positions.find(StateKey("m.room.member", std::string(user_id)));
    if (it != room.state_positions.end()) return it->second;
  }
  return Forbidden(core::StrCat(user_id, " is not in the room"));
}

absl::StatusOr<std::vector<StoredEvent>> Rooms::CurrentState(std::string_view room_id) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::lock_guard lock(room->mu);
  std::vector<StoredEvent> out;
  out.reserve(room->state.size());
  for (const auto& [key, pdu] : room->state) {
    out.push_back(StoredEvent{pdu, room->state_positions[key]});
  }
  return out;
}

absl::StatusOr<std::vector<StoredEvent>> Rooms::VisibleState(std::string_view user_id,
                                                             std::string_view room_id) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  CONCLAVE_ASSIGN_OR_RETURN(uint64_t visible, VisibleUpTo(user_id, *room));
  if (visible == UINT64_MAX) return CurrentState(room_id);
  // rooms.yaml, GET /rooms/{roomId}/state: "If the user has left the room then the state
  // returned is the state of the room when they left."
  return StateAt(room_id, visible);
}

absl::StatusOr<std::vector<StoredEvent>> Rooms::State(const Session& session,
                                                      std::string_view room_id) {
  return VisibleState(session.user_id, room_id);
}

absl::StatusOr<boost::json::object> Rooms::StateContent(const Session& session,
                                                        std::string_view room_id,
                                                        std::string_view type,
                                                        std::string_view state_key) {
  CONCLAVE_ASSIGN_OR_RETURN(auto state, VisibleState(session.user_id, room_id));
  for (const StoredEvent& e : state) {
    if (StringField(e.pdu, "type") != type) continue;
    const auto* key = e.pdu.if_contains("state_key");
    if (key == nullptr || !key->is_string() || key->get_string() != state_key) continue;
    if (const auto* content = e.pdu.if_contains("content"); content && content->is_object()) {
      return content->get_object();
    }
  }
  return NotFound(core::StrCat("No ", type, " state with key '", state_key, "'"));
}

absl::StatusOr<StoredEvent> Rooms::Event(const Session& session, std::string_view room_id,
                                         std::string_view event_id) {
  CONCLAVE_ASSIGN_OR_RETURN(StoredEvent event, VisibleEvent(session.user_id, room_id, event_id));
  std::vector<StoredEvent> one;
  one.push_back(std::move(event));
  CONCLAVE_RETURN_IF_ERROR(Bundle(session.user_id, room_id, one));
  return std::move(one.front());
}

absl::StatusOr<StoredEvent> Rooms::VisibleEvent(std::string_view user_id, std::string_view room_id,
                                                std::string_view event_id) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  // rooms.yaml, GET /rooms/{roomId}/event/{eventId}: 404 "not found or you do not have
  // permission to read this event", so a non-member learns nothing of the event either way.
  absl::StatusOr<uint64_t> visible = VisibleUpTo(user_id, *room);
  if (!visible.ok() && ErrcodeOf(visible.status()) != Errcode::kForbidden) return visible.status();
  auto event = ReadEvent(event_id);
  std::vector<StoredEvent> one;
  if (visible.ok() && event.ok() && StringField(event->pdu, "room_id") == room_id &&
      event->position <= *visible) {
    one.push_back(*std::move(event));
    CONCLAVE_RETURN_IF_ERROR(KeepVisible(user_id, room_id, one));
  }
  if (one.empty()) return NotFound(core::StrCat("Event ", event_id, " not found in ", room_id));
  return std::move(one.front());
}

absl::StatusOr<std::vector<StoredEvent>> Rooms::Timeline(std::string_view room_id, uint64_t after,
                                                         uint64_t upto, size_t limit,
                                                         const RoomEventFilter& filter,
                                                         bool* limited) {
  *limited = false;
  std::vector<StoredEvent> out;
  if (upto <= after || limit == 0) return out;
  Store& store = deps_.store;
  auto it = store.db->NewIterator(*store.timeline, RoomIteration(room_id));
  it->SeekForPrev(TimelineKey(room_id, upto));
  for (; it->Valid(); it->Prev()) {
    CONCLAVE_ASSIGN_OR_RETURN(uint64_t position, PositionOfTimelineKey(it->key()));
    if (position <= after) break;
    CONCLAVE_ASSIGN_OR_RETURN(auto pdu, ParseObject(it->value()));
    if (!Matches(filter, pdu)) continue;
    CONCLAVE_ASSIGN_OR_RETURN(bool related,
                              MatchesRelatedFilter(deps_.store, room_id, pdu, filter));
    if (!related) continue;
    if (out.size() == limit) {
      *limited = true;
      break;
    }
    out.push_back(StoredEvent{std::move(pdu), position});
  }
  CONCLAVE_RETURN_IF_ERROR(it->status());
  std::reverse(out.begin(), out.end());
  return out;
}

uint64_t Rooms::LatestPosition(std::string_view room_id) {
  auto room = Load(room_id);
  return room.ok() ? (*room)->latest_position.load() : 0;
}

namespace rooms_internal {

bool IsBumpType(std::string_view type) {
  // MSC4186, RoomResult `bump_stamp`; polls and beacons also under the unstable names that
  // clients send today (MSC3381, MSC3672).
  static constexpr std::string_view kTypes[] = {"m.room.create",
                                                "m.room.message",
                                                "m.room.encrypted",
                                                "m.sticker",
                                                "m.call.invite",
                                                "m.poll.start",
                                                "m.beacon_info",
                                                "org.matrix.msc3381.poll.start",
                                                "org.matrix.msc3672.beacon_info"};
  return std::find(std::begin(kTypes), std::end(kTypes), type) != std::end(kTypes);
}

}  // namespace rooms_internal

uint64_t Rooms::BumpPosition(std::string_view room_id) {
  auto room = Load(room_id);
  if (!room.ok()) return 0;
  std::atomic<uint64_t>& bump = (*room)->bump_position;
  uint64_t known = bump.load();
  if (known != RoomData::kUnknownPosition) return known;
  // The newest bump event, walking back from the end: the create event ends the walk in every
  // room. A Commit of a bump event meanwhile stored a newer position, which the exchange keeps.
  uint64_t found = 0;
  auto it = deps_.store.db->NewIterator(*deps_.store.timeline, RoomIteration(room_id));
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    auto event = ParseObject(it->value());
    if (event.ok() && IsBumpType(StringField(*event, "type"))) {
      found = PositionOfTimelineKey(it->key()).value_or(0);
      break;
    }
  }
  bump.compare_exchange_strong(known, found);
  return bump.load();
}

absl::StatusOr<std::optional<StoredEvent>> Rooms::CurrentStateEvent(std::string_view room_id,
                                                                    std::string_view type,
                                                                    std::string_view state_key) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::lock_guard lock(room->mu);
  const StateKey key{std::string(type), std::string(state_key)};
  auto it = room->state.find(key);
  if (it == room->state.end()) return std::nullopt;
  return StoredEvent{it->second, room->state_positions[key]};
}

absl::StatusOr<std::vector<StoredEvent>> Rooms::CurrentStateWhere(
    std::string_view room_id,
    absl::FunctionRef<bool(std::string_view, std::string_view, uint64_t)> keep) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::lock_guard lock(room->mu);
  std::vector<StoredEvent> out;
  // `state` and `state_positions` have the same keys: walked in step, not looked up per entry.
  auto position = room->state_positions.begin();
  for (const auto& [key, pdu] : room->state) {
    if (keep(key.first, key.second, position->second)) {
      out.push_back(StoredEvent{pdu, position->second});
    }
    ++position;
  }
  return out;
}

absl::StatusOr<std::vector<StoredEvent>> Rooms::CurrentStateWhere(
    std::string_view room_id,
    absl::FunctionRef<bool(std::string_view, std::string_view, uint64_t)> keep,
    const std::set<std::string, std::less<>>& members) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::lock_guard lock(room->mu);
  const StateMap& state = room->state;
  std::vector<StoredEvent> out;
  auto offer = [&](StateMap::const_iterator it, uint64_t position) {
    if (keep(it->first.first, it->first.second, position)) {
      out.push_back(StoredEvent{it->second, position});
    }
  };
  const StateKey first_member("m.room.member", "");
  // The first key after the member events: every other type starting with "m.room.member" is
  // longer, so not below this one.
  const StateKey after_members(std::string("m.room.member\0", 14), "");
  auto position = room->state_positions.begin();
  const auto members_begin = state.lower_bound(first_member);
  for (auto it = state.begin(); it != members_begin; ++it, ++position) offer(it, position->second);
  for (const std::string& user : members) {
    StateKey key("m.room.member", user);
    if (auto it = state.find(key); it != state.end()) offer(it, room->state_positions[key]);
  }
  const auto members_end = state.lower_bound(after_members);
  position = room->state_positions.lower_bound(after_members);
  for (auto it = members_end; it != state.end(); ++it, ++position) offer(it, position->second);
  return out;
}

absl::StatusOr<std::vector<std::string>> Rooms::JoinedUserIds(std::string_view room_id) {
  return UserIdsWithMembership(room_id, "join");
}

absl::StatusOr<std::vector<std::string>> Rooms::UserIdsWithMembership(std::string_view room_id,
                                                                      std::string_view membership) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::lock_guard lock(room->mu);
  if (membership == "join")
    return std::vector<std::string>(room->joined.begin(), room->joined.end());
  if (membership == "invite") {
    return std::vector<std::string>(room->invited.begin(), room->invited.end());
  }
  std::vector<std::string> out;
  for (auto it = room->state.lower_bound(StateKey("m.room.member", ""));
       it != room->state.end() && it->first.first == "m.room.member"; ++it) {
    const auto* content = it->second.if_contains("content");
    const boost::json::object* object = content == nullptr ? nullptr : content->if_object();
    if (object != nullptr && StringField(*object, "membership") == membership) {
      out.push_back(it->first.second);
    }
  }
  return out;
}

absl::Status Rooms::ForEachJoined(std::string_view room_id,
                                  absl::FunctionRef<void(const std::string&)> visit) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::lock_guard lock(room->mu);
  for (const std::string& user : room->joined) visit(user);
  return absl::OkStatus();
}

absl::StatusOr<Rooms::MemberSummary> Rooms::Members(std::string_view room_id,
                                                    std::string_view except, size_t max_heroes) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::lock_guard lock(room->mu);
  MemberSummary summary{.joined_count = room->joined.size(), .invited_count = room->invited.size()};
  // sync.yaml, m.heroes: joined or invited members; joined ones first.
  for (const auto* users : {&room->joined, &room->invited}) {
    for (const std::string& user : *users) {
      if (summary.heroes.size() >= max_heroes) break;
      if (user != except) summary.heroes.push_back(user);
    }
  }
  return summary;
}

absl::StatusOr<MessagesPage> Rooms::Messages(const Session& session, std::string_view room_id,
                                             std::string_view from, std::string_view to, char dir,
                                             size_t limit, const RoomEventFilter& filter) {
  if (dir != 'b' && dir != 'f') return InvalidParam("'dir' must be b or f");
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  CONCLAVE_ASSIGN_OR_RETURN(uint64_t visible, VisibleUpTo(session.user_id, *room));
  const uint64_t latest = std::min(room->latest_position.load(), visible);
  uint64_t start;
  if (from.empty()) {
    start = dir == 'b' ? latest : 0;
  } else {
    CONCLAVE_ASSIGN_OR_RETURN(start, ParsePositionToken(from));
  }
  std::optional<uint64_t> stop;
  if (!to.empty()) {
    CONCLAVE_ASSIGN_OR_RETURN(stop, ParsePositionToken(to));
  }
  limit = std::clamp<size_t>(limit, 1, 1000);

  MessagesPage page;
  page.start = PositionToken(start);
  Store& store = deps_.store;
  auto it = store.db->NewIterator(*store.timeline, RoomIteration(room_id));
  uint64_t last = start;
  bool exhausted = true;
  if (dir == 'b') {
    it->SeekForPrev(TimelineKey(room_id, std::min(start, latest)));
  } else {
    it->Seek(TimelineKey(room_id, start + 1));
  }
  for (; it->Valid(); dir == 'b' ? it->Prev() : it->Next()) {
    CONCLAVE_ASSIGN_OR_RETURN(uint64_t position, PositionOfTimelineKey(it->key()));
    if (dir == 'f' && (position > latest || (stop && position > *stop))) break;
    if (dir == 'b' && stop && position <= *stop) break;
    if (page.chunk.size() == limit) {
      exhausted = false;
      break;
    }
    last = dir == 'b' ? position - 1 : position;
    CONCLAVE_ASSIGN_OR_RETURN(auto pdu, ParseObject(it->value()));
    if (!Matches(filter, pdu)) continue;
    CONCLAVE_ASSIGN_OR_RETURN(bool related,
                              MatchesRelatedFilter(deps_.store, room_id, pdu, filter));
    if (!related) continue;
    page.chunk.push_back(StoredEvent{std::move(pdu), position});
  }
  CONCLAVE_RETURN_IF_ERROR(it->status());
  if (!exhausted) page.end = PositionToken(last);
  CONCLAVE_RETURN_IF_ERROR(KeepVisible(session.user_id, room_id, page.chunk));
  CONCLAVE_RETURN_IF_ERROR(Bundle(session.user_id, room_id, page.chunk));

  if (filter.lazy_load_members.value_or(false)) {
    std::set<std::string> senders;
    for (const auto& e : page.chunk) senders.emplace(StringField(e.pdu, "sender"));
    std::lock_guard lock(room->mu);
    for (const auto& sender : senders) {
      StateKey key("m.room.member", sender);
      auto found = room->state.find(key);
      if (found != room->state.end()) {
        page.state.push_back(StoredEvent{found->second, room->state_positions[key]});
      }
    }
  }
  return page;
}

absl::StatusOr<EventContext> Rooms::Context(const Session& session, std::string_view room_id,
                                            std::string_view event_id, size_t limit,
                                            const RoomEventFilter& filter) {
  EventContext out;
  CONCLAVE_ASSIGN_OR_RETURN(out.event, Event(session, room_id, event_id));
  const uint64_t position = out.event.position;
  limit = std::min<size_t>(limit, 1000);
  const size_t before_limit = limit / 2;
  const size_t after_limit = limit - before_limit;
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  CONCLAVE_ASSIGN_OR_RETURN(uint64_t visible, VisibleUpTo(session.user_id, *room));

  uint64_t start = position - 1;
  if (before_limit > 0 && position > 1) {
    CONCLAVE_ASSIGN_OR_RETURN(
        MessagesPage page,
        Messages(session, room_id, PositionToken(position - 1), "", 'b', before_limit, filter));
    if (!page.chunk.empty()) start = page.chunk.back().position - 1;
    out.events_before = std::move(page.chunk);
  }
  uint64_t end = position;
  if (after_limit > 0 && position < std::min(room->latest_position.load(), visible)) {
    CONCLAVE_ASSIGN_OR_RETURN(MessagesPage page, Messages(session, room_id, PositionToken(position),
                                                          "", 'f', after_limit, filter));
    if (!page.chunk.empty()) end = page.chunk.back().position;
    out.events_after = std::move(page.chunk);
  }
  out.start = PositionToken(start);
  out.end = PositionToken(end);
  // rooms.yaml (event_context.yaml), `state`: "The state of the room at the last event
  // returned".
  CONCLAVE_ASSIGN_OR_RETURN(out.state, StateAt(room_id, end));
  if (filter.lazy_load_members.value_or(false)) {
    // "Lazy-loading room members": only the m.room.member events of the returned events'
    // senders (and the caller's own).
    std::set<std::string, std::less<>> senders{session.user_id};
    senders.emplace(StringField(out.event.pdu, "sender"));
    for (const auto* chunk : {&out.events_before, &out.events_after}) {
      for (const StoredEvent& e : *chunk) senders.emplace(StringField(e.pdu, "sender"));
    }
    std::erase_if(out.state, [&](const StoredEvent& e) {
      return StringField(e.pdu, "type") == "m.room.member" &&
             !senders.contains(StringField(e.pdu, "state_key"));
    });
  }
  return out;
}

absl::StatusOr<std::vector<UserRoom>> Rooms::UserRooms(std::string_view user_id) const {
  Store& store = deps_.store;
  std::vector<UserRoom> out;
  CONCLAVE_RETURN_IF_ERROR(ForEachRecord(
      *store.db, *store.user_rooms, RoomPrefix(user_id), 2, "membership",
      [&](std::vector<std::string>& key, boost::json::object& record) {
        out.push_back(UserRoom{std::move(key[1]), std::string(StringField(record, "membership")),
                               PositionField(record)});
        return true;
      }));
  return out;
}

absl::StatusOr<std::vector<std::string>> Rooms::JoinedRooms(std::string_view user_id) const {
  CONCLAVE_ASSIGN_OR_RETURN(auto rooms, UserRooms(user_id));
  std::vector<std::string> out;
  for (auto& r : rooms) {
    if (r.membership == "join") out.push_back(std::move(r.room_id));
  }
  return out;
}

absl::StatusOr<std::vector<JoinedMember>> Rooms::JoinedMembers(const Session& session,
                                                               std::string_view room_id) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::lock_guard lock(room->mu);
  if (MembershipOf(room->state, session.user_id) != "join") {
    return Forbidden("You are not joined to this room");
  }
  std::vector<JoinedMember> joined;
  for (auto it = room->state.lower_bound(StateKey("m.room.member", ""));
       it != room->state.end() && it->first.first == "m.room.member"; ++it) {
    const auto* content = FindStateContent(room->state, "m.room.member", it->first.second);
    if (content == nullptr || StringField(*content, "membership") != "join") continue;
    JoinedMember member{.user_id = it->first.second};
    if (const auto* d = content->if_contains("displayname"); d && d->is_string()) {
      member.display_name = std::string(d->get_string());
    }
    if (const auto* a = content->if_contains("avatar_url"); a && a->is_string()) {
      member.avatar_url = std::string(a->get_string());
    }
    joined.push_back(std::move(member));
  }
  return joined;
}

absl::StatusOr<std::vector<StoredEvent>> Rooms::Members(const Session& session,
                                                        std::string_view room_id,
                                                        std::string_view membership,
                                                        std::string_view not_membership,
                                                        std::optional<uint64_t> at) {
  std::vector<StoredEvent> state;
  if (at) {
    CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
    CONCLAVE_ASSIGN_OR_RETURN(uint64_t visible, VisibleUpTo(session.user_id, *room));
    CONCLAVE_ASSIGN_OR_RETURN(state, StateAt(room_id, std::min(*at, visible)));
  } else {
    CONCLAVE_ASSIGN_OR_RETURN(state, VisibleState(session.user_id, room_id));
  }
  std::vector<StoredEvent> out;
  for (StoredEvent& e : state) {
    if (StringField(e.pdu, "type") != "m.room.member") continue;
    const auto* content = e.pdu.if_contains("content");
    const std::string_view m = content != nullptr && content->is_object()
                                   ? StringField(content->get_object(), "membership")
                                   : std::string_view();
    const bool is = !membership.empty() && m == membership;
    const bool is_not = !not_membership.empty() && m != not_membership;
    if ((!membership.empty() || !not_membership.empty()) && !is && !is_not) continue;
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<boost::json::array> Rooms::StrippedState(std::string_view room_id) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::lock_guard lock(room->mu);
  boost::json::array out;
  // Client-Server API "Stripped state": these types, plus the invitee's (or knocker's) own
  // member event.
  for (const auto& [key, pdu] : room->state) {
    static constexpr std::string_view kTypes[] = {"m.room.create",     "m.room.name",
                                                  "m.room.avatar",     "m.room.topic",
                                                  "m.room.join_rules", "m.room.canonical_alias",
                                                  "m.room.encryption", "m.room.member"};
    if (std::find(std::begin(kTypes), std::end(kTypes), key.first) == std::end(kTypes)) continue;
    if (key.first == "m.room.member") {
      std::string_view m = MembershipOf(room->state, key.second);
      if (m != "invite" && m != "join" && m != "knock") continue;
    }
    boost::json::object stripped;
    for (const char* field : {"type", "state_key", "sender", "content"}) {
      if (const auto* v = pdu.if_contains(field)) stripped[field] = *v;
    }
    out.push_back(std::move(stripped));
  }
  return out;
}

}  // namespace conclave::service
