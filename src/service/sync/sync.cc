// Sync::Run: one /sync response (Client-Server API "Syncing", GET /sync).
#include "conclave/service/sync/sync.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <thread>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/clock.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/protocol/push_rules.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/rooms/typing.h"
#include "conclave/service/storage/stored_json.h"
#include "conclave/service/storage/stream.h"
#include "e2ee_sections.h"
#include "sections.h"

namespace conclave::service {

namespace {

using namespace sync_internal;  // NOLINT: the section builders (sections.h)

constexpr size_t kDefaultTimelineLimit = 10;

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

// Whether the response has nothing for the client (then a sync with time left waits).
bool IsEmpty(const SyncResponse& response) {
  // Key counts alone are not news: they are in every response.
  return response.join.empty() && response.invite.empty() && response.knock.empty() &&
         response.leave.empty() && response.account_data.empty() && response.presence.empty() &&
         response.to_device.empty() && response.device_lists.changed.empty() &&
         response.device_lists.left.empty();
}

}  // namespace

Sync::Sync(Deps deps) : deps_(deps) {}

void Sync::ExpireTyping() {
  // Typing notices time out lazily: expire them now so this sync reports the change, and wake
  // the other members' waiting syncs for it.
  for (const std::string& room_id : deps_.typing.Expire()) {
    if (auto members = deps_.rooms.JoinedUserIds(room_id); members.ok()) {
      deps_.notifier.Notify(*members);
    }
  }
}

// sync.yaml, `set_presence`: omitted, the user "is automatically marked as online"; `offline`,
// "not marked as being online" (left as it is, status_msg and all); `unavailable`, idle. A
// change keeps the user's status_msg.
std::string Sync::CurrentToken() const {
  return core::StrCat("s", deps_.stream.current(), "_", deps_.typing.serial());
}

absl::Status Sync::ApplyPresence(const std::string& user_id,
                                 const std::optional<std::string>& set_presence) {
  const std::string presence = set_presence.value_or("online");
  if (presence != "online" && presence != "offline" && presence != "unavailable") {
    return InvalidParam("'set_presence' must be online, offline or unavailable");
  }
  if (presence == "offline") return absl::OkStatus();
  auto current = deps_.accounts.GetPresence(user_id);
  if (current.ok() && current->presence == presence) return absl::OkStatus();
  return deps_.accounts.SetPresence(user_id, presence,
                                    current.ok() ? current->status_msg : std::nullopt);
}

absl::StatusOr<std::vector<UserRoom>> Sync::Memberships(const std::string& user_id,
                                                        uint64_t& upto) {
  // Every membership read must be at or before `upto`: a room whose row moved past it (a join, a
  // profile change) would be left out of this sync, and its events up to `upto` out of the next
  // one. A row past `upto` belongs to a commit in flight, which publishes its position right
  // after its write.
  std::vector<UserRoom> memberships;
  for (int attempt = 0;; ++attempt) {
    upto = deps_.stream.current();
    CONCLAVE_ASSIGN_OR_RETURN(memberships, deps_.rooms.UserRooms(user_id));
    if (attempt == 100 || std::all_of(memberships.begin(), memberships.end(),
                                      [&](const UserRoom& m) { return m.position <= upto; })) {
      return memberships;
    }
    std::this_thread::yield();
  }
}

absl::Status Sync::AddRooms(const SyncPass& pass, const std::vector<UserRoom>& memberships,
                            SyncResponse& response, sync_internal::CoMembers& co_members) {
  for (const UserRoom& membership : memberships) {
    if (!MatchesRoom(pass.request.filter.room, membership.room_id)) continue;
    if (membership.position > pass.upto) continue;  // still in flight after the retries: next time
    if (membership.membership == "join") {
      CONCLAVE_ASSIGN_OR_RETURN(auto room, JoinedRoom(pass, deps_, membership, co_members));
      if (room) response.join.push_back(*std::move(room));
    } else if (membership.membership == "invite") {
      CONCLAVE_ASSIGN_OR_RETURN(auto room, InvitedRoom(pass, deps_.rooms, membership));
      if (room) response.invite.push_back(*std::move(room));
    } else if (membership.membership == "knock") {
      // A knock shows the same stripped state an invite does (sync.yaml, KnockedRoom).
      CONCLAVE_ASSIGN_OR_RETURN(auto room, InvitedRoom(pass, deps_.rooms, membership));
      if (room) response.knock.push_back(*std::move(room));
    } else if (membership.membership == "leave" || membership.membership == "ban") {
      CONCLAVE_ASSIGN_OR_RETURN(auto room, LeftRoom(pass, deps_.rooms, membership));
      if (room) response.leave.push_back(*std::move(room));
    }
  }
  // Invites to rooms of other servers (Server-Server API "Inviting to a room"): this server has
  // no membership row for them, only the invite and its stripped state (room_federation.cc).
  CONCLAVE_ASSIGN_OR_RETURN(auto remote_invites, deps_.rooms.RemoteInvites(pass.session.user_id));
  for (Rooms::RemoteInvite& invite : remote_invites) {
    if (!MatchesRoom(pass.request.filter.room, invite.room_id)) continue;
    if (invite.position > pass.upto) continue;
    if (!pass.initial && invite.position <= pass.since.position) continue;
    if (std::any_of(memberships.begin(), memberships.end(),
                    [&](const UserRoom& m) { return m.room_id == invite.room_id; })) {
      continue;
    }
    response.invite.push_back(
        InvitedRoomSync{.room_id = invite.room_id, .invite_state = std::move(invite.invite_state)});
  }
  return absl::OkStatus();
}

absl::StatusOr<SyncResult> Sync::Run(const Session& session, const SyncRequest& request) {
  const std::string& user = session.user_id;
  ExpireTyping();
  // Read before looking (see core/notifier.h): anything committed after this wakes the wait.
  const uint64_t version = deps_.notifier.Version(user);
  const bool initial = request.since.empty();
  SinceToken since;
  if (!initial) {
    CONCLAVE_ASSIGN_OR_RETURN(since, ParseSince(request.since));
  }
  CONCLAVE_RETURN_IF_ERROR(ApplyPresence(user, request.set_presence));
  uint64_t upto = 0;
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<UserRoom> memberships, Memberships(user, upto));
  const uint64_t typing_now = deps_.typing.serial();
  const uint64_t after = initial ? 0 : since.position;
  const RoomFilter& room_filter = request.filter.room;
  CONCLAVE_ASSIGN_OR_RETURN(auto account_data, deps_.accounts.AccountDataSince(user, after));
  const SyncPass pass{.session = session,
                      .request = request,
                      .initial = initial,
                      .since = since,
                      .upto = upto,
                      .after = after,
                      .timeline_limit = room_filter.timeline.limit
                                            ? static_cast<size_t>(*room_filter.timeline.limit)
                                            : kDefaultTimelineLimit,
                      .lazy_members = room_filter.state.lazy_load_members.value_or(false),
                      .account_data = account_data};

  SyncResponse response;
  sync_internal::CoMembers co_members;
  CONCLAVE_RETURN_IF_ERROR(AddRooms(pass, memberships, response, co_members));
  response.account_data = GlobalAccountData(pass);
  response.presence = Presence(pass, deps_.accounts, std::move(co_members));

  CONCLAVE_RETURN_IF_ERROR(AddE2eeSections(pass, deps_.e2ee, memberships, response));

  SyncResult result;
  if (IsEmpty(response) && request.may_wait && !initial) {
    result.wait_key = user;
    result.wait_version = version;
    std::vector<std::string> joined_rooms;
    for (const UserRoom& m : memberships) {
      if (m.membership == "join") joined_rooms.push_back(m.room_id);
    }
    result.wake_by = deps_.typing.NextExpiry(joined_rooms);
    return result;
  }
  response.next_batch = core::StrCat("s", upto, "_", std::max(typing_now, since.typing));
  result.response = std::move(response);
  return result;
}

}  // namespace conclave::service
