// Sync::Run: one /sync response (Client-Server API "Syncing", GET /sync).
#include "conclave/service/sync.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <thread>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/errors.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/identifiers.h"
#include "conclave/service/push_rules.h"
#include "conclave/service/rooms.h"
#include "conclave/service/typing.h"
#include "rooms_internal.h"

namespace conclave::service {

using namespace rooms_internal;  // NOLINT: private helpers of this subsystem

namespace {

constexpr size_t kDefaultTimelineLimit = 10;

struct SinceToken {
  uint64_t position = 0;
  uint64_t typing = 0;
};

absl::StatusOr<SinceToken> ParseSince(std::string_view token) {
  SinceToken out;
  auto bad = [&] { return InvalidParam(core::StrCat("Malformed since token '", token, "'")); };
  if (token.size() < 2 || token[0] != 's') return bad();
  size_t underscore = token.find('_');
  if (underscore == std::string_view::npos) return bad();
  std::string_view pos = token.substr(1, underscore - 1);
  std::string_view typing = token.substr(underscore + 1);
  auto r1 = std::from_chars(pos.data(), pos.data() + pos.size(), out.position);
  auto r2 = std::from_chars(typing.data(), typing.data() + typing.size(), out.typing);
  if (r1.ec != std::errc() || r1.ptr != pos.data() + pos.size() || r2.ec != std::errc() ||
      r2.ptr != typing.data() + typing.size()) {
    return bad();
  }
  return out;
}

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

boost::json::object Events(boost::json::array events) {
  return boost::json::object{{"events", std::move(events)}};
}

}  // namespace

Sync::Sync(Homeserver& hs) : hs_(hs) {}

absl::StatusOr<SyncResult> Sync::Run(const Session& session, const SyncRequest& request) {
  const std::string& user = session.user_id;
  // Typing notices time out lazily: expire them now so this sync reports the change, and wake
  // the other members' waiting syncs for it.
  for (const std::string& room_id : hs_.typing().Expire()) {
    if (auto members = hs_.rooms().JoinedUserIds(room_id); members.ok()) {
      hs_.notifier().Notify(*members);
    }
  }
  // Read before looking (see core/notifier.h): anything committed after this wakes the wait.
  const uint64_t version = hs_.notifier().Version(user);
  const bool initial = request.since.empty();
  SinceToken since;
  if (!initial) {
    CONCLAVE_ASSIGN_OR_RETURN(since, ParseSince(request.since));
  }
  if (request.set_presence) {
    const std::string& presence = *request.set_presence;
    if (presence != "online" && presence != "offline" && presence != "unavailable") {
      return InvalidParam("'set_presence' must be online, offline or unavailable");
    }
    auto current = hs_.accounts().GetPresence(user);
    if (!current.ok() || current->presence != presence) {
      CONCLAVE_RETURN_IF_ERROR(hs_.accounts().SetPresence(user, presence, std::nullopt));
    }
  }
  // Every membership read must be at or before `upto`: a room whose row moved past it (a join, a
  // profile change) would be left out of this sync, and its events up to `upto` out of the next
  // one. A row past `upto` belongs to a commit in flight, which publishes its position right
  // after its write.
  uint64_t upto = 0;
  std::vector<UserRoom> memberships;
  for (int attempt = 0;; ++attempt) {
    upto = hs_.stream().current();
    CONCLAVE_ASSIGN_OR_RETURN(memberships, hs_.rooms().UserRooms(user));
    if (attempt == 100 || std::all_of(memberships.begin(), memberships.end(),
                                      [&](const UserRoom& m) { return m.position <= upto; })) {
      break;
    }
    std::this_thread::yield();
  }
  const uint64_t typing_now = hs_.typing().serial();
  const uint64_t after = initial ? 0 : since.position;
  const Filter& filter = request.filter;
  const RoomFilter& room_filter = filter.room;
  const size_t timeline_limit = room_filter.timeline.limit
                                    ? static_cast<size_t>(*room_filter.timeline.limit)
                                    : kDefaultTimelineLimit;
  const bool lazy_members = room_filter.state.lazy_load_members.value_or(false);

  CONCLAVE_ASSIGN_OR_RETURN(auto account_data, hs_.accounts().AccountDataSince(user, after));
  Rooms& rooms = hs_.rooms();

  boost::json::object join, invite, leave;
  std::set<std::string> co_members;
  for (const UserRoom& membership : memberships) {
    const std::string& room_id = membership.room_id;
    if (!MatchesRoom(room_filter, room_id)) continue;
    if (membership.position > upto) continue;  // still in flight after the retries: next time
    if (membership.membership == "join") {
      bool newly_joined = !initial && membership.position > since.position;
      if (newly_joined) {
        CONCLAVE_ASSIGN_OR_RETURN(bool profile_change, JoinOverJoin(rooms, membership));
        newly_joined = !profile_change;
      }
      const bool full_state = initial || newly_joined || request.full_state;
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
          if (e.position > upto ||
              timeline_ids.contains(std::string(StringField(e.pdu, "event_id")))) {
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
      if (initial || hs_.typing().RoomSerial(room_id) > since.typing) {
        auto typing_users = hs_.typing().Users(room_id);
        if (!initial || !typing_users.empty()) {
          boost::json::array ids;
          for (auto& u : typing_users) ids.emplace_back(u);
          ephemeral.push_back(
              boost::json::object{{"type", "m.typing"},
                                  {"content", boost::json::object{{"user_ids", std::move(ids)}}}});
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
        continue;
      }
      boost::json::array timeline_events;
      for (const auto& e : timeline)
        timeline_events.push_back(Rooms::ClientEvent(e, &session, false));
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
      join[room_id] = std::move(room);
    } else if (membership.membership == "invite") {
      if (!initial && membership.position <= since.position) continue;
      CONCLAVE_ASSIGN_OR_RETURN(auto stripped, rooms.StrippedState(room_id));
      invite[room_id] = boost::json::object{{"invite_state", Events(std::move(stripped))}};
    } else if (membership.membership == "leave" || membership.membership == "ban") {
      if (initial ? !room_filter.include_leave.value_or(false)
                  : membership.position <= since.position) {
        continue;
      }
      bool limited = false;
      CONCLAVE_ASSIGN_OR_RETURN(auto timeline,
                                rooms.Timeline(room_id, after, membership.position, timeline_limit,
                                               room_filter.timeline, &limited));
      boost::json::array timeline_events;
      for (const auto& e : timeline)
        timeline_events.push_back(Rooms::ClientEvent(e, &session, false));
      const uint64_t first = timeline.empty() ? membership.position : timeline.front().position;
      leave[room_id] = boost::json::object{
          {"timeline", boost::json::object{{"events", std::move(timeline_events)},
                                           {"limited", limited},
                                           {"prev_batch", PositionToken(first - 1)}}},
          {"state", Events({})},
          {"account_data", Events({})}};
    }
  }

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

  boost::json::array presence;
  co_members.insert(user);
  for (const std::string& member : co_members) {
    auto state = hs_.accounts().GetPresence(member);
    if (!state.ok() || state->position <= after || state->position > upto) continue;
    boost::json::object content{
        {"presence", state->presence},
        {"last_active_ago", std::max<int64_t>(0, NowMs() - state->last_active_ts)}};
    if (state->status_msg) content["status_msg"] = *state->status_msg;
    boost::json::object event{{"type", "m.presence"}, {"sender", member}, {"content", content}};
    if (Matches(filter.presence, event)) presence.push_back(std::move(event));
  }

  const bool empty = join.empty() && invite.empty() && leave.empty() &&
                     global_account_data.empty() && presence.empty();
  SyncResult result;
  if (empty && request.may_wait && !initial) {
    result.wait_key = user;
    result.wait_version = version;
    std::vector<std::string> joined_rooms;
    for (const UserRoom& m : memberships) {
      if (m.membership == "join") joined_rooms.push_back(m.room_id);
    }
    result.wake_by = hs_.typing().NextExpiry(joined_rooms);
    return result;
  }
  boost::json::object body;
  body["next_batch"] = core::StrCat("s", upto, "_", std::max(typing_now, since.typing));
  body["rooms"] = boost::json::object{{"join", std::move(join)},
                                      {"invite", std::move(invite)},
                                      {"leave", std::move(leave)},
                                      {"knock", boost::json::object()}};
  body["account_data"] = Events(std::move(global_account_data));
  body["presence"] = Events(std::move(presence));
  body["to_device"] = Events({});
  body["device_lists"] =
      boost::json::object{{"changed", boost::json::array()}, {"left", boost::json::array()}};
  body["device_one_time_keys_count"] = boost::json::object();
  result.body = std::move(body);
  return result;
}

}  // namespace conclave::service
