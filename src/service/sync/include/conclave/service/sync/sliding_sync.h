// SlidingSync: what simplified sliding sync answers (MSC4186, `POST
// /_matrix/client/unstable/org.matrix.simplified_msc3575/sync`), as a typed SlidingSyncResponse;
// the api turns it into JSON (src/api/sliding_sync.cc) and parses the request into a
// SlidingSyncRequest.
//
// The wire format is the one clients speak today (matrix-js-sdk's SlidingSync, matrix-rust-sdk,
// Synapse): `ranges`, `required_state` as [type, state_key] pairs with `*`, `$LAZY` and `$ME`,
// `pos` and `timeout` in the query; the MSC's later spelling (`range`, `required_state`
// {include, exclude, lazy_members}, `pos`/`timeout` in the body, `is_invited`) is accepted too.
//
// A connection is (user, device, `conn_id`). Its state (which rooms were sent up to which stream
// position, with which room config, which lazy members) lives in memory, in a
// SlidingConnections owned by the Homeserver, and is handed over across reloads of the service
// module (Save/Restore); a restart forgets it, and the next request with an old `pos` gets 400
// M_UNKNOWN_POS, which makes clients start a new connection (the MSC's "expire"). A `pos` stays valid until a request with the next
// one arrives, so a retried request (the MSC: the client may cancel and resend) is answered
// again. Thread-safe. Owned by the Homeserver; must not outlive the service module.
#ifndef CONCLAVE_SERVICE_SYNC_SLIDING_SYNC_H_
#define CONCLAVE_SERVICE_SYNC_SLIDING_SYNC_H_

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "conclave/service/sync/sync.h"

namespace conclave::service {

namespace sync_internal {
class SlidingConnections;
}  // namespace sync_internal

// One required_state element: a type and a state key, each unset for "any" (`*`, or an omitted
// field in the MSC's later format). A state key of "$ME" means the syncing user; `$LAZY` is
// turned into RequiredState::lazy_members by the parser.
struct RequiredStateElement {
  std::optional<std::string> type{};
  std::optional<std::string> state_key{};
  bool operator==(const RequiredStateElement&) const = default;
};

// RequiredStateRequest (MSC4186): the state to send, minus `exclude`; with `lazy_members` the
// m.room.member events of the timeline's senders and targets (see "Lazy loaded memberships").
struct RequiredState {
  std::vector<RequiredStateElement> include{};
  std::vector<RequiredStateElement> exclude{};
  bool lazy_members = false;
  bool operator==(const RequiredState&) const = default;
};

// The "room config" of a list or a subscription.
struct SlidingRoomConfig {
  size_t timeline_limit = 0;  // capped at kMaxSlidingTimelineLimit
  RequiredState required_state{};
  bool operator==(const SlidingRoomConfig&) const = default;
};

// SlidingRoomFilter (MSC4186): each unset field matches every room.
struct SlidingRoomFilter {
  std::optional<bool> is_dm{};                       // in m.direct account data
  std::optional<bool> is_encrypted{};                // has m.room.encryption
  std::optional<bool> is_invite{};                   // the user is invited
  std::optional<std::vector<std::string>> spaces{};  // an m.space.child of a joined space
  // m.room.create `type`; nullopt in the list stands for rooms without one.
  std::optional<std::vector<std::optional<std::string>>> room_types{};
  std::optional<std::vector<std::optional<std::string>>> not_room_types{};
  std::optional<std::vector<std::string>> tags{};  // m.tag room account data
  std::optional<std::vector<std::string>> not_tags{};
};

// SyncListConfig: `ranges` index the filtered, recency-ordered room list (inclusive, 0-based);
// none means the whole list.
struct SlidingList {
  std::string name{};
  SlidingRoomConfig config{};
  std::vector<std::pair<uint64_t, uint64_t>> ranges{};
  bool all_rooms = false;  // no range given
  SlidingRoomFilter filters{};
};

// An extension's `lists`/`rooms` scope (MSC3960 and its siblings): unset means every list (every
// subscription); `*` in either means all.
struct SlidingExtensionScope {
  bool enabled = false;
  std::optional<std::vector<std::string>> lists{};
  std::optional<std::vector<std::string>> rooms{};
};

struct SlidingSyncRequest {
  std::string conn_id{};
  std::optional<std::string> pos{};  // unset: a new connection
  std::optional<std::string> set_presence{};
  bool may_wait = false;  // a `pos`, a timeout and time left
  std::vector<SlidingList> lists{};
  std::map<std::string, SlidingRoomConfig> room_subscriptions{};
  // Extensions: to_device (MSC3885), e2ee (MSC3884), account_data (MSC3959), receipts
  // (MSC3960), typing (MSC3961).
  bool to_device = false;
  std::optional<std::string> to_device_since{};
  size_t to_device_limit = 100;
  bool e2ee = false;
  SlidingExtensionScope account_data{};
  SlidingExtensionScope receipts{};
  SlidingExtensionScope typing{};
};

// A StrippedHero: a member the client may name the room after.
struct SlidingHero {
  std::string user_id{};
  std::optional<std::string> displayname{};
  std::optional<std::string> avatar_url{};
};

// RoomResult (MSC4186). Optional fields left unset are omitted (unchanged since the last
// response, or not applicable); `name`/`avatar` set to nullopt inside mean "removed" (JSON null).
struct SlidingRoom {
  std::string room_id{};
  bool initial = false;
  std::string membership{};          // join, invite, knock, leave, ban
  std::vector<std::string> lists{};  // the lists whose range holds the room
  std::optional<std::optional<std::string>> name{};
  std::optional<std::optional<std::string>> avatar{};
  std::optional<std::vector<SlidingHero>> heroes{};
  std::optional<bool> is_dm{};
  bool expanded_timeline = false;
  std::vector<StoredEvent> required_state{};
  std::vector<StoredEvent> timeline{};  // newest last
  std::optional<std::string> prev_batch{};
  bool limited = false;
  std::optional<size_t> num_live{};
  std::optional<uint64_t> bump_stamp{};
  std::optional<size_t> joined_count{};
  std::optional<size_t> invited_count{};
  std::optional<int64_t> notification_count{};
  std::optional<int64_t> highlight_count{};
  std::optional<boost::json::array> invite_state{};  // invites
  std::optional<boost::json::array> knock_state{};   // knocks
};

struct SlidingSyncResponse {
  std::string pos{};
  std::vector<std::pair<std::string, size_t>> list_counts{};  // list name → count, request order
  std::vector<SlidingRoom> rooms{};
  // Extensions; each unset unless the request enabled it.
  struct ToDevice {
    std::string next_batch{};
    std::vector<ToDeviceEvent> events{};
  };
  struct E2ee {
    std::optional<DeviceListChanges> device_lists{};  // incremental responses only
    std::map<std::string, int64_t> one_time_key_counts{};
    std::vector<std::string> unused_fallback_key_types{};
  };
  struct AccountData {
    std::vector<AccountDataEvent> global{};
    std::map<std::string, std::vector<AccountDataEvent>> rooms{};
  };
  std::optional<ToDevice> to_device{};
  std::optional<E2ee> e2ee{};
  std::optional<AccountData> account_data{};
  std::optional<std::map<std::string, boost::json::object>> receipts{};  // room → m.receipt content
  std::optional<std::map<std::string, std::vector<std::string>>> typing{};  // room → user ids
};

struct SlidingSyncResult {
  // The response; empty when there is nothing new and `may_wait` was set: then wait on
  // notifier key `wait_key` at version `wait_version`, waking by `wake_by` if set.
  std::optional<SlidingSyncResponse> response{};
  std::string wait_key{};
  uint64_t wait_version = 0;
  std::optional<absl::Time> wake_by{};
};

// The largest timeline_limit honoured; a larger one is capped.
inline constexpr size_t kMaxSlidingTimelineLimit = 100;
// At most this many lists per request (MSC4186: "Max lists: 100").
inline constexpr size_t kMaxSlidingLists = 100;

class SlidingSync {
 public:
  // `deps` as Sync's; `sync` lends its presence handling. Every reference must outlive this.
  SlidingSync(Sync::Deps deps, Sync& sync);
  ~SlidingSync();

  // One response. M_UNKNOWN_POS (400) for a `pos` this connection did not issue or has
  // dropped; M_INVALID_PARAM for a bad `set_presence`. Database errors.
  absl::StatusOr<SlidingSyncResult> Run(const Session& session, const SlidingSyncRequest& request);

  // The connections' state as text, for the service module's reload hand-over
  // (Homeserver::Save), and back (Homeserver::Open): a reload keeps every `pos` valid.
  std::string Save() const;
  void Restore(std::string_view saved);

 private:
  Sync::Deps deps_;
  Sync& sync_;
  std::unique_ptr<sync_internal::SlidingConnections> connections_;
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_SYNC_SLIDING_SYNC_H_
