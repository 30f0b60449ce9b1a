// One room's result in simplified sliding sync (MSC4186 "Room results", RoomResult, "Changing
// room configs", "Lazy loaded memberships").
#include <algorithm>
#include <set>

#include "conclave/core/status_macros.h"
#include "conclave/service/push/notifications.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/storage/stored_json.h"
#include "conclave/service/storage/stream.h"
#include "sliding_internal.h"

namespace conclave::service::sync_internal {
namespace {

constexpr size_t kMaxHeroes = 5;

const boost::json::object* ContentOf(const boost::json::object& pdu) {
  const auto* content = pdu.if_contains("content");
  return content != nullptr && content->is_object() ? &content->get_object() : nullptr;
}

// A string field of an event's content; nullopt when absent or empty ("removed").
std::optional<std::string> ContentString(const boost::json::object& pdu, std::string_view key) {
  const auto* content = ContentOf(pdu);
  if (content == nullptr) return std::nullopt;
  std::string_view value = StringField(*content, key);
  if (value.empty()) return std::nullopt;
  return std::string(value);
}

// RoomResult `name` or `avatar` from state event `type`'s `key`: on an initial result its value
// when it has one; otherwise only when the event changed since `after` (null if removed).
absl::StatusOr<std::optional<std::optional<std::string>>> StateString(
    Rooms& rooms, const std::string& room_id, std::string_view type, std::string_view key,
    bool initial, uint64_t after, uint64_t upto, std::optional<std::string>* value) {
  CONCLAVE_ASSIGN_OR_RETURN(auto event, rooms.CurrentStateEvent(room_id, type, ""));
  if (event && event->position <= upto) *value = ContentString(event->pdu, key);
  if (initial) {
    if (*value) return std::optional<std::optional<std::string>>(*value);
    return std::nullopt;
  }
  if (event && event->position > after && event->position <= upto) {
    return std::optional<std::optional<std::string>>(*value);
  }
  return std::nullopt;
}

// StrippedHero entries: joined members first, then invited, then those who left (the /sync
// m.heroes order), the syncing user left out, at most kMaxHeroes.
absl::StatusOr<std::vector<SlidingHero>> Heroes(Rooms& rooms, const std::string& room_id,
                                                const std::string& user,
                                                const std::vector<std::string>& joined,
                                                const std::vector<std::string>& invited) {
  std::vector<std::string> ids;
  for (const auto* group : {&joined, &invited}) {
    for (const std::string& u : *group) {
      if (u != user && ids.size() < kMaxHeroes) ids.push_back(u);
    }
  }
  if (ids.size() < kMaxHeroes) {
    CONCLAVE_ASSIGN_OR_RETURN(auto left, rooms.UserIdsWithMembership(room_id, "leave"));
    for (const std::string& u : left) {
      if (u != user && ids.size() < kMaxHeroes) ids.push_back(u);
    }
  }
  std::vector<SlidingHero> heroes;
  for (std::string& id : ids) {
    CONCLAVE_ASSIGN_OR_RETURN(auto member, rooms.CurrentStateEvent(room_id, "m.room.member", id));
    SlidingHero hero{.user_id = std::move(id)};
    if (member) {
      hero.displayname = ContentString(member->pdu, "displayname");
      hero.avatar_url = ContentString(member->pdu, "avatar_url");
    }
    heroes.push_back(std::move(hero));
  }
  return heroes;
}

// The users whose m.room.member lazy loading sends: the timeline's senders and the targets of
// its membership events.
std::set<std::string> LazyTargets(const std::vector<StoredEvent>& timeline) {
  std::set<std::string> out;
  for (const StoredEvent& e : timeline) {
    out.emplace(StringField(e.pdu, "sender"));
    if (StringField(e.pdu, "type") == "m.room.member") out.emplace(StringField(e.pdu, "state_key"));
  }
  return out;
}

// What required_state sends of one room this time.
struct StateChoice {
  const CombinedConfig& config;
  const std::string& user;
  bool everything = false;  // initial, or the required_state config changed: all that matches
  bool limited = false;
  uint64_t after = 0;  // otherwise: what changed after this position
  const std::set<std::string>& lazy_targets;
  const std::set<std::string>& lazy_sent;  // members the connection has from lazy loading

  bool Wanted(std::string_view type, std::string_view state_key, uint64_t position) const {
    const bool changed = everything || position > after;
    for (const RequiredState& r : config.required_state) {
      if (changed && WantsState(r, type, state_key, user)) return true;
    }
    if (!config.lazy_members() || type != "m.room.member") return false;
    const std::string key(state_key);
    // The timeline's senders and targets the client was not sent; and on a gapless incremental
    // response every membership change since it ("Lazy loaded memberships", 1-3).
    if (lazy_targets.contains(key) &&
        (everything || limited || !lazy_sent.contains(key) || position > after)) {
      return true;
    }
    return !everything && !limited && position > after;
  }
};

absl::StatusOr<std::vector<StoredEvent>> RequiredStateEvents(Rooms& rooms,
                                                             const std::string& room_id,
                                                             const UserRoom& membership,
                                                             uint64_t upto,
                                                             const StateChoice& choice) {
  if (membership.membership == "join") {
    return rooms.CurrentStateWhere(
        room_id, [&](std::string_view type, std::string_view key, uint64_t position) {
          return position <= upto && choice.Wanted(type, key, position);
        });
  }
  // A former member sees the state at their leave or ban.
  CONCLAVE_ASSIGN_OR_RETURN(auto state, rooms.StateAt(room_id, membership.position));
  std::vector<StoredEvent> out;
  for (StoredEvent& e : state) {
    if (choice.Wanted(StringField(e.pdu, "type"), StringField(e.pdu, "state_key"), e.position)) {
      out.push_back(std::move(e));
    }
  }
  return out;
}

// Invites and knocks: the stripped state, once per invite or knock.
absl::StatusOr<std::optional<SlidingRoom>> StrippedRoom(Rooms& rooms, const SlidingPass& pass,
                                                        const WindowRoom& window,
                                                        const SentRoom* sent, SentRoom& next) {
  const UserRoom& m = window.room->membership;
  next.upto = pass.upto;
  next.membership = m.membership;
  next.config = window.config;
  next.bump_stamp = window.room->bump_stamp;
  if (sent != nullptr && sent->membership == m.membership && m.position <= sent->upto) {
    return std::nullopt;
  }
  SlidingRoom room{.room_id = m.room_id,
                   .initial = true,
                   .membership = m.membership,
                   .lists = window.lists,
                   .bump_stamp = window.room->bump_stamp};
  CONCLAVE_ASSIGN_OR_RETURN(auto stripped, rooms.StrippedState(m.room_id));
  if (m.membership == "invite") {
    room.invite_state = std::move(stripped);
  } else {
    room.knock_state = std::move(stripped);
  }
  return room;
}

}  // namespace

absl::StatusOr<std::optional<SlidingRoom>> BuildRoom(const Sync::Deps& deps,
                                                     const SlidingPass& pass,
                                                     const WindowRoom& window, const SentRoom* sent,
                                                     SentRoom& next) {
  Rooms& rooms = deps.rooms;
  const UserRoom& m = window.room->membership;
  if (m.membership == "invite" || m.membership == "knock") {
    return StrippedRoom(rooms, pass, window, sent, next);
  }
  const std::string& room_id = m.room_id;
  const std::string& user = pass.session.user_id;
  const CombinedConfig& config = window.config;
  // A former member reads up to their leave or ban.
  const uint64_t upto = m.membership == "join" ? pass.upto : std::min(pass.upto, m.position);
  // Coming from stripped state (an invite or knock that became a membership), the client
  // replaces what it had.
  const bool initial =
      sent == nullptr || sent->membership == "invite" || sent->membership == "knock";
  const uint64_t after = initial ? 0 : sent->upto;
  const bool state_config_changed =
      !initial && sent->config.required_state != config.required_state;
  const bool timeline_expanded = !initial && config.timeline_limit > sent->config.timeline_limit;
  const bool news = initial || state_config_changed || timeline_expanded ||
                    (rooms.LatestPosition(room_id) > after && upto > after) || m.position > after ||
                    window.room->bump_stamp != sent->bump_stamp ||
                    pass.dm_rooms.contains(room_id) != sent->is_dm;

  next = sent != nullptr && !initial ? *sent : SentRoom{};
  next.membership = m.membership;
  next.config = config;
  next.bump_stamp = window.room->bump_stamp;
  next.is_dm = pass.dm_rooms.contains(room_id);
  if (!news) return std::nullopt;
  next.upto = std::max(upto, after);

  SlidingRoom room{
      .room_id = room_id, .initial = initial, .membership = m.membership, .lists = window.lists};
  // Timeline: what is new since the connection's last look at the room, or, when the
  // timeline_limit grew, the latest events again ("Changes to timeline_limit").
  const uint64_t timeline_after = timeline_expanded ? 0 : after;
  bool limited = false;
  std::vector<StoredEvent> timeline;
  if (config.timeline_limit > 0 && upto > timeline_after) {
    CONCLAVE_ASSIGN_OR_RETURN(timeline,
                              rooms.Timeline(room_id, timeline_after, upto, config.timeline_limit,
                                             RoomEventFilter(), &limited));
    CONCLAVE_RETURN_IF_ERROR(rooms.KeepVisible(user, room_id, timeline));
    // "If limited is true then we include bundle aggregations for the event, as per /v3/sync".
    if (limited) CONCLAVE_RETURN_IF_ERROR(rooms.Bundle(user, room_id, timeline));
  }
  room.expanded_timeline =
      timeline_expanded && !timeline.empty() && timeline.front().position <= after;
  const uint64_t live_after = pass.previous != nullptr ? pass.previous->upto : UINT64_MAX;
  room.num_live = static_cast<size_t>(
      std::count_if(timeline.begin(), timeline.end(),
                    [&](const StoredEvent& e) { return e.position > live_after; }));
  room.limited = limited;
  room.prev_batch = PositionToken(timeline.empty() ? upto : timeline.front().position - 1);

  const std::set<std::string> lazy_targets = LazyTargets(timeline);
  const StateChoice choice{.config = config,
                           .user = user,
                           .everything = initial || state_config_changed,
                           .limited = limited,
                           .after = after,
                           .lazy_targets = lazy_targets,
                           .lazy_sent = next.lazy_members};
  CONCLAVE_ASSIGN_OR_RETURN(room.required_state,
                            RequiredStateEvents(rooms, room_id, m, upto, choice));
  // Clients flush their membership cache on a gap or a fresh start: what they have from lazy
  // loading is then what this response sends.
  if (choice.everything || limited) next.lazy_members.clear();
  if (config.lazy_members()) {
    for (const StoredEvent& e : room.required_state) {
      if (StringField(e.pdu, "type") == "m.room.member") {
        next.lazy_members.emplace(StringField(e.pdu, "state_key"));
      }
    }
  }
  room.timeline = std::move(timeline);

  std::optional<std::string> name, avatar;
  CONCLAVE_ASSIGN_OR_RETURN(
      room.name, StateString(rooms, room_id, "m.room.name", "name", initial, after, upto, &name));
  CONCLAVE_ASSIGN_OR_RETURN(room.avatar, StateString(rooms, room_id, "m.room.avatar", "url",
                                                     initial, after, upto, &avatar));
  CONCLAVE_ASSIGN_OR_RETURN(auto joined, rooms.UserIdsWithMembership(room_id, "join"));
  CONCLAVE_ASSIGN_OR_RETURN(auto invited, rooms.UserIdsWithMembership(room_id, "invite"));
  room.joined_count = joined.size();
  room.invited_count = invited.size();
  // "Heroes are only included if the room name is not set."
  if (!name) {
    CONCLAVE_ASSIGN_OR_RETURN(room.heroes, Heroes(rooms, room_id, user, joined, invited));
  }
  CONCLAVE_ASSIGN_OR_RETURN(RoomUnreadCounts counts, deps.notifications.Counts(user, room_id));
  room.notification_count = counts.total.notification_count;
  room.highlight_count = counts.total.highlight_count;
  if (initial || sent->bump_stamp != window.room->bump_stamp) {
    room.bump_stamp = window.room->bump_stamp;
  }
  // is_dm: "If absent in an initial sync the room is not a DM room. Must be included in an
  // incremental sync if the DM state changes."
  if (initial ? next.is_dm : next.is_dm != sent->is_dm) room.is_dm = next.is_dm;
  return room;
}

}  // namespace conclave::service::sync_internal
