// SlidingSync::Run: one simplified sliding sync response (MSC4186): the lists over the user's
// room list, the room subscriptions, each matched room's result, the extensions, long-polling.
#include "conclave/service/sync/sliding_sync.h"

#include <deque>

#include "conclave/core/status_macros.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/rooms/typing.h"
#include "sliding_connections.h"
#include "sliding_internal.h"

namespace conclave::service {

using namespace sync_internal;  // NOLINT: the parts of a response (sliding_internal.h)

namespace {

// The rooms of m.direct (Client-Server API "Direct Messaging": user id → room ids).
std::set<std::string> DirectRooms(Accounts& accounts, const std::string& user) {
  std::set<std::string> out;
  auto direct = accounts.GetAccountData(user, "", "m.direct");
  if (!direct.ok() || !*direct) return out;
  for (const auto& [unused, rooms] : **direct) {
    if (!rooms.is_array()) continue;
    for (const auto& room : rooms.get_array()) {
      if (room.is_string()) out.emplace(room.get_string());
    }
  }
  return out;
}

// Whether index `i` of a list is inside one of its ranges (inclusive).
bool InRanges(const SlidingList& list, size_t i) {
  if (list.all_rooms) return true;
  for (const auto& [first, last] : list.ranges) {
    if (i >= first && i <= last) return true;
  }
  return false;
}

void AddToWindow(WindowRoom& w, const ListedRoom& room, const SlidingRoomConfig& config,
                 const std::string* list) {
  w.room = &room;
  w.config.Add(config);
  if (list == nullptr) {
    w.subscribed = true;
  } else if (w.lists.empty() || w.lists.back() != *list) {
    w.lists.push_back(*list);
  }
}

}  // namespace

SlidingSync::SlidingSync(Sync::Deps deps, Sync& sync)
    : deps_(deps), sync_(sync), connections_(std::make_unique<SlidingConnections>()) {}

SlidingSync::~SlidingSync() = default;

std::string SlidingSync::Save() const { return connections_->Save(); }

void SlidingSync::Restore(std::string_view saved) { connections_->Restore(saved); }

absl::StatusOr<SlidingSyncResult> SlidingSync::Run(const Session& session,
                                                   const SlidingSyncRequest& request) {
  const std::string& user = session.user_id;
  sync_.ExpireTyping();
  // Read before looking (see core/notifier.h): anything committed after this wakes the wait.
  const uint64_t version = deps_.notifier.Version(user);
  std::shared_ptr<const ConnectionState> previous;
  if (request.pos) {
    previous = connections_->Resume(user, session.device_id, request.conn_id, *request.pos);
    if (previous == nullptr) {
      return MatrixStatus(Errcode::kUnknownPos,
                          "Unknown or expired 'pos' for this connection: start again without one");
    }
  }
  CONCLAVE_RETURN_IF_ERROR(sync_.ApplyPresence(user, request.set_presence));
  uint64_t upto = 0;
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<UserRoom> memberships, sync_.Memberships(user, upto));
  SlidingPass pass{.session = session,
                   .request = request,
                   .previous = previous.get(),
                   .upto = upto,
                   .typing = deps_.typing.serial(),
                   .dm_rooms = DirectRooms(deps_.accounts, user)};

  CONCLAVE_ASSIGN_OR_RETURN(std::vector<ListedRoom> listed,
                            ServerRoomList(deps_, pass, memberships));
  SlidingSyncResponse response;
  std::map<std::string, WindowRoom> window;
  ListFilter filter(deps_, pass);
  for (const SlidingList& list : request.lists) {
    size_t index = 0;
    for (const ListedRoom& room : listed) {
      CONCLAVE_ASSIGN_OR_RETURN(bool passes, filter.Passes(list.filters, room));
      if (!passes) continue;
      if (InRanges(list, index)) {
        AddToWindow(window[room.membership.room_id], room, list.config, &list.name);
      }
      ++index;
    }
    response.list_counts.emplace_back(list.name, index);
  }
  // Subscriptions: any room the user has a membership in ("Subscriptions": others are ignored).
  std::map<std::string, const ListedRoom*> by_id;
  for (const ListedRoom& room : listed) by_id.emplace(room.membership.room_id, &room);
  std::deque<ListedRoom> unlisted;  // subscribed rooms the server list leaves out
  for (const auto& [room_id, config] : request.room_subscriptions) {
    const ListedRoom* room = nullptr;
    if (auto it = by_id.find(room_id); it != by_id.end()) {
      room = it->second;
    } else {
      for (const UserRoom& m : memberships) {
        if (m.room_id == room_id && m.position <= upto) {
          room = &unlisted.emplace_back(ListedRoom{.membership = m, .bump_stamp = m.position});
          break;
        }
      }
    }
    if (room != nullptr) AddToWindow(window[room_id], *room, config, nullptr);
  }

  ConnectionState next_state = previous != nullptr ? *previous : ConnectionState{};
  next_state.upto = upto;
  next_state.typing = pass.typing;
  std::set<std::string> initial_rooms;
  for (const auto& [room_id, w] : window) {
    const SentRoom* sent = nullptr;
    if (previous != nullptr) {
      if (auto it = previous->rooms.find(room_id); it != previous->rooms.end()) sent = &it->second;
    }
    SentRoom next;
    CONCLAVE_ASSIGN_OR_RETURN(auto room, BuildRoom(deps_, pass, w, sent, next));
    next_state.rooms[room_id] = std::move(next);
    if (!room) continue;
    if (room->initial) initial_rooms.insert(room_id);
    response.rooms.push_back(*std::move(room));
  }
  CONCLAVE_RETURN_IF_ERROR(
      AddExtensions(deps_, pass, memberships, window, initial_rooms, response));

  std::map<std::string, size_t> counts(response.list_counts.begin(), response.list_counts.end());
  const bool news = previous == nullptr || !response.rooms.empty() ||
                    ExtensionsHaveNews(response) || counts != previous->list_counts;
  SlidingSyncResult result;
  if (!news && request.may_wait) {
    result.wait_key = user;
    result.wait_version = version;
    if (request.typing.enabled) {
      std::vector<std::string> joined;
      for (const auto& [room_id, w] : window) {
        if (w.room->membership.membership == "join") joined.push_back(room_id);
      }
      result.wake_by = deps_.typing.NextExpiry(joined);
    }
    return result;
  }
  next_state.list_counts = std::move(counts);
  response.pos = connections_->Store(user, session.device_id, request.conn_id, request.pos,
                                     std::move(next_state));
  result.response = std::move(response);
  return result;
}

}  // namespace conclave::service
