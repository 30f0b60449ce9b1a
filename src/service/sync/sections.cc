// The sections of one /sync response (Client-Server API "Syncing", GET /sync): one builder per
// section, called by Sync::Run (sync.cc) with what it read once for the whole response.
#include "sections.h"

#include <algorithm>
#include <set>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/clock.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/protocol/push_rule_set.h"
#include "conclave/service/push/notifications.h"
#include "conclave/service/push/push_rule_store.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/rooms/typing.h"
#include "conclave/service/storage/stored_json.h"
#include "conclave/service/storage/stream.h"

namespace conclave::service::sync_internal {
namespace {

// Whether the membership event at `membership.position` replaced a join (a displayname or avatar
// change): the user was already in the room, so the sync stays incremental.
absl::StatusOr<bool> JoinOverJoin(Rooms& rooms, const UserRoom& membership) {
  bool limited = false;
  CONCLAVE_ASSIGN_OR_RETURN(
      auto events, rooms.Timeline(membership.room_id, membership.position - 1, membership.position,
                                  1, RoomEventFilter(), &limited));
  if (events.empty()) return false;
  const auto* unsigned_data = events.front().pdu.if_contains("unsigned");
  const auto* prev = unsigned_data != nullptr && unsigned_data->is_object()
                         ? unsigned_data->get_object().if_contains("prev_content")
                         : nullptr;
  return prev != nullptr && prev->is_object() &&
         StringField(prev->get_object(), "membership") == "join";
}

// sync.yaml, LeftRoom `state`: "The state updates for the room up to the start of the
// timeline": the state at the timeline's start (at the leave when the timeline is empty) that the
// client has not seen. It saw everything up to `since` only if it was in the room then: when the
// user's membership before the leave is newer than `since` (joined and left within this batch),
// or on an initial sync, all of it.
absl::StatusOr<std::vector<StoredEvent>> LeftRoomState(const SyncPass& pass, Rooms& rooms,
                                                       const UserRoom& membership,
                                                       const std::vector<StoredEvent>& timeline) {
  const std::string& user = pass.session.user_id;
  const RoomFilter& room_filter = pass.request.filter.room;
  const uint64_t at = timeline.empty() ? membership.position : timeline.front().position - 1;
  CONCLAVE_ASSIGN_OR_RETURN(auto state, rooms.StateAt(membership.room_id, at));
  std::set<std::string> timeline_ids, senders{user};
  for (const auto& e : timeline) {
    timeline_ids.emplace(StringField(e.pdu, "event_id"));
    senders.emplace(StringField(e.pdu, "sender"));
  }
  bool seen_before = false;
  for (const auto& e : state) {
    if (StringField(e.pdu, "type") != "m.room.member" || StringField(e.pdu, "state_key") != user) {
      continue;
    }
    const auto* content = e.pdu.if_contains("content");
    seen_before = !pass.initial && e.position <= pass.since.position && content != nullptr &&
                  content->is_object() &&
                  StringField(content->get_object(), "membership") == "join";
  }
  std::vector<StoredEvent> out;
  for (auto& e : state) {
    if (seen_before && e.position <= pass.since.position) continue;
    if (timeline_ids.contains(std::string(StringField(e.pdu, "event_id")))) continue;
    if (!Matches(room_filter.state, e.pdu)) continue;
    if (pass.lazy_members && StringField(e.pdu, "type") == "m.room.member" &&
        !senders.contains(std::string(StringField(e.pdu, "state_key")))) {
      continue;
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::optional<JoinedRoomSync>> JoinedRoom(const SyncPass& pass,
                                                         const Sync::Deps& deps,
                                                         const UserRoom& membership,
                                                         CoMembers& co_members) {
  const std::string& user = pass.session.user_id;
  const bool initial = pass.initial;
  const SinceToken& since = pass.since;
  const uint64_t upto = pass.upto;
  const uint64_t after = pass.after;
  const RoomFilter& room_filter = pass.request.filter.room;
  const size_t timeline_limit = pass.timeline_limit;
  const bool lazy_members = pass.lazy_members;
  const auto& account_data = pass.account_data;
  const std::string& room_id = membership.room_id;
  Rooms& rooms = deps.rooms;
  bool newly_joined = !initial && membership.position > since.position;
  if (newly_joined) {
    CONCLAVE_ASSIGN_OR_RETURN(bool profile_change, JoinOverJoin(rooms, membership));
    newly_joined = !profile_change;
  }
  const bool full_state = initial || newly_joined || pass.request.full_state;
  const uint64_t timeline_after = (initial || newly_joined) ? 0 : since.position;
  bool limited = false;
  std::vector<StoredEvent> timeline;
  if (rooms.LatestPosition(room_id) > timeline_after) {
    CONCLAVE_ASSIGN_OR_RETURN(timeline,
                              rooms.Timeline(room_id, timeline_after, upto, timeline_limit,
                                             room_filter.timeline, &limited));
    CONCLAVE_RETURN_IF_ERROR(rooms.KeepVisible(user, room_id, timeline));
    // "Aggregations of child events": /sync bundles them when the timeline is `limited`; a
    // client that saw every event since its last sync aggregates the new children itself.
    if (limited) CONCLAVE_RETURN_IF_ERROR(rooms.Bundle(user, room_id, timeline));
  }
  const uint64_t first_position = timeline.empty() ? upto + 1 : timeline.front().position;
  std::set<std::string> timeline_ids;
  std::set<std::string, std::less<>> senders;
  for (const auto& e : timeline) {
    timeline_ids.emplace(StringField(e.pdu, "event_id"));
    senders.emplace(StringField(e.pdu, "sender"));
  }
  senders.insert(user);

  JoinedRoomSync room{.room_id = room_id};
  if (full_state || limited) {
    // Decided on (type, state_key, position) under the room's lock, so that only the events sent
    // are copied: with lazy-loaded members a large room costs its timeline's senders, not all its
    // members.
    auto keep = [&](std::string_view type, std::string_view state_key, uint64_t position) {
      if (position > upto) return false;
      const bool member = type == "m.room.member";
      const bool sender_member = member && senders.contains(state_key);
      // A gapped incremental sync with lazy-loaded members ("Lazy-loading room members") also
      // carries the members of the timeline's senders that changed before `since`: the client
      // may never have been sent them, since it was not sent the events in the gap.
      const bool lazy_gap_member = lazy_members && limited && sender_member;
      if (!full_state && !lazy_gap_member &&
          (position <= since.position || position >= first_position)) {
        return false;
      }
      return !(lazy_members && member && !sender_member);
    };
    // Lazy-loaded members: only the senders' member events are wanted, so only those are read.
    CONCLAVE_ASSIGN_OR_RETURN(auto current, lazy_members
                                                ? rooms.CurrentStateWhere(room_id, keep, senders)
                                                : rooms.CurrentStateWhere(room_id, keep));
    for (auto& e : current) {
      if (timeline_ids.contains(std::string(StringField(e.pdu, "event_id")))) continue;
      if (!Matches(room_filter.state, e.pdu)) continue;
      room.state.push_back(std::move(e));
    }
  }

  if (initial || deps.typing.RoomSerial(room_id) > since.typing) {
    auto typing_users = deps.typing.Users(room_id);
    if (!initial || !typing_users.empty()) {
      room.typing.emplace(typing_users.begin(), typing_users.end());
    }
  }
  CONCLAVE_ASSIGN_OR_RETURN(room.receipts, rooms.ReceiptsSince(room_id, after, user));
  for (const auto& entry : account_data) {
    if (entry.room_id == room_id) room.account_data.push_back({entry.type, entry.content});
  }

  // Presence concerns every room's members, news or not (sections.h, CoMembers).
  CONCLAVE_RETURN_IF_ERROR(rooms.ForEachJoined(room_id, [&](const std::string& u) {
    co_members.all.insert(u);
    if (newly_joined) co_members.newly_shared.insert(u);
  }));
  for (const auto& e : timeline) {
    if (StringField(e.pdu, "type") != "m.room.member") continue;
    const auto* content = e.pdu.if_contains("content");
    if (content != nullptr && content->is_object() &&
        StringField(content->get_object(), "membership") == "join") {
      co_members.newly_shared.emplace(StringField(e.pdu, "state_key"));
    }
  }

  if (!full_state && timeline.empty() && room.state.empty() && !room.typing &&
      room.receipts.empty() && room.account_data.empty()) {
    return std::nullopt;
  }
  room.timeline.prev_batch = PositionToken(timeline.empty() ? upto : first_position - 1);
  room.timeline.events = std::move(timeline);
  room.timeline.limited = limited;
  CONCLAVE_ASSIGN_OR_RETURN(RoomUnreadCounts counts, deps.notifications.Counts(user, room_id));
  if (pass.request.filter.room.timeline.unread_thread_notifications.value_or(false)) {
    room.notification_count = counts.main.notification_count;
    room.highlight_count = counts.main.highlight_count;
    room.thread_counts = std::move(counts.threads);
  } else {
    room.notification_count = counts.total.notification_count;
    room.highlight_count = counts.total.highlight_count;
  }
  CONCLAVE_ASSIGN_OR_RETURN(Rooms::MemberSummary members, rooms.Members(room_id, user, 5));
  room.joined_member_count = members.joined_count;
  room.invited_member_count = members.invited_count;
  room.heroes = std::move(members.heroes);
  return room;
}

absl::StatusOr<std::optional<InvitedRoomSync>> InvitedRoom(const SyncPass& pass, Rooms& rooms,
                                                           const UserRoom& membership) {
  const bool initial = pass.initial;
  const SinceToken& since = pass.since;
  const std::string& room_id = membership.room_id;
  if (!initial && membership.position <= since.position) return std::nullopt;
  if (membership.membership == "invite") {
    // "Ignoring Users": "Servers must not send room invites from ignored users to clients."
    CONCLAVE_ASSIGN_OR_RETURN(bool ignored, rooms.InvitedByIgnored(pass.session.user_id, room_id));
    if (ignored) return std::nullopt;
  }
  InvitedRoomSync room{.room_id = room_id};
  CONCLAVE_ASSIGN_OR_RETURN(room.invite_state, rooms.StrippedState(room_id));
  return room;
}

absl::StatusOr<std::optional<LeftRoomSync>> LeftRoom(const SyncPass& pass, Rooms& rooms,
                                                     const UserRoom& membership) {
  const RoomFilter& room_filter = pass.request.filter.room;
  const std::string& room_id = membership.room_id;
  if (pass.initial ? !room_filter.include_leave.value_or(false)
                   : membership.position <= pass.since.position) {
    return std::nullopt;
  }
  bool limited = false;
  CONCLAVE_ASSIGN_OR_RETURN(
      auto timeline, rooms.Timeline(room_id, pass.after, membership.position, pass.timeline_limit,
                                    room_filter.timeline, &limited));
  CONCLAVE_RETURN_IF_ERROR(rooms.KeepVisible(pass.session.user_id, room_id, timeline));
  if (limited) CONCLAVE_RETURN_IF_ERROR(rooms.Bundle(pass.session.user_id, room_id, timeline));
  const uint64_t first = timeline.empty() ? membership.position : timeline.front().position;
  CONCLAVE_ASSIGN_OR_RETURN(auto state, LeftRoomState(pass, rooms, membership, timeline));
  return LeftRoomSync{.room_id = room_id,
                      .timeline = {.events = std::move(timeline),
                                   .limited = limited,
                                   .prev_batch = PositionToken(first - 1)},
                      .state = std::move(state)};
}

std::vector<AccountDataEvent> GlobalAccountData(const SyncPass& pass) {
  const std::string& user = pass.session.user_id;
  const bool initial = pass.initial;
  const Filter& filter = pass.request.filter;
  const auto& account_data = pass.account_data;
  std::vector<AccountDataEvent> global_account_data;
  // The filter sees the event as clients will (its sender may be the content's user_id).
  auto add = [&](std::string type, boost::json::object content) {
    boost::json::object event{{"type", type}, {"content", std::move(content)}};
    if (Matches(filter.account_data, event)) {
      global_account_data.push_back({std::move(type), std::move(event["content"].as_object())});
    }
  };
  bool has_push_rules = false;
  for (const auto& entry : account_data) {
    if (!entry.room_id.empty()) continue;
    if (entry.type == kPushRulesType) {
      // Stored as the user's changes (push_rule_set.h); clients get the whole ruleset.
      has_push_rules = true;
      add(entry.type, UserPushRuleSet(user, &entry.content));
      continue;
    }
    add(entry.type, entry.content);
  }
  // Clients (Element among them) read the push rules from account data: an initial sync always
  // has them, changed or not.
  if (initial && !has_push_rules) add(std::string(kPushRulesType), UserPushRuleSet(user, nullptr));
  return global_account_data;
}

std::vector<PresenceEvent> Presence(const SyncPass& pass, Accounts& accounts,
                                    CoMembers co_members) {
  const std::string& user = pass.session.user_id;
  const uint64_t after = pass.after;
  const uint64_t upto = pass.upto;
  const Filter& filter = pass.request.filter;
  std::vector<PresenceEvent> presence;
  co_members.all.insert(user);
  co_members.newly_shared.erase(user);
  for (const std::string& member : co_members.all) {
    auto state = accounts.GetPresence(member);
    if (!state.ok() || state->position > upto) continue;
    // Changed in the window, or newly shared with and set at some point (position 0: never).
    const bool news =
        co_members.newly_shared.contains(member) ? state->position > 0 : state->position > after;
    if (!news) continue;
    // The filter sees the event as clients will (presence's EventFilter: types, senders).
    if (!Matches(filter.presence,
                 boost::json::object{{"type", "m.presence"}, {"sender", member}})) {
      continue;
    }
    presence.push_back({.user_id = member,
                        .presence = state->presence,
                        .last_active_ago = std::max<int64_t>(0, NowMs() - state->last_active_ts),
                        .status_msg = state->status_msg});
  }
  return presence;
}

}  // namespace conclave::service::sync_internal
