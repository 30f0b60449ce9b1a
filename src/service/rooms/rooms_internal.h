// Private to rooms/: the per-room cache behind Rooms and the draft of an event being committed.
#ifndef CONCLAVE_SERVICE_ROOMS_INTERNAL_H_
#define CONCLAVE_SERVICE_ROOMS_INTERNAL_H_

#include <atomic>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "conclave/database/iterator.h"
#include "conclave/service/protocol/canonical_json.h"
#include "conclave/service/protocol/clock.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/event_hash.h"
#include "conclave/service/protocol/room_versions.h"
#include "conclave/service/protocol/state_map.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/storage/relation_rows.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"
#include "conclave/service/storage/stream.h"

namespace conclave::service {

// The cached current state and tip of one room. `mu` serializes the events of the room and
// guards every field but `latest_position`, which readers may load without it.
struct Rooms::RoomData {
  std::mutex mu;
  std::string room_id;
  std::string room_version{kDefaultRoomVersion};
  StateMap state;
  std::map<StateKey, uint64_t> state_positions;
  std::string last_event_id;
  // Room versions with event_refs_with_hashes (v1-v2): the reference hash (unpadded base64) of
  // the event `last_event_id` names, for the next event's prev_events pair. Empty otherwise.
  std::string last_event_hash;
  int64_t depth = 0;
  std::atomic<uint64_t> latest_position{0};
  // Position of the newest event whose type IsBumpType (Rooms::BumpPosition); kUnknownPosition
  // until the first BumpPosition walks the timeline for it, so that loading a room stays free of
  // that walk.
  static constexpr uint64_t kUnknownPosition = UINT64_MAX;
  std::atomic<uint64_t> bump_position{kUnknownPosition};
  // The users whose current m.room.member says join, and invite, in user id order: derived from
  // `state` and kept in step with it (NoteMember after every change of a member event), so that
  // member lists and counts cost the members asked for, not a walk of every member event.
  std::set<std::string, std::less<>> joined;
  std::set<std::string, std::less<>> invited;

  // Updates `joined` and `invited` after `state[key]` changed; no-op unless key is a member's.
  void NoteMember(const StateKey& key) {
    if (key.first != "m.room.member") return;
    joined.erase(key.second);
    invited.erase(key.second);
    const std::string_view membership = MembershipOf(state, key.second);
    if (membership == "join") {
      joined.insert(key.second);
    } else if (membership == "invite") {
      invited.insert(key.second);
    }
  }
};

// An event about to be built by Rooms::Commit.
struct Rooms::Draft {
  std::string type{};
  std::optional<std::string> state_key{};
  std::string sender{};
  boost::json::object content{};
  std::optional<std::string> redacts{};        // m.room.redaction: the target's event id
  std::optional<StoredEvent> redact_target{};  // ... and the target itself
  std::string device_id{};                     // with txn_id: for idempotent sends
  std::string txn_id{};
};

// The schema's key encoders and the readers shared with storage, under the names rooms*.cc use.
namespace rooms_internal {

using ::conclave::service::HasFloat;
using ::conclave::service::NowMs;
using ::conclave::service::ParseObject;
using ::conclave::service::ParsePositionToken;
using ::conclave::service::PositionToken;
using ::conclave::service::StringField;
using schema::PairKey;
using schema::PositionOfTimelineKey;
using schema::RoomIteration;
using schema::RoomPrefix;
using schema::StateKeyOf;
using schema::TimelineKey;
using schema::TxnKey;

// Whether an event of `type` moves its room up a sliding sync room list (MSC4186 `bump_stamp`).
bool IsBumpType(std::string_view type);

// The event id a state event's `unsigned.replaces_state` names (the state event it replaced), or
// "" (the first of its type and state_key, or redacted by a build that dropped `unsigned`).
inline std::string_view ReplacesStateOf(const boost::json::object& pdu) {
  const auto* unsigned_data = pdu.if_contains("unsigned");
  if (unsigned_data == nullptr || !unsigned_data->is_object()) return {};
  return StringField(unsigned_data->get_object(), "replaces_state");
}

// Appends to `out` the `relations` rows whose key starts with `prefix` (schema::RelationPrefix),
// in key order, seeking `it` (an iterator over `relations`). kDataLoss for an undecodable row.
absl::Status ReadChildren(database::Iterator& it, std::string_view prefix,
                          std::vector<RelationRow>& out);
// The same with an iterator of its own.
absl::StatusOr<std::vector<RelationRow>> Children(const Store& store, std::string_view room_id,
                                                  std::string_view parent_id,
                                                  std::optional<std::string_view> rel_type);
// Whether `pdu` of `room_id` passes the filter's related_by_rel_types and related_by_senders
// (true when neither is set, without reading anything): it has a child of one of those
// rel_types, and a child from one of those senders. Database errors.
absl::StatusOr<bool> MatchesRelatedFilter(const Store& store, std::string_view room_id,
                                          const boost::json::object& pdu,
                                          const RoomEventFilter& filter);
// The event at stream `position` of `room_id`; M_NOT_FOUND if none.
absl::StatusOr<StoredEvent> ReadEventAt(const Store& store, std::string_view room_id,
                                        uint64_t position);
// The reference hash of a stored event as its v1/v2 prev_events and auth_events pairs carry it
// (unpadded base64); "" in versions without event_refs_with_hashes. Errors of ReferenceHash.
inline absl::StatusOr<std::string> EventReferenceHash(const boost::json::object& pdu,
                                                      const RoomVersion& version) {
  if (!version.event_refs_with_hashes) return std::string();
  absl::StatusOr<std::string> hash = ReferenceHash(pdu, version);
  if (!hash.ok()) return hash.status();
  return UnpaddedBase64(*hash);
}

// One prev_events / auth_events entry: the id (v3+), or [id, {"sha256": hash}] (v1-v2).
inline boost::json::value EventRef(const RoomVersion& version, std::string_view event_id,
                                   std::string_view hash) {
  if (!version.event_refs_with_hashes) return boost::json::string(event_id);
  return boost::json::array{boost::json::string(event_id),
                            boost::json::object{{"sha256", boost::json::string(hash)}}};
}

// An m.room.member content of `membership` for `user_id` with their displayname and avatar_url
// (when set): what joins, invites and knocks carry (Client-Server API "m.room.member").
inline boost::json::object MemberContent(const Accounts& accounts, std::string_view user_id,
                                         std::string_view membership) {
  boost::json::object content{{"membership", membership}};
  if (auto profile = accounts.GetProfile(user_id); profile.ok()) {
    if (profile->displayname) content["displayname"] = *profile->displayname;
    if (profile->avatar_url) content["avatar_url"] = *profile->avatar_url;
  }
  return content;
}

// The event id of a prev_events / auth_events entry in either shape ("" if neither).
inline std::string_view EventRefId(const boost::json::value& entry) {
  if (entry.is_string()) return entry.get_string();
  if (entry.is_array() && !entry.get_array().empty() && entry.get_array()[0].is_string()) {
    return entry.get_array()[0].get_string();
  }
  return {};
}

}  // namespace rooms_internal
}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_ROOMS_INTERNAL_H_
