// The sections of one /sync response (Client-Server API "Syncing", GET /sync): one builder per
// section, called by Sync::Run (sync.cc) with what it read once for the whole response.
#include "sections.h"

#include <algorithm>
#include <set>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/clock.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/protocol/push_rules.h"
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

}  // namespace

boost::json::object Events(boost::json::array events) {
  return boost::json::object{{"events", std::move(events)}};
}

absl::StatusOr<std::optional<boost::json::object>> JoinedRoom(const SyncPass& pass,
                                                              const Sync::Deps& deps,
                                                              const UserRoom& membership,
                                                              std::set<std::string>& co_members) {
  const Session& session = pass.session;
  const std::string& user = session.user_id;
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
  }
  const uint64_t first_position = timeline.empty() ? upto + 1 : timeline.front().position;
  std::set<std::string> timeline_ids, senders;
  for (const auto& e : timeline) {
    timeline_ids.emplace(StringField(e.pdu, "event_id"));
    senders.emplace(StringField(e.pdu, "sender"));
  }
  senders.insert(user);

  boost::json::array state;
  if (full_state || limited) {
    CONCLAVE_ASSIGN_OR_RETURN(auto current, rooms.CurrentState(room_id));
    for (const auto& e : current) {
      if (e.position > upto || timeline_ids.contains(std::string(StringField(e.pdu, "event_id")))) {
        continue;
      }
      if (!full_state && (e.position <= since.position || e.position >= first_position)) {
        continue;
      }
      if (!Matches(room_filter.state, e.pdu)) continue;
      if (lazy_members && StringField(e.pdu, "type") == "m.room.member" &&
          !senders.contains(std::string(StringField(e.pdu, "state_key")))) {
        continue;
      }
      state.push_back(Rooms::ClientEvent(e, &session, false));
    }
  }

  boost::json::array ephemeral;
  if (initial || deps.typing.RoomSerial(room_id) > since.typing) {
    auto typing_users = deps.typing.Users(room_id);
    if (!initial || !typing_users.empty()) {
      boost::json::array ids;
      for (auto& u : typing_users) ids.emplace_back(u);
      ephemeral.push_back(boost::json::object{
          {"type", "m.typing"}, {"content", boost::json::object{{"user_ids", std::move(ids)}}}});
    }
  }
  CONCLAVE_ASSIGN_OR_RETURN(auto receipts, rooms.ReceiptsSince(room_id, after, user));
  if (!receipts.empty()) {
    ephemeral.push_back(
        boost::json::object{{"type", "m.receipt"}, {"content", std::move(receipts)}});
  }

  boost::json::array room_account_data;
  for (const auto& entry : account_data) {
    if (entry.room_id != room_id) continue;
    room_account_data.push_back(
        boost::json::object{{"type", entry.type}, {"content", entry.content}});
  }

  if (!full_state && timeline.empty() && state.empty() && ephemeral.empty() &&
      room_account_data.empty()) {
    return std::nullopt;
  }
  boost::json::array timeline_events;
  for (const auto& e : timeline) timeline_events.push_back(Rooms::ClientEvent(e, &session, false));
  boost::json::object room;
  room["timeline"] = boost::json::object{
      {"events", std::move(timeline_events)},
      {"limited", limited},
      {"prev_batch", PositionToken(timeline.empty() ? upto : first_position - 1)}};
  room["state"] = Events(std::move(state));
  room["ephemeral"] = Events(std::move(ephemeral));
  room["account_data"] = Events(std::move(room_account_data));
  CONCLAVE_ASSIGN_OR_RETURN(int64_t unread, rooms.UnreadCount(room_id, user));
  room["unread_notifications"] =
      boost::json::object{{"notification_count", unread}, {"highlight_count", 0}};
  CONCLAVE_ASSIGN_OR_RETURN(auto joined_users, rooms.JoinedUserIds(room_id));
  boost::json::array heroes;
  for (const auto& u : joined_users) {
    if (u != user && heroes.size() < 5) heroes.emplace_back(u);
    co_members.insert(u);
  }
  room["summary"] = boost::json::object{{"m.joined_member_count", joined_users.size()},
                                        {"m.heroes", std::move(heroes)}};
  return room;
}

absl::StatusOr<std::optional<boost::json::object>> InvitedRoom(const SyncPass& pass, Rooms& rooms,
                                                               const UserRoom& membership) {
  const bool initial = pass.initial;
  const SinceToken& since = pass.since;
  const std::string& room_id = membership.room_id;
  if (!initial && membership.position <= since.position) return std::nullopt;
  CONCLAVE_ASSIGN_OR_RETURN(auto stripped, rooms.StrippedState(room_id));
  return boost::json::object{{"invite_state", Events(std::move(stripped))}};
}

absl::StatusOr<std::optional<boost::json::object>> LeftRoom(const SyncPass& pass, Rooms& rooms,
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
  boost::json::array timeline_events;
  for (const auto& e : timeline)
    timeline_events.push_back(Rooms::ClientEvent(e, &pass.session, false));
  const uint64_t first = timeline.empty() ? membership.position : timeline.front().position;
  return boost::json::object{
      {"timeline", boost::json::object{{"events", std::move(timeline_events)},
                                       {"limited", limited},
                                       {"prev_batch", PositionToken(first - 1)}}},
      {"state", Events({})},
      {"account_data", Events({})}};
}

boost::json::array GlobalAccountData(const SyncPass& pass) {
  const std::string& user = pass.session.user_id;
  const bool initial = pass.initial;
  const Filter& filter = pass.request.filter;
  const auto& account_data = pass.account_data;
  boost::json::array global_account_data;
  bool has_push_rules = false;
  for (const auto& entry : account_data) {
    if (!entry.room_id.empty()) continue;
    has_push_rules = has_push_rules || entry.type == "m.push_rules";
    boost::json::object event{{"type", entry.type}, {"content", entry.content}};
    if (Matches(filter.account_data, event)) global_account_data.push_back(std::move(event));
  }
  if (initial && !has_push_rules) {
    // Clients (Element among them) read the push rules from account data; ours are the spec's
    // defaults, which nobody can change yet.
    auto parsed = ParseUserId(user);
    boost::json::object event{
        {"type", "m.push_rules"},
        {"content", DefaultPushRules(user, parsed.ok() ? parsed->localpart : user)}};
    if (Matches(filter.account_data, event)) global_account_data.push_back(std::move(event));
  }
  return global_account_data;
}

boost::json::array Presence(const SyncPass& pass, Accounts& accounts,
                            std::set<std::string> co_members) {
  const std::string& user = pass.session.user_id;
  const uint64_t after = pass.after;
  const uint64_t upto = pass.upto;
  const Filter& filter = pass.request.filter;
  boost::json::array presence;
  co_members.insert(user);
  for (const std::string& member : co_members) {
    auto state = accounts.GetPresence(member);
    if (!state.ok() || state->position <= after || state->position > upto) continue;
    boost::json::object content{
        {"presence", state->presence},
        {"last_active_ago", std::max<int64_t>(0, NowMs() - state->last_active_ts)}};
    if (state->status_msg) content["status_msg"] = *state->status_msg;
    boost::json::object event{{"type", "m.presence"}, {"sender", member}, {"content", content}};
    if (Matches(filter.presence, event)) presence.push_back(std::move(event));
  }
  return presence;
}

}  // namespace conclave::service::sync_internal
