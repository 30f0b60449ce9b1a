// Private to rooms/: the per-room cache behind Rooms and the draft of an event being committed.
#ifndef CONCLAVE_SERVICE_ROOMS_INTERNAL_H_
#define CONCLAVE_SERVICE_ROOMS_INTERNAL_H_

#include <atomic>
#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "conclave/database/iterator.h"
#include "conclave/service/protocol/canonical_json.h"
#include "conclave/service/protocol/clock.h"
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
  int64_t depth = 0;
  std::atomic<uint64_t> latest_position{0};
  // The last countable messages (m.room.message, m.room.encrypted) in stream order, for unread
  // counts: position and an index into `senders`. Loaded from `message_index` on first use, then
  // appended to by Commit; RocksDB's backward iteration over a memtable is a search per step,
  // too slow for every /sync. Unread counts stop at kMaxUnreadCounted, so only that many recent
  // entries are needed (AppendMessage trims the rest).
  static constexpr size_t kMaxUnreadCounted = 1000;
  bool messages_loaded = false;
  std::vector<std::pair<uint64_t, uint32_t>> messages;
  std::vector<std::string> senders;
  std::map<std::string, uint32_t, std::less<>> sender_ids;
  void AppendMessage(uint64_t position, std::string_view sender) {
    messages.emplace_back(position, SenderId(sender));
    if (messages.size() > 2 * kMaxUnreadCounted) {
      messages.erase(messages.begin(), messages.end() - kMaxUnreadCounted);
    }
  }
  uint32_t SenderId(std::string_view sender) {
    auto it = sender_ids.find(sender);
    if (it != sender_ids.end()) return it->second;
    senders.emplace_back(sender);
    return sender_ids[std::string(sender)] = static_cast<uint32_t>(senders.size() - 1);
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

}  // namespace rooms_internal
}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_ROOMS_INTERNAL_H_
