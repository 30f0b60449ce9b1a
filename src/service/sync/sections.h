// Private to sync/: the builders of the sections of one /sync response (SyncResponse's fields),
// and what Sync::Run reads once for all of them.
#ifndef CONCLAVE_SERVICE_SYNC_SECTIONS_H_
#define CONCLAVE_SERVICE_SYNC_SECTIONS_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "conclave/service/accounts/accounts.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/sync/sync.h"

namespace conclave::service::sync_internal {

// A parsed `since` token: "s<stream position>_<typing serial>".
struct SinceToken {
  uint64_t position = 0;
  uint64_t typing = 0;
};

// What one /sync reads before building its sections. References valid for the call of Run.
struct SyncPass {
  const Session& session;
  const SyncRequest& request;
  bool initial = false;  // no `since`
  SinceToken since;
  uint64_t upto = 0;   // the stream position this response covers up to
  uint64_t after = 0;  // since.position, 0 on an initial sync
  size_t timeline_limit = 0;
  bool lazy_members = false;
  const std::vector<AccountDataEntry>& account_data;  // changed after `after`
};

// The users the syncing user shares a joined room with, for presence: all of them, and those
// the user started sharing a room with in this window (a room the user joined, members whose
// join is in the window).
struct CoMembers {
  std::set<std::string> all;
  std::set<std::string> newly_shared;
};

// rooms.join[room_id]: timeline, state, ephemeral (typing, receipts), account_data, unread
// counts and summary; nullopt when nothing changed in the room. Adds the room's joined members to
// `co_members`, whether the room has news or not.
absl::StatusOr<std::optional<JoinedRoomSync>> JoinedRoom(const SyncPass& pass,
                                                         const Sync::Deps& deps,
                                                         const UserRoom& membership,
                                                         CoMembers& co_members);
// rooms.invite[room_id]: the stripped state; nullopt when the invite is not new.
absl::StatusOr<std::optional<InvitedRoomSync>> InvitedRoom(const SyncPass& pass, Rooms& rooms,
                                                           const UserRoom& membership);
// rooms.leave[room_id]: the timeline up to the leave or ban; nullopt when not new (or, on an
// initial sync, unless the filter's include_leave asks).
absl::StatusOr<std::optional<LeftRoomSync>> LeftRoom(const SyncPass& pass, Rooms& rooms,
                                                     const UserRoom& membership);
// account_data.events: the global account data, plus the default push rules on an initial
// sync when the user stored none.
std::vector<AccountDataEvent> GlobalAccountData(const SyncPass& pass);
// presence.events: the presence of `co_members` and the user that changed in this window, and
// of users newly shared with, whenever they last set it.
std::vector<PresenceEvent> Presence(const SyncPass& pass, Accounts& accounts, CoMembers co_members);

}  // namespace conclave::service::sync_internal

#endif  // CONCLAVE_SERVICE_SYNC_SECTIONS_H_
