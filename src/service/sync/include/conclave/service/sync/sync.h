// Sync: what GET /_matrix/client/v3/sync answers (Client-Server API "Syncing"), as a typed
// SyncResponse; the api turns it into the JSON body (src/api/sync_json.h).
//
// Tokens are `s<stream position>_<typing serial>`: the stream (stream.h) orders everything
// persistent, the typing serial (typing.h) the ephemeral typing notifications. A sync with
// nothing new and time left answers "wait on the user's notifier key": the api returns that to
// the HTTP engine, which parks the request (core/notifier.h) and dispatches it again. Thread-safe.
// Owned by the Homeserver; must not outlive the service module.
#ifndef CONCLAVE_SERVICE_SYNC_SYNC_H_
#define CONCLAVE_SERVICE_SYNC_SYNC_H_

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "conclave/core/notifier.h"
#include "conclave/service/accounts/accounts.h"
#include "conclave/service/e2ee/e2ee.h"
#include "conclave/service/protocol/filter.h"
#include "conclave/service/push/notifications.h"
#include "conclave/service/rooms/room_types.h"
#include "conclave/service/storage/stream.h"

namespace conclave::service {

class E2ee;
class Rooms;
class Typing;
namespace sync_internal {
struct SyncPass;
struct CoMembers;
}  // namespace sync_internal

struct SyncRequest {
  std::string since;  // empty: initial sync
  Filter filter;      // parsed inline filter or stored filter; default: {}
  bool full_state = false;
  std::optional<std::string> set_presence;  // online, offline, unavailable
  bool may_wait = false;                    // the client gave a timeout and time is left
};

// An account data event (global or of one room): its type and JSON content.
struct AccountDataEvent {
  std::string type{};
  boost::json::object content{};
};

// An m.presence event of the presence section.
struct PresenceEvent {
  std::string user_id{};        // the event's sender
  std::string presence{};       // online, offline, unavailable
  int64_t last_active_ago = 0;  // ms
  std::optional<std::string> status_msg{};
};

// A room's timeline in this window: newest last; `limited` when older events were left out;
// `prev_batch` the token to paginate back from.
struct SyncTimeline {
  std::vector<StoredEvent> events{};
  bool limited = false;
  std::string prev_batch{};
};

// rooms.join[room_id] (sync.yaml, JoinedRoom).
struct JoinedRoomSync {
  std::string room_id{};
  SyncTimeline timeline{};
  std::vector<StoredEvent> state{};  // state between `since` and the timeline's start
  // ephemeral: m.typing with these users (unset: no m.typing event), m.receipt with this
  // content (empty: none).
  std::optional<std::vector<std::string>> typing{};
  boost::json::object receipts{};
  std::vector<AccountDataEvent> account_data{};
  // unread_notifications, from push rules (notifications.h): the whole room's, or with the
  // filter's unread_thread_notifications the main timeline's, the threads' then being in
  // `thread_counts` (thread root event id → counts; only threads with unread notifications).
  int64_t notification_count = 0;
  int64_t highlight_count = 0;
  std::optional<std::map<std::string, UnreadCount>> thread_counts{};
  size_t joined_member_count = 0;   // summary
  size_t invited_member_count = 0;  // summary
  std::vector<std::string> heroes{};
};

// rooms.invite[room_id] (InvitedRoom): the stripped state events (JSON by nature).
struct InvitedRoomSync {
  std::string room_id{};
  boost::json::array invite_state{};
};

// rooms.leave[room_id] (LeftRoom): the timeline up to the leave or ban.
struct LeftRoomSync {
  std::string room_id{};
  SyncTimeline timeline{};
  std::vector<StoredEvent> state{};  // state up to the timeline's start the client has not seen
};

// A to_device.events entry (Client-Server API "Send-to-Device messaging", "Extensions to /sync").
struct ToDeviceEvent {
  std::string sender{};
  std::string type{};
  boost::json::object content{};
};

// One /sync response. Rooms are listed in the order of the user's memberships (by room id).
// New sections are fields next to these, filled by their builder in sync/sections.cc (or a file
// beside it) and turned into JSON by theirs in api/sync_json.cc.
struct SyncResponse {
  std::string next_batch{};
  std::vector<JoinedRoomSync> join{};
  std::vector<InvitedRoomSync> invite{};
  // rooms.knock (KnockedRoom): the same stripped state, sent as `knock_state`.
  std::vector<InvitedRoomSync> knock{};
  std::vector<LeftRoomSync> leave{};
  std::vector<AccountDataEvent> account_data{};  // global
  std::vector<PresenceEvent> presence{};
  // End-to-end encryption ("Extensions to /sync"; sync/e2ee_sections.cc).
  std::vector<ToDeviceEvent> to_device{};                // to_device.events, oldest first
  DeviceListChanges device_lists{};                      // incremental syncs only
  std::map<std::string, int64_t> one_time_key_counts{};  // device_one_time_keys_count
  std::vector<std::string> unused_fallback_key_types{};  // device_unused_fallback_key_types
};

struct SyncResult {
  // The response; empty when there is nothing new and `may_wait` was set: then wait on
  // notifier key `wait_key` at version `wait_version`.
  std::optional<SyncResponse> response;
  std::string wait_key;
  uint64_t wait_version = 0;
  // When waiting: wake by then even if nothing is notified (a typing notice runs out).
  std::optional<absl::Time> wake_by;
};

class Sync {
 public:
  // What Sync reads; every reference must outlive it.
  struct Deps {
    Stream& stream;
    core::Notifier& notifier;  // the version a waiting /sync parks on
    Accounts& accounts;        // account data and presence
    Rooms& rooms;
    Typing& typing;
    E2ee& e2ee;                    // to_device, device_lists, key counts
    Notifications& notifications;  // unread counts
  };
  explicit Sync(Deps deps);

  // M_INVALID_PARAM for a malformed `since` or `set_presence`.
  absl::StatusOr<SyncResult> Run(const Session& session, const SyncRequest& request);

  // The `next_batch` token of now: what a sync finishing at this moment would answer, for
  // streams that start from the present (the deprecated GET /events without `from`).
  std::string CurrentToken() const;

  // The user's memberships, all at or before the stream position stored in `upto` (the position
  // a response covers: a membership row past it belongs to a commit in flight). Database errors.
  absl::StatusOr<std::vector<UserRoom>> Memberships(const std::string& user_id, uint64_t& upto);
  // Expires typing notices that ran out and wakes the syncs of their rooms' members.
  void ExpireTyping();
  // Applies `set_presence` (sync.yaml: omitted marks online, `offline` changes nothing,
  // `unavailable` idle), for /sync and sliding sync alike. M_INVALID_PARAM for another value.
  absl::Status ApplyPresence(const std::string& user_id,
                             const std::optional<std::string>& set_presence);

 private:
  // The rooms.join/invite/leave sections; adds the joined rooms' members to `co_members`.
  absl::Status AddRooms(const sync_internal::SyncPass& pass,
                        const std::vector<UserRoom>& memberships, SyncResponse& response,
                        sync_internal::CoMembers& co_members);
  Deps deps_;
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_SYNC_SYNC_H_
